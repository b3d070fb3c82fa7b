with

source as (
    select * from {{ source('raw', 'accessorial_tariffs') }}
),

renamed as (
    select
        -- ids
        {{ clean_code('carrier_code') }} as carrier_code,
        {{ clean_code('charge_code') }} as charge_code,

        -- strings
        {{ clean_string('charge_description') }} as charge_description,
        {{ clean_code('basis') }} as charge_basis,

        -- numerics
        {{ parse_decimal('amount') }} as charge_amount,
        {{ clean_code('currency') }} as charge_currency,
        {{ parse_decimal('free_time_hours') }} as free_time_hours,

        -- lineage
        _source_file,
        _row_number,
        _load_id,
        _loaded_at

    from source
),

deduped as (
    {{ dedupe_latest('renamed', ['carrier_code', 'charge_code']) }}
),

keyed as (
    select
        {{ surrogate_key(['carrier_code', 'charge_code']) }} as accessorial_tariff_id,
        deduped.*
    from deduped
)

select * from keyed
