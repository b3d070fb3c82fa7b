{#-
    The order KPI marts (kpi_orders_daily, kpi_orders_monthly; docs/kpis.md "Order KPIs per day
    and month") share this one body: the same numerators, denominators and statistics, summed
    from fct_orders per calendar `period` ('day' or 'month'), the period's first day in the
    column `period_column`. Three cohorts share a period:
    - orders due (is_due), in the period of their reference window end (the original customer
      promise under the default var order_on_time_reference): on time, in full, perfect order
      and its components, OTIF, fill rates at unit/line/order grain, split shipments;
    - orders delivered (every shipment delivered), in the period of delivered_at: cycle time
      and its segments (mean, P50, P90), units delivered and returned (return ratio by delivery
      cohort), throughput out;
    - orders created, in the period of created_at: throughput in.
    Every period from the first to the last period of any cohort has a row (a spine): quiet
    periods show zero counts and null rates. Rates are only numerator / nullif(denominator, 0).
-#}
{% macro order_kpis_by_period(period, period_column) -%}
{%- if period not in ['day', 'month'] -%}
    {{ exceptions.raise_compiler_error("order_kpis_by_period: period must be day or month, got " ~ period) }}
{%- endif -%}
{%- set segments = ['cycle_time_days', 'order_to_booked_days', 'booked_to_picked_up_days', 'picked_up_to_delivered_days'] -%}
{%- set due_counts = [
    'orders_due', 'orders_on_time', 'orders_in_full', 'orders_damage_free',
    'orders_documentation_accurate', 'orders_perfect', 'otif_numerator', 'otif_denominator',
    'units_filled', 'units_ordered', 'lines_complete', 'lines_total',
    'orders_filled_on_first_shipment', 'orders_shipped', 'orders_split_shipment'] -%}
{%- set delivered_counts = ['orders_delivered', 'units_delivered', 'units_returned'] -%}
with

orders as (
    select * from {{ ref('fct_orders') }}
),

orders_due as (
    select
        cast({{ dbt.date_trunc(period, 'reference_window_end_at') }} as date) as period_start_date,
        orders.*
    from orders
    where is_due
),

orders_delivered as (
    select
        cast({{ dbt.date_trunc(period, 'delivered_at') }} as date) as period_start_date,
        orders.*
    from orders
    where is_delivered
),

orders_created as (
    select
        cast({{ dbt.date_trunc(period, 'created_at') }} as date) as period_start_date,
        orders.*
    from orders
    where created_at is not null
),

due_aggregated as (
    select
        period_start_date,
        count(*) as orders_due,
        sum(case when is_on_time then 1 else 0 end) as orders_on_time,
        sum(case when is_in_full then 1 else 0 end) as orders_in_full,
        sum(case when is_damage_free then 1 else 0 end) as orders_damage_free,
        sum(case when is_documentation_accurate then 1 else 0 end) as orders_documentation_accurate,
        sum(case when is_perfect_order then 1 else 0 end) as orders_perfect,
        sum(otif_numerator) as otif_numerator,
        sum(otif_denominator) as otif_denominator,
        sum(units_filled) as units_filled,
        sum(units_ordered) as units_ordered,
        sum(lines_complete) as lines_complete,
        sum(lines_total) as lines_total,
        sum(case when is_filled_on_first_shipment then 1 else 0 end) as orders_filled_on_first_shipment,
        sum(case when shipment_count > 0 then 1 else 0 end) as orders_shipped,
        sum(case when is_split_shipment then 1 else 0 end) as orders_split_shipment
    from orders_due
    group by period_start_date
),

delivered_aggregated as (
    select
        period_start_date,
        count(*) as orders_delivered,
        sum(units_shipped) as units_delivered,
        sum(units_returned) as units_returned,
        sum(cycle_time_days) as cycle_time_days_total,
        {%- for segment in segments %}
        avg({{ segment }}) as {{ segment }}_mean,
        {{ percentile_cont(0.5, segment) }} as {{ segment }}_p50,
        {{ percentile_cont(0.9, segment) }} as {{ segment }}_p90{{ ',' if not loop.last }}
        {%- endfor %}
    from orders_delivered
    group by period_start_date
),

created_aggregated as (
    select
        period_start_date,
        count(*) as orders_created,
        sum(units_ordered) as units_created
    from orders_created
    group by period_start_date
),

cohort_periods as (
    select period_start_date from due_aggregated
    union all
    select period_start_date from delivered_aggregated
    union all
    select period_start_date from created_aggregated
),

spine as (
    {{ period_spine(period, 'min(period_start_date)', 'max(period_start_date)', 'cohort_periods') }}
),

joined as (
    select
        spine.period_start_date,
        {%- for column in due_counts %}
        coalesce(due_aggregated.{{ column }}, 0) as {{ column }},
        {%- endfor %}
        {%- for column in delivered_counts %}
        coalesce(delivered_aggregated.{{ column }}, 0) as {{ column }},
        {%- endfor %}
        coalesce(created_aggregated.orders_created, 0) as orders_created,
        coalesce(created_aggregated.units_created, 0) as units_created,
        delivered_aggregated.cycle_time_days_total,
        {%- for segment in segments %}
        delivered_aggregated.{{ segment }}_mean,
        delivered_aggregated.{{ segment }}_p50,
        delivered_aggregated.{{ segment }}_p90{{ ',' if not loop.last }}
        {%- endfor %}
    from spine
    left join due_aggregated
        on spine.period_start_date = due_aggregated.period_start_date
    left join delivered_aggregated
        on spine.period_start_date = delivered_aggregated.period_start_date
    left join created_aggregated
        on spine.period_start_date = created_aggregated.period_start_date
),

final as (
    select
        -- dates
        period_start_date as {{ period_column }},

        -- numerics: orders due in the period (reference window end)
        {%- for column in due_counts %}
        cast({{ column }} as {{ dbt.type_bigint() }}) as {{ column }},
        {%- endfor %}

        -- numerics: orders delivered in the period (delivered_at)
        {%- for column in delivered_counts %}
        cast({{ column }} as {{ dbt.type_bigint() }}) as {{ column }},
        {%- endfor %}
        cast(cycle_time_days_total as double) as cycle_time_days_total,
        {%- for segment in segments %}
        cast({{ segment }}_mean as double) as {{ segment }}_mean,
        cast({{ segment }}_p50 as double) as {{ segment }}_p50,
        cast({{ segment }}_p90 as double) as {{ segment }}_p90,
        {%- endfor %}

        -- numerics: throughput in (orders created in the period)
        cast(orders_created as {{ dbt.type_bigint() }}) as orders_created,
        cast(units_created as {{ dbt.type_bigint() }}) as units_created,

        -- numerics: rates, only ever numerator / denominator of the columns above
        cast(orders_on_time as double) / nullif(orders_due, 0) as on_time_rate,
        cast(orders_in_full as double) / nullif(orders_due, 0) as in_full_rate,
        cast(orders_damage_free as double) / nullif(orders_due, 0) as damage_free_rate,
        cast(orders_documentation_accurate as double) / nullif(orders_due, 0)
            as documentation_accuracy_rate,
        cast(orders_perfect as double) / nullif(orders_due, 0) as perfect_order_rate,
        cast(otif_numerator as double) / nullif(otif_denominator, 0) as otif_rate,
        cast(units_filled as double) / nullif(units_ordered, 0) as unit_fill_rate,
        cast(lines_complete as double) / nullif(lines_total, 0) as line_fill_rate,
        cast(orders_filled_on_first_shipment as double) / nullif(orders_due, 0) as order_fill_rate,
        cast(orders_split_shipment as double) / nullif(orders_shipped, 0) as split_shipment_ratio,
        cast(units_returned as double) / nullif(units_delivered, 0) as return_ratio

    from joined
)

select * from final
{%- endmacro %}
