with

source as (
    select * from {{ source('raw', 'customs_entries') }}
),

renamed as (
    select
        -- ids
        {{ clean_string('entry_number') }} as customs_entry_number,
        {{ clean_string('shipment_id') }} as shipment_id,

        -- strings
        {{ clean_code('import_country') }} as import_country,
        {{ clean_string('broker_name') }} as broker_name,

        -- numerics (all in entry_currency)
        {{ parse_decimal('customs_value') }} as customs_value_amount,
        {{ parse_decimal('duty_amount') }} as duty_amount,
        {{ parse_decimal('import_tax_amount') }} as import_tax_amount,
        {{ parse_decimal('brokerage_amount') }} as brokerage_amount,
        {{ clean_code('currency') }} as entry_currency,

        -- booleans
        {{ parse_bool('is_tax_recoverable') }} as is_import_tax_recoverable,

        -- dates
        {{ parse_date('entry_date') }} as entry_date,
        {{ parse_date('release_date') }} as release_date,

        -- lineage
        _source_file,
        _row_number,
        _load_id,
        _loaded_at

    from source
),

deduped as (
    {{ dedupe_latest('renamed', 'customs_entry_number') }}
)

select * from deduped
