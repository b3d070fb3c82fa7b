{#- The shipment feed has one row per shipment x order line: the shipment-level attributes
    repeat on every line and are taken once here. -#}
with

shipment_lines as (
    select * from {{ ref('stg_oms__shipment_lines') }}
),

order_lines as (
    select * from {{ ref('stg_oms__order_lines') }}
),

locations as (
    select * from {{ ref('ref_locations') }}
),

orders_created as (
    select
        order_id,
        min(created_at) as order_created_at
    from order_lines
    group by order_id
),

aggregated as (
    select
        shipment_lines.shipment_id,
        max(shipment_lines.carrier_code) as carrier_code,
        max(shipment_lines.tracking_number) as tracking_number,
        max(shipment_lines.transport_mode) as transport_mode,
        max(shipment_lines.service_level) as service_level,
        max(shipment_lines.origin_locode) as origin_locode,
        max(shipment_lines.destination_locode) as destination_locode,
        count(*) as shipment_line_count,
        count(distinct shipment_lines.order_id) as order_count,
        sum(shipment_lines.quantity_shipped) as quantity_shipped,
        min(orders_created.order_created_at) as order_created_at,
        min(shipment_lines.planned_pickup_start_at) as planned_pickup_start_at,
        max(shipment_lines.planned_pickup_end_at) as planned_pickup_end_at,
        min(shipment_lines.planned_delivery_start_at) as planned_delivery_start_at,
        max(shipment_lines.planned_delivery_end_at) as planned_delivery_end_at
    from shipment_lines
    left join orders_created
        on shipment_lines.order_id = orders_created.order_id
    group by shipment_lines.shipment_id
),

located as (
    select
        aggregated.*,
        coalesce(origins.country, substr(aggregated.origin_locode, 1, 2)) as origin_country,
        coalesce(destinations.country, substr(aggregated.destination_locode, 1, 2))
            as destination_country
    from aggregated
    left join locations as origins
        on aggregated.origin_locode = origins.locode
    left join locations as destinations
        on aggregated.destination_locode = destinations.locode
)

select * from located
