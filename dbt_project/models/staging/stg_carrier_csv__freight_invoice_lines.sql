with

source as (
    select * from {{ source('raw', 'carrier_invoice_lines') }}
),

renamed as (
    select
        -- ids
        {{ clean_code('carrier_code') }} as carrier_code,
        {{ clean_string('invoice_number') }} as invoice_number,
        {{ parse_int('line_number') }} as line_number,
        {{ clean_string('shipment_id') }} as shipment_id,

        -- strings
        {{ clean_code('charge_code') }} as charge_code,
        {{ clean_string('charge_description') }} as charge_description,

        -- numerics
        {{ parse_decimal('quantity') }} as charge_quantity,
        {{ parse_decimal('amount') }} as charge_amount,
        {{ clean_code('currency') }} as charge_currency,

        -- dates
        {{ parse_date('invoice_date') }} as invoice_date,

        -- lineage
        _source_file,
        _row_number,
        _load_id,
        _loaded_at

    from source
),

deduped as (
    {{ dedupe_latest('renamed', ['carrier_code', 'invoice_number', 'line_number']) }}
),

keyed as (
    select
        {{ surrogate_key(['carrier_code', 'invoice_number', 'line_number']) }} as freight_invoice_line_id,
        deduped.*
    from deduped
)

select * from keyed
