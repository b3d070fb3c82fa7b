{#- Landed cost per order: the sums of fct_landed_cost_lines (docs/finance.md "Landed cost"). -#}
{%- set amounts = ['goods_value_reporting_amount', 'freight_reporting_amount', 'insurance_reporting_amount',
    'duty_reporting_amount', 'import_tax_reporting_amount', 'brokerage_reporting_amount',
    'handling_reporting_amount', 'buyer_paid_reporting_amount', 'allocated_reporting_amount',
    'landed_cost_reporting_amount'] -%}

with

lines as (
    select * from {{ ref('fct_landed_cost_lines') }}
),

final as (
    select
        order_id,
        max(customer_id) as customer_id,
        max(incoterm) as incoterm,
        max(reporting_currency) as reporting_currency,
        count(*) as order_line_count,
        cast(sum(quantity_ordered) as bigint) as quantity_ordered,
        cast(sum(quantity_shipped) as bigint) as quantity_shipped,
        cast(sum(weight_kg) as decimal(18, 4)) as weight_kg,
        {%- for amount in amounts %}
        cast(sum({{ amount }}) as decimal(18, 2)) as {{ amount }},
        {%- endfor %}
        bool_or(is_freight_estimated) as is_freight_estimated,
        coalesce(bool_or(is_goods_value_at_price and quantity_shipped > 0), false)
            as is_goods_value_at_price,
        max(receipt_date) as receipt_date
    from lines
    group by order_id
)

select * from final
