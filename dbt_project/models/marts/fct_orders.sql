{#- Order KPIs (DESIGN.md section 5, docs/kpis.md "Orders"): one row per order.
    On time: the order's delivery (its last shipment's delivery) lies in
    [reference window start - early tolerance, reference window end + grace] (dbt vars).
    Reference window (var order_on_time_reference): `customer_promise` = the order's promised
    delivery window (the only promise the OMS feed carries, so the original one), or
    `carrier_plan` = the span of its shipments' planned delivery windows.
    Outcome known (is_on_time, is_otif, is_perfect_order not null) once the order is delivered or
    due (reference window end + grace <= as of). -#}
{%- set early_minutes = (var('order_on_time_early_tolerance_hours') * 60) | int -%}
{%- set grace_minutes = (var('order_on_time_grace_hours') * 60) | int -%}
{%- set reference = var('order_on_time_reference') -%}
{%- set otif_grain = var('order_otif_grain') -%}
{%- set as_of = var('order_kpi_as_of') -%}
{%- if reference not in ['customer_promise', 'carrier_plan'] -%}
    {{ exceptions.raise_compiler_error("var order_on_time_reference must be customer_promise or carrier_plan, got " ~ reference) }}
{%- endif -%}
{%- if otif_grain not in ['order', 'line', 'unit'] -%}
    {{ exceptions.raise_compiler_error("var order_otif_grain must be order, line or unit, got " ~ otif_grain) }}
{%- endif -%}

with

order_lines as (
    select * from {{ ref('int_order_lines_returned') }}
),

shipment_lines as (
    select * from {{ ref('int_order_shipment_lines_joined') }}
),

shipments as (
    select * from {{ ref('fct_shipments') }}
),

shipment_events as (
    select * from {{ ref('fct_shipment_events') }}
),

kpi_as_of as (
    {{ select_as_of_at(as_of) }}
),

orders_aggregated as (
    -- order attributes repeat on every line; min() picks one deterministically
    select
        order_id,
        min(customer_id) as customer_id,
        min(sales_channel) as sales_channel,
        min(incoterm) as incoterm,
        min(incoterm_place) as incoterm_place,
        min(origin_country) as origin_country,
        min(origin_locode) as origin_locode,
        min(destination_country) as destination_country,
        min(destination_locode) as destination_locode,
        count(*) as lines_total,
        sum(quantity_ordered) as units_ordered,
        min(created_at) as created_at,
        min(promised_delivery_start_at) as promised_delivery_start_at,
        min(promised_delivery_end_at) as promised_delivery_end_at
    from order_lines
    group by order_id
),

customs_holds as (
    select distinct shipment_id
    from shipment_events
    where is_exception
        and exception_type = 'CUSTOMS_HOLD'
),

order_shipments as (
    select distinct
        shipment_lines.order_id,
        shipment_lines.shipment_id,
        shipments.booked_at,
        shipments.picked_up_at,
        shipments.delivered_at,
        shipments.planned_delivery_start_at,
        shipments.planned_delivery_end_at,
        coalesce(shipments.is_damaged, false) as is_damaged,
        customs_holds.shipment_id is not null as has_customs_hold,
        min(shipment_lines.shipped_at) over (
            partition by shipment_lines.order_id, shipment_lines.shipment_id
        ) as shipment_shipped_at
    from shipment_lines
    left join shipments
        on shipment_lines.shipment_id = shipments.shipment_id
    left join customs_holds
        on shipment_lines.shipment_id = customs_holds.shipment_id
),

first_shipments as (
    select
        order_id,
        shipment_id as first_shipment_id
    from order_shipments
    qualify row_number() over (
        partition by order_id
        order by coalesce(booked_at, shipment_shipped_at), shipment_shipped_at, shipment_id
    ) = 1
),

shipments_aggregated as (
    select
        order_id,
        count(*) as shipment_count,
        min(booked_at) as booked_at,
        min(picked_up_at) as picked_up_at,
        -- delivered = every shipment of the order delivered: then the last delivery
        case when count(delivered_at) = count(*) then max(delivered_at) end as delivered_at,
        min(planned_delivery_start_at) as planned_delivery_start_at,
        max(planned_delivery_end_at) as planned_delivery_end_at,
        bool_or(is_damaged) as has_damaged_shipment,
        bool_or(has_customs_hold) as has_customs_hold
    from order_shipments
    group by order_id
),

