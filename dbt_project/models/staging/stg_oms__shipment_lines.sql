with

source as (
    select * from {{ source('raw', 'shipments') }}
),

renamed as (
    select
        -- ids
        {{ clean_string('shipment_id') }} as shipment_id,
        {{ clean_string('order_id') }} as order_id,
        {{ parse_int('line_number') }} as line_number,
        {{ clean_code('carrier_code') }} as carrier_code,
        {{ clean_string('tracking_number') }} as tracking_number,

        -- strings
        {{ clean_code('mode') }} as transport_mode,
        {{ clean_code('service_level') }} as service_level,
        {{ clean_code('origin_locode') }} as origin_locode,
        {{ clean_code('destination_locode') }} as destination_locode,

        -- numerics
        {{ parse_int('quantity_shipped') }} as quantity_shipped,
        {{ parse_decimal('gross_weight_kg') }} as shipment_gross_weight_kg,
        {{ parse_decimal('quoted_cost') }} as quoted_cost_amount,
        {{ clean_code('quoted_currency') }} as quoted_cost_currency,

        -- timestamps
        {{ cast_utc_timestamp('planned_pickup_start') }} as planned_pickup_start_at,
        {{ cast_utc_timestamp('planned_pickup_end') }} as planned_pickup_end_at,
        {{ cast_utc_timestamp('planned_delivery_start') }} as planned_delivery_start_at,
        {{ cast_utc_timestamp('planned_delivery_end') }} as planned_delivery_end_at,
        {{ cast_utc_timestamp('shipped_at') }} as shipped_at,

        -- lineage
        _source_file,
        _row_number,
        _load_id,
        _loaded_at

    from source
),

deduped as (
    {{ dedupe_latest('renamed', ['shipment_id', 'order_id', 'line_number']) }}
),

keyed as (
    select
        {{ surrogate_key(['shipment_id', 'order_id', 'line_number']) }} as shipment_line_id,
        deduped.*
    from deduped
)

select * from keyed
