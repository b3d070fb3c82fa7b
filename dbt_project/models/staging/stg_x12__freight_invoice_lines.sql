{#- X12 210: one row per L1 charge line. Header values (B3, C3) repeat on every line. -#}
with

source as (
    select * from {{ source('raw', 'x12_210_invoice_lines') }}
),

renamed as (
    select
        -- ids
        {{ clean_code('carrier_scac') }} as carrier_scac,
        {{ clean_string('invoice_number') }} as invoice_number,
        {{ parse_int('line_number') }} as line_number,
        {{ clean_string('shipment_id') }} as shipment_id,
        {{ clean_string('bill_of_lading') }} as bill_of_lading_number,
        {{ clean_string('interchange_control_number') }} as interchange_control_number,
        {{ clean_string('transaction_control_number') }} as transaction_control_number,

        -- strings
        {{ clean_code('payment_method') }} as payment_method_code,
        {{ clean_code('charge_code') }} as charge_code,
        {{ clean_code('rate_qualifier') }} as rate_qualifier,

        -- numerics
        {{ parse_decimal('rate', scale=6) }} as charge_rate,
        {{ parse_decimal('billed_weight_kg') }} as billed_weight_kg,
        {{ parse_decimal('charge_amount') }} as charge_amount,
        {{ parse_decimal('net_amount_due') }} as net_due_amount,
        {{ clean_code('currency') }} as invoice_currency,

        -- dates
        {{ parse_date8('invoice_date') }} as invoice_date,

        -- lineage
        _source_file,
        _row_number,
        _load_id,
        _loaded_at

    from source
),

deduped as (
    {{ dedupe_latest('renamed', ['carrier_scac', 'invoice_number', 'line_number']) }}
),

keyed as (
    select
        {{ surrogate_key(['carrier_scac', 'invoice_number', 'line_number']) }} as freight_invoice_line_id,
        deduped.*
    from deduped
)

select * from keyed