windowed as (
    select
        orders_aggregated.*,
        shipments_aggregated.shipment_count,
        shipments_aggregated.booked_at,
        shipments_aggregated.picked_up_at,
        shipments_aggregated.delivered_at,
        shipments_aggregated.planned_delivery_start_at,
        shipments_aggregated.planned_delivery_end_at,
        shipments_aggregated.has_damaged_shipment,
        shipments_aggregated.has_customs_hold,
        first_shipments.first_shipment_id,
        {%- if reference == 'customer_promise' %}
        orders_aggregated.promised_delivery_start_at as reference_window_start_at,
        orders_aggregated.promised_delivery_end_at as reference_window_end_at,
        {%- else %}
        shipments_aggregated.planned_delivery_start_at as reference_window_start_at,
        shipments_aggregated.planned_delivery_end_at as reference_window_end_at,
        {%- endif %}
        kpi_as_of.as_of_at
    from orders_aggregated
    cross join kpi_as_of
    left join shipments_aggregated
        on orders_aggregated.order_id = shipments_aggregated.order_id
    left join first_shipments
        on orders_aggregated.order_id = first_shipments.order_id
),

shipment_lines_timed as (
    select
        shipment_lines.order_id,
        shipment_lines.line_number,
        shipment_lines.shipment_id,
        shipment_lines.quantity_shipped,
        shipments.delivered_at,
        shipment_lines.shipment_id = windowed.first_shipment_id as is_first_shipment,
        shipments.delivered_at is not null
        and {{ within_window('shipments.delivered_at', 'windowed.reference_window_start_at',
                             'windowed.reference_window_end_at', early_minutes, grace_minutes) }}
            as is_delivered_on_time
    from shipment_lines
    inner join windowed
        on shipment_lines.order_id = windowed.order_id
    left join shipments
        on shipment_lines.shipment_id = shipments.shipment_id
),

line_shipments_aggregated as (
    select
        order_id,
        line_number,
        sum(quantity_shipped) as units_shipped,
        sum(case when is_first_shipment then quantity_shipped else 0 end) as units_on_first_shipment,
        sum(case when is_delivered_on_time then quantity_shipped else 0 end) as units_delivered_on_time,
        bool_and(is_delivered_on_time) as is_line_delivered_on_time
    from shipment_lines_timed
    group by order_id, line_number
),

lines_filled as (
    select
        order_lines.order_id,
        order_lines.line_number,
        order_lines.quantity_ordered,
        coalesce(line_shipments_aggregated.units_shipped, 0) as units_shipped,
        least(coalesce(line_shipments_aggregated.units_shipped, 0), order_lines.quantity_ordered)
            as units_filled,
        coalesce(line_shipments_aggregated.units_shipped, 0) >= order_lines.quantity_ordered
            as is_line_complete,
        coalesce(line_shipments_aggregated.units_on_first_shipment, 0) >= order_lines.quantity_ordered
            as is_line_complete_on_first_shipment,
        least(
            coalesce(line_shipments_aggregated.units_delivered_on_time, 0), order_lines.quantity_ordered
        ) as units_on_time_in_full,
        coalesce(line_shipments_aggregated.units_shipped, 0) >= order_lines.quantity_ordered
        and coalesce(line_shipments_aggregated.is_line_delivered_on_time, false) as is_line_on_time_in_full,
        order_lines.quantity_returned as units_returned,
        order_lines.has_damaged_return
    from order_lines
    left join line_shipments_aggregated
        on order_lines.order_id = line_shipments_aggregated.order_id
        and order_lines.line_number = line_shipments_aggregated.line_number
),

lines_aggregated as (
    select
        order_id,
        sum(units_shipped) as units_shipped,
        sum(units_filled) as units_filled,
        sum(units_on_time_in_full) as units_on_time_in_full,
        sum(units_returned) as units_returned,
        count(case when is_line_complete then 1 end) as lines_complete,
        count(case when is_line_on_time_in_full then 1 end) as lines_on_time_in_full,
        bool_and(is_line_complete) as is_in_full,
        bool_and(is_line_complete_on_first_shipment) as is_filled_on_first_shipment,
        bool_or(has_damaged_return) as has_damaged_return
    from lines_filled
    group by order_id
),

