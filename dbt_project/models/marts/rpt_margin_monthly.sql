{#- Margin roll-up per order month x customer x carrier x lane (docs/finance.md "Margin"):
    sums of fct_order_margin, so any roll-up (by customer, lane, carrier or month alone) is a
    sum of these rows. Margin % is kept with its numerator and denominator; orders whose goods
    had no unit cost (valued at price, is_goods_cost_estimated) are counted, as their margin is
    understated. -#}
with

margins as (
    select * from {{ ref('fct_order_margin') }}
),

rolled as (
    select
        cast(date_trunc('month', order_date) as date) as order_month,
        customer_id,
        coalesce(carrier_code, '(not shipped)') as carrier_code,
        coalesce(lane, '(not shipped)') as lane,
        max(reporting_currency) as reporting_currency,
        count(*) as order_count,
        sum(case when is_provisional then 1 else 0 end) as provisional_order_count,
        sum(case when is_goods_cost_estimated then 1 else 0 end) as goods_cost_estimated_order_count,
        sum(net_revenue_reporting_amount) as net_revenue_reporting_amount,
        sum(credit_note_reporting_amount) as credit_note_reporting_amount,
        sum(landed_cost_excl_freight_duty_reporting_amount) as landed_cost_excl_freight_duty_reporting_amount,
        sum(outbound_freight_reporting_amount) as outbound_freight_reporting_amount,
        sum(accessorial_reporting_amount) as accessorial_reporting_amount,
        sum(duty_reporting_amount) as duty_reporting_amount,
        sum(contribution_margin_reporting_amount) as contribution_margin_reporting_amount
    from margins
    group by all
),

final as (
    select
        {{ surrogate_key(['order_month', 'customer_id', 'carrier_code', 'lane']) }} as margin_month_id,
        order_month,
        customer_id,
        carrier_code,
        lane,
        reporting_currency,
        cast(order_count as bigint) as order_count,
        cast(provisional_order_count as bigint) as provisional_order_count,
        cast(goods_cost_estimated_order_count as bigint) as goods_cost_estimated_order_count,
        {%- for c in ['net_revenue', 'credit_note', 'landed_cost_excl_freight_duty', 'outbound_freight', 'accessorial', 'duty', 'contribution_margin'] %}
        cast({{ c }}_reporting_amount as decimal(18, 2)) as {{ c }}_reporting_amount,
        {%- endfor %}
        cast(contribution_margin_reporting_amount / nullif(net_revenue_reporting_amount, 0) as double)
            as contribution_margin_pct
    from rolled
)

select * from final
