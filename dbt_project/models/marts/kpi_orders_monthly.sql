{#- Monthly order KPIs (DESIGN.md section 5, docs/kpis.md "Monthly order KPIs"): one row per
    calendar month. Two cohorts share the month:
    - orders due (is_due) in the month of their reference window end (the original customer
      promise's end under the default var order_on_time_reference): on time, in full, perfect
      order and its components, OTIF, fill rates, split shipments;
    - orders delivered (every shipment delivered) in the month of delivered_at: cycle time and
      the return ratio (DESIGN.md: return ratio by delivery-month cohort).
    Numerators and denominators are stored; the rate columns only divide them. -#}

with

orders as (
    select * from {{ ref('fct_orders') }}
),

orders_due as (
    select
        cast({{ dbt.date_trunc('month', 'reference_window_end_at') }} as date) as month_start_date,
        order_id,
        shipment_count,
        otif_numerator,
        otif_denominator,
        units_ordered,
        units_filled,
        lines_total,
        lines_complete,
        is_on_time,
        is_in_full,
        is_damage_free,
        is_documentation_accurate,
        is_perfect_order,
        is_filled_on_first_shipment,
        is_split_shipment
    from orders
    where is_due
),

orders_delivered as (
    select
        cast({{ dbt.date_trunc('month', 'delivered_at') }} as date) as month_start_date,
        order_id,
        units_shipped,
        units_returned,
        cycle_time_days
    from orders
    where is_delivered
),

due_aggregated as (
    select
        month_start_date,
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
    group by month_start_date
),

delivered_aggregated as (
    select
        month_start_date,
        count(*) as orders_delivered,
        sum(units_shipped) as units_delivered,
        sum(units_returned) as units_returned,
        sum(cycle_time_days) as cycle_time_days_total,
        avg(cycle_time_days) as cycle_time_days_mean,
        {{ percentile_cont(0.5, 'cycle_time_days') }} as cycle_time_days_p50,
        {{ percentile_cont(0.9, 'cycle_time_days') }} as cycle_time_days_p90
    from orders_delivered
    group by month_start_date
),

months as (
    select month_start_date from due_aggregated
    union
    select month_start_date from delivered_aggregated
),

joined as (
    select
        months.month_start_date,
        coalesce(due_aggregated.orders_due, 0) as orders_due,
        coalesce(due_aggregated.orders_on_time, 0) as orders_on_time,
        coalesce(due_aggregated.orders_in_full, 0) as orders_in_full,
        coalesce(due_aggregated.orders_damage_free, 0) as orders_damage_free,
        coalesce(due_aggregated.orders_documentation_accurate, 0) as orders_documentation_accurate,
        coalesce(due_aggregated.orders_perfect, 0) as orders_perfect,
        coalesce(due_aggregated.otif_numerator, 0) as otif_numerator,
        coalesce(due_aggregated.otif_denominator, 0) as otif_denominator,
        coalesce(due_aggregated.units_filled, 0) as units_filled,
        coalesce(due_aggregated.units_ordered, 0) as units_ordered,
        coalesce(due_aggregated.lines_complete, 0) as lines_complete,
        coalesce(due_aggregated.lines_total, 0) as lines_total,
        coalesce(due_aggregated.orders_filled_on_first_shipment, 0) as orders_filled_on_first_shipment,
        coalesce(due_aggregated.orders_shipped, 0) as orders_shipped,
        coalesce(due_aggregated.orders_split_shipment, 0) as orders_split_shipment,
        coalesce(delivered_aggregated.orders_delivered, 0) as orders_delivered,
        coalesce(delivered_aggregated.units_delivered, 0) as units_delivered,
        coalesce(delivered_aggregated.units_returned, 0) as units_returned,
        delivered_aggregated.cycle_time_days_total,
        delivered_aggregated.cycle_time_days_mean,
        delivered_aggregated.cycle_time_days_p50,
        delivered_aggregated.cycle_time_days_p90
    from months
    left join due_aggregated
        on months.month_start_date = due_aggregated.month_start_date
    left join delivered_aggregated
        on months.month_start_date = delivered_aggregated.month_start_date
),

final as (
    select
        -- dates
        month_start_date,

        -- numerics: orders due in the month (reference window end)
        cast(orders_due as bigint) as orders_due,
        cast(orders_on_time as bigint) as orders_on_time,
        cast(orders_in_full as bigint) as orders_in_full,
        cast(orders_damage_free as bigint) as orders_damage_free,
        cast(orders_documentation_accurate as bigint) as orders_documentation_accurate,
        cast(orders_perfect as bigint) as orders_perfect,
        cast(otif_numerator as bigint) as otif_numerator,
        cast(otif_denominator as bigint) as otif_denominator,
        cast(units_filled as bigint) as units_filled,
        cast(units_ordered as bigint) as units_ordered,
        cast(lines_complete as bigint) as lines_complete,
        cast(lines_total as bigint) as lines_total,
        cast(orders_filled_on_first_shipment as bigint) as orders_filled_on_first_shipment,
        cast(orders_shipped as bigint) as orders_shipped,
        cast(orders_split_shipment as bigint) as orders_split_shipment,

        -- numerics: orders delivered in the month (delivered_at)
        cast(orders_delivered as bigint) as orders_delivered,
        cast(units_delivered as bigint) as units_delivered,
        cast(units_returned as bigint) as units_returned,
        cast(cycle_time_days_total as double) as cycle_time_days_total,
        cast(cycle_time_days_mean as double) as cycle_time_days_mean,
        cast(cycle_time_days_p50 as double) as cycle_time_days_p50,
        cast(cycle_time_days_p90 as double) as cycle_time_days_p90,

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
