{#- Order lines with what finance needs at line grain: Incoterm, price, weight, the order's
    creation time and the units shipped so far (all shipments). -#}
with

order_lines as (
    select * from {{ ref('stg_oms__order_lines') }}
),

shipment_lines as (
    select * from {{ ref('stg_oms__shipment_lines') }}
),

shipped as (
    select
        order_id,
        line_number,
        sum(quantity_shipped) as quantity_shipped
    from shipment_lines
    group by order_id, line_number
),

orders as (
    select
        order_id,
        min(created_at) as order_created_at
    from order_lines
    group by order_id
),

priced as (
    select
        order_lines.order_line_id,
        order_lines.order_id,
        order_lines.line_number,
        order_lines.customer_id,
        order_lines.sku,
        order_lines.sales_channel,
        order_lines.incoterm,
        order_lines.quantity_ordered,
        coalesce(shipped.quantity_shipped, 0) as quantity_shipped,
        order_lines.weight_kg,
        order_lines.unit_price_amount,
        order_lines.unit_cost_amount,
        order_lines.unit_price_currency,
        orders.order_created_at
    from order_lines
    left join shipped
        on order_lines.order_id = shipped.order_id
        and order_lines.line_number = shipped.line_number
    left join orders
        on order_lines.order_id = orders.order_id
)

select * from priced