flagged as (
    select
        windowed.*,
        lines_aggregated.units_shipped,
        lines_aggregated.units_filled,
        lines_aggregated.units_on_time_in_full,
        lines_aggregated.units_returned,
        lines_aggregated.lines_complete,
        lines_aggregated.lines_on_time_in_full,
        lines_aggregated.is_in_full,
        lines_aggregated.is_filled_on_first_shipment,
        lines_aggregated.has_damaged_return,
        windowed.reference_window_end_at is not null
        and {{ dbt.dateadd('minute', grace_minutes, 'windowed.reference_window_end_at') }} <= windowed.as_of_at
            as is_due,
        case
            when windowed.delivered_at is not null and windowed.reference_window_end_at is not null
                then {{ within_window('windowed.delivered_at', 'windowed.reference_window_start_at',
                                      'windowed.reference_window_end_at', early_minutes, grace_minutes) }}
            -- due and not (fully) delivered: late; not yet due: open (null)
            when {{ dbt.dateadd('minute', grace_minutes, 'windowed.reference_window_end_at') }}
                <= windowed.as_of_at
                then false
        end as is_on_time
    from windowed
    inner join lines_aggregated
        on windowed.order_id = lines_aggregated.order_id
),

scored as (
    select
        flagged.*,
        not (coalesce(has_damaged_shipment, false) or has_damaged_return) as is_damage_free,
        not coalesce(has_customs_hold, false) as is_documentation_accurate,
        case when is_on_time is not null then is_on_time and is_in_full end as is_otif
    from flagged
),

final as (
    select
        -- ids
        order_id,
        customer_id,
        first_shipment_id,

        -- strings
        sales_channel,
        incoterm,
        incoterm_place,
        origin_country,
        origin_locode,
        destination_country,
        destination_locode,

        -- numerics
        cast(lines_total as bigint) as lines_total,
        cast(lines_complete as bigint) as lines_complete,
        cast(lines_on_time_in_full as bigint) as lines_on_time_in_full,
        cast(units_ordered as bigint) as units_ordered,
        cast(units_shipped as bigint) as units_shipped,
        cast(units_filled as bigint) as units_filled,
        cast(units_on_time_in_full as bigint) as units_on_time_in_full,
        cast(units_returned as bigint) as units_returned,
        cast(coalesce(shipment_count, 0) as bigint) as shipment_count,
        cast({{ dbt.datediff('created_at', 'delivered_at', 'second') }} / 86400.0 as double)
            as cycle_time_days,
        cast({{ dbt.datediff('created_at', 'booked_at', 'second') }} / 86400.0 as double)
            as order_to_booked_days,
        cast({{ dbt.datediff('booked_at', 'picked_up_at', 'second') }} / 86400.0 as double)
            as booked_to_picked_up_days,
        cast({{ dbt.datediff('picked_up_at', 'delivered_at', 'second') }} / 86400.0 as double)
            as picked_up_to_delivered_days,
        {%- if otif_grain == 'order' %}
        cast(case when is_otif then 1 else 0 end as bigint) as otif_numerator,
        cast(case when is_otif is not null then 1 else 0 end as bigint) as otif_denominator,
        {%- elif otif_grain == 'line' %}
        cast(case when is_otif is not null then lines_on_time_in_full else 0 end as bigint) as otif_numerator,
        cast(case when is_otif is not null then lines_total else 0 end as bigint) as otif_denominator,
        {%- else %}
        cast(case when is_otif is not null then units_on_time_in_full else 0 end as bigint) as otif_numerator,
        cast(case when is_otif is not null then units_ordered else 0 end as bigint) as otif_denominator,
        {%- endif %}

        -- booleans
        coalesce(shipment_count, 0) > 1 as is_split_shipment,
        delivered_at is not null as is_delivered,
        is_due,
        is_on_time,
        is_in_full,
        coalesce(is_filled_on_first_shipment, false) as is_filled_on_first_shipment,
        is_damage_free,
        is_documentation_accurate,
        is_otif,
        case
            when is_on_time is not null
                then is_on_time and is_in_full and is_damage_free and is_documentation_accurate
        end as is_perfect_order,

        -- timestamps
        created_at,
        promised_delivery_start_at,
        promised_delivery_end_at,
        reference_window_start_at,
        reference_window_end_at,
        booked_at,
        picked_up_at,
        delivered_at,
        as_of_at

    from scored
)

select * from final
