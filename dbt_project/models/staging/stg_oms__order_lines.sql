with

source as (
    select * from {{ source('raw', 'orders') }}
),

renamed as (
    select
        -- ids
        {{ clean_string('order_id') }} as order_id,
        {{ parse_int('line_number') }} as line_number,
        {{ clean_string('customer_id') }} as customer_id,
        {{ clean_string('sku') }} as sku,

        -- strings
        {{ clean_code('channel') }} as sales_channel,
        {{ clean_code('incoterm') }} as incoterm,
        {{ clean_string('incoterm_place') }} as incoterm_place,
        {{ clean_code('origin_country') }} as origin_country,
        {{ clean_string('origin_postcode') }} as origin_postcode,
        {{ clean_code('origin_locode') }} as origin_locode,
        {{ clean_code('destination_country') }} as destination_country,
        {{ clean_string('destination_postcode') }} as destination_postcode,
        {{ clean_code('destination_locode') }} as destination_locode,

        -- numerics
        {{ parse_int('quantity') }} as quantity_ordered,
        {{ parse_decimal('unit_price') }} as unit_price_amount,
        {{ parse_decimal('unit_cost') }} as unit_cost_amount,
        {{ clean_code('currency') }} as unit_price_currency,
        {{ parse_decimal('weight_kg') }} as weight_kg,
        {{ parse_decimal('volume_m3', scale=6) }} as volume_m3,

        -- timestamps
        {{ cast_utc_timestamp('created_at') }} as created_at,
        {{ utc_offset_minutes('created_at') }} as created_utc_offset_minutes,
        {{ cast_utc_timestamp('promised_delivery_start') }} as promised_delivery_start_at,
        {{ cast_utc_timestamp('promised_delivery_end') }} as promised_delivery_end_at,

        -- lineage
        _source_file,
        _row_number,
        _load_id,
        _loaded_at

    from source
),

deduped as (
    {{ dedupe_latest('renamed', ['order_id', 'line_number']) }}
),

keyed as (
    select
        {{ surrogate_key(['order_id', 'line_number']) }} as order_line_id,
        deduped.*
    from deduped
)

select * from keyed
