{#- Shipment lines linked to the order line they fulfil (order id + line number). Shipment lines
    whose order line we do not hold are dropped: they cannot count towards any order. -#}
with

shipment_lines as (
    select * from {{ ref('stg_oms__shipment_lines') }}
),

order_lines as (
    select * from {{ ref('stg_oms__order_lines') }}
),

joined as (
    select
        shipment_lines.shipment_line_id,
        order_lines.order_line_id,
        shipment_lines.shipment_id,
        shipment_lines.order_id,
        shipment_lines.line_number,
        shipment_lines.quantity_shipped,
        shipment_lines.shipped_at
    from shipment_lines
    inner join order_lines
        on shipment_lines.order_id = order_lines.order_id
        and shipment_lines.line_number = order_lines.line_number
)

select * from joined
