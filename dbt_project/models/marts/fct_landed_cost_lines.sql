{#- Landed cost per order line (DESIGN.md section 5, docs/finance.md "Landed cost"): goods value
    (quantity shipped x unit_cost; x unit_price when the feed has no cost, is_goods_value_at_price)
    + the allocated costs the order's Incoterm (ref_incoterms) puts on us, components as
    columns, in the reporting currency (converted at the shipment's receipt date). Costs the
    buyer pays under the Incoterm are kept apart in buyer_paid_reporting_amount, so
    landed + buyer-paid = everything allocated. Order lines not shipped yet have zero costs. -#}
{%- set components = [
    ('FREIGHT', 'freight', 'seller_pays_main_freight'),
    ('INSURANCE', 'insurance', 'seller_pays_insurance'),
    ('DUTY', 'duty', 'seller_pays_import_duty'),
    ('IMPORT_TAX', 'import_tax', 'seller_pays_import_tax'),
    ('BROKERAGE', 'brokerage', 'seller_pays_brokerage'),
    ('HANDLING', 'handling', 'seller_pays_origin_handling'),
] -%}
{%- set reporting = var('reporting_currency') -%}

with

order_lines as (
    select * from {{ ref('int_order_lines_priced') }}
),

allocations as (
    select * from {{ ref('int_landed_costs_allocated') }}
),

incoterms as (
    select * from {{ ref('ref_incoterms') }}
),

shipped as (
    select
        order_id,
        line_number,
        count(distinct shipment_id) as shipment_count,
        max(receipt_date) as receipt_date,
        max(case when cost_component = 'FREIGHT' and is_estimated then 1 else 0 end) = 1
            as is_freight_estimated,
        {%- for component, name, flag in components %}
        sum(case when cost_component = '{{ component }}' then allocated_reporting_amount else 0 end)
            as {{ name }}_allocated_reporting_amount,
        {%- endfor %}
        sum(allocated_reporting_amount) as allocated_reporting_amount
    from allocations
    group by order_id, line_number
),

joined as (
    select
        order_lines.order_line_id,
        order_lines.order_id,
        order_lines.line_number,
        order_lines.customer_id,
        order_lines.sku,
        order_lines.incoterm,
        incoterms.incoterm is not null as is_known_incoterm,
        order_lines.quantity_ordered,
        order_lines.quantity_shipped,
        order_lines.weight_kg,
        order_lines.unit_price_currency as goods_currency,
        -- goods at cost (unit_cost), else at the selling price (flagged)
        cast(coalesce(order_lines.unit_cost_amount, order_lines.unit_price_amount)
            * order_lines.quantity_shipped as decimal(18, 2)) as goods_value_amount,
        order_lines.unit_cost_amount is null as is_goods_value_at_price,
        coalesce(shipped.receipt_date, cast(order_lines.order_created_at as date)) as fx_on_date,
        coalesce(shipped.shipment_count, 0) as shipment_count,
        coalesce(shipped.is_freight_estimated, false) as is_freight_estimated,
        {%- for component, name, flag in components %}
        coalesce(shipped.{{ name }}_allocated_reporting_amount, 0) as {{ name }}_allocated_reporting_amount,
        coalesce(incoterms.{{ flag }}, false) as {{ name }}_is_ours,
        {%- endfor %}
        coalesce(shipped.allocated_reporting_amount, 0) as allocated_reporting_amount
    from order_lines
    left join shipped
        on order_lines.order_id = shipped.order_id
        and order_lines.line_number = shipped.line_number
    left join incoterms
        on order_lines.incoterm = incoterms.incoterm
),

final as (
    select
        -- ids
        joined.order_line_id,
        joined.order_id,
        cast(joined.line_number as bigint) as line_number,
        joined.customer_id,
        joined.sku,

        -- strings
        joined.incoterm,
        joined.goods_currency,
        '{{ reporting }}' as reporting_currency,

        -- numerics
        cast(joined.quantity_ordered as bigint) as quantity_ordered,
        cast(joined.quantity_shipped as bigint) as quantity_shipped,
        cast(joined.weight_kg as decimal(18, 4)) as weight_kg,
        cast(joined.shipment_count as bigint) as shipment_count,
        joined.goods_value_amount,
        fx.rate_to_reporting as goods_fx_rate,
        fx.rate_date as goods_fx_rate_date,
        {{ to_reporting('fx', 'joined.goods_value_amount') }} as goods_value_reporting_amount,
        {%- for component, name, flag in components %}
        cast(case when joined.{{ name }}_is_ours then joined.{{ name }}_allocated_reporting_amount else 0 end
            as decimal(18, 2)) as {{ name }}_reporting_amount,
        {%- endfor %}
        cast(
            {%- for component, name, flag in components %}
            case when joined.{{ name }}_is_ours then 0 else joined.{{ name }}_allocated_reporting_amount end
            {%- if not loop.last %} +{% endif %}
            {%- endfor %}
        as decimal(18, 2)) as buyer_paid_reporting_amount,
        cast(joined.allocated_reporting_amount as decimal(18, 2)) as allocated_reporting_amount,
        cast(
            {{ to_reporting('fx', 'joined.goods_value_amount') }}
            {%- for component, name, flag in components %}
            + case when joined.{{ name }}_is_ours then joined.{{ name }}_allocated_reporting_amount else 0 end
            {%- endfor %}
        as decimal(18, 2)) as landed_cost_reporting_amount,

        -- booleans
        joined.is_known_incoterm,
        joined.is_freight_estimated,
        joined.is_goods_value_at_price,

        -- dates
        joined.fx_on_date as receipt_date
    from joined
    {{ fx_join('fx', 'joined.goods_currency', 'joined.fx_on_date') }}
)

select * from final
