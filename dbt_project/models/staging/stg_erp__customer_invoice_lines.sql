with

source as (
    select * from {{ source('raw', 'customer_invoice_lines') }}
),

renamed as (
    select
        -- ids
        {{ clean_string('document_number') }} as document_number,
        {{ parse_int('line_number') }} as line_number,
        {{ clean_string('related_document_number') }} as related_document_number,
        {{ clean_string('customer_id') }} as customer_id,
        {{ clean_string('order_id') }} as order_id,
        {{ clean_string('shipment_id') }} as shipment_id,

        -- strings
        {{ clean_code('document_type') }} as document_type,
        {{ clean_code('charge_type') }} as charge_type,

        -- numerics
        {{ parse_decimal('amount') }} as line_amount,
        {{ clean_code('currency') }} as line_currency,

        -- dates
        {{ parse_date('document_date') }} as document_date,
        {{ parse_date('due_date') }} as due_date,

        -- lineage
        _source_file,
        _row_number,
        _load_id,
        _loaded_at

    from source
),

deduped as (
    {{ dedupe_latest('renamed', ['document_number', 'line_number']) }}
),

keyed as (
    select
        {{ surrogate_key(['document_number', 'line_number']) }} as customer_invoice_line_id,
        deduped.*
    from deduped
)

select * from keyed
