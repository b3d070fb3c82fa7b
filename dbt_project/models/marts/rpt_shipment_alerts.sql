{#- Shipment alerts (docs/kpis.md "Shipment alerts"): one row per open alert as of var
    alert_as_of (null: the newest carrier status time in fct_shipments). Everything is judged
    from the events at or before that time, so a pinned as-of replays the past:
    - OPEN_EXCEPTION: an exception event (not a customs hold) on a shipment not yet in a
      terminal state, with no progress since (no later non-exception actual event); one alert
      per shipment and exception type (the latest report);
    - CUSTOMS_HOLD: a CUSTOMS_HOLD exception not followed by a CUSTOMS_CLEARED actual, on a
      shipment not yet in a terminal state; one alert per shipment (the latest hold);
    - STALE_SHIPMENT: a shipment with actual events, not terminal, whose last actual event is
      older than var alert_stale_after_hours (per mode);
    - MISSED_PICKUP: the planned pickup window ended more than var alert_missed_pickup_grace_hours
      ago and neither a pickup nor a later main-path milestone was reported (and the shipment
      is not terminal). -#}
{%- set as_of = var('alert_as_of') -%}
{%- set stale_hours = var('alert_stale_after_hours') -%}
{%- set missed_pickup_grace_minutes = (var('alert_missed_pickup_grace_hours') * 60) | int -%}
{%- set terminal_milestones = "'DELIVERED', 'RETURNED', 'CANCELLED'" -%}
{%- set picked_up_or_later = "'PICKED_UP', 'DEPARTED', 'ARRIVED', 'CUSTOMS_CLEARED', 'OUT_FOR_DELIVERY', 'DELIVERED'" -%}
{%- set stale_hours_case -%}
    case shipments.transport_mode
    {%- for mode, hours in stale_hours.items() if mode != 'default' %} when '{{ mode }}' then {{ hours }}{% endfor %}
    else {{ stale_hours.get('default', 96) }} end
{%- endset -%}

with

shipments as (
    select * from {{ ref('fct_shipments') }}
),

shipment_events as (
    select * from {{ ref('fct_shipment_events') }}
),

shipment_lines as (
    select * from {{ ref('int_order_shipment_lines_joined') }}
),

order_lines as (
    select * from {{ ref('int_order_lines_returned') }}
),

alert_as_of as (
    {{ select_as_of_at(as_of) }}
),

-- the events known at the as-of time; non-actual events (estimates with a delay reason) are
-- dated by when they reached us
known_events as (
    select
        shipment_events.*,
        case
            when shipment_events.classifier = 'ACT' then shipment_events.event_at
            else coalesce(shipment_events.received_at, shipment_events.event_at)
        end as known_at
    from shipment_events
    cross join alert_as_of
    where shipment_events.shipment_id is not null
        and shipment_events.event_at is not null
        and case
            when shipment_events.classifier = 'ACT' then shipment_events.event_at
            else coalesce(shipment_events.received_at, shipment_events.event_at)
        end <= alert_as_of.as_of_at
),

shipment_progress as (
    select
        shipment_id,
        bool_or(milestone in ({{ terminal_milestones }}) and classifier = 'ACT' and is_mapped)
            as is_terminal,
        max(case when classifier = 'ACT' and is_mapped then event_at end) as last_actual_at,
        max(case when classifier = 'ACT' and is_mapped and not is_exception then event_at end)
            as last_progress_at,
        max(case when classifier = 'ACT' and milestone = 'CUSTOMS_CLEARED' then event_at end)
            as customs_cleared_at,
        -- a later main-path actual proves the pickup even when its own event is missing
        bool_or(classifier = 'ACT' and milestone in ({{ picked_up_or_later }})) as is_picked_up
    from known_events
    group by shipment_id
),

shipments_known as (
    select
        shipments.shipment_id,
        shipments.carrier_code,
        shipments.lane,
        shipments.transport_mode,
        shipments.planned_pickup_end_at,
        {{ stale_hours_case }} as stale_after_hours,
        coalesce(shipment_progress.is_terminal, false) as is_terminal,
        shipment_progress.last_actual_at,
        shipment_progress.last_progress_at,
        shipment_progress.customs_cleared_at,
        coalesce(shipment_progress.is_picked_up, false) as is_picked_up
    from shipments
    left join shipment_progress
        on shipments.shipment_id = shipment_progress.shipment_id
),

open_exceptions as (
    select
        'OPEN_EXCEPTION' as alert_type,
        known_events.shipment_id,
        known_events.event_id,
        known_events.exception_type,
        known_events.responsible_party,
        known_events.known_at as opened_at,
        {{ dbt.concat([
            "known_events.exception_type", "' ('", "coalesce(known_events.responsible_party, 'UNKNOWN')",
            "') reported by '", "known_events.carrier_code", "' at '",
            "substr(cast(known_events.known_at as " ~ dbt.type_string() ~ "), 1, 16)",
            "' UTC; no progress since'"]) }} as alert_description
    from known_events
    inner join shipments_known
        on known_events.shipment_id = shipments_known.shipment_id
    where known_events.is_exception
        and coalesce(known_events.exception_type, 'OTHER') <> 'CUSTOMS_HOLD'
        and not shipments_known.is_terminal
        and (shipments_known.last_progress_at is null
            or shipments_known.last_progress_at <= known_events.known_at)
    -- one alert per shipment and exception type: the latest report (re-reports and copies with
    -- an unknown status code describe the same problem)
    qualify row_number() over (
        partition by known_events.shipment_id, known_events.exception_type
        order by known_events.known_at desc, known_events.event_id desc
    ) = 1
),

customs_holds as (
    select
        'CUSTOMS_HOLD' as alert_type,
        known_events.shipment_id,
        known_events.event_id,
        known_events.exception_type,
        known_events.responsible_party,
        known_events.known_at as opened_at,
        {{ dbt.concat([
            "'Customs hold reported by '", "known_events.carrier_code", "' at '",
            "substr(cast(known_events.known_at as " ~ dbt.type_string() ~ "), 1, 16)",
            "' UTC; not cleared'"]) }} as alert_description
    from known_events
    inner join shipments_known
        on known_events.shipment_id = shipments_known.shipment_id
    where known_events.is_exception
        and known_events.exception_type = 'CUSTOMS_HOLD'
        and not shipments_known.is_terminal
        and (shipments_known.customs_cleared_at is null
            or shipments_known.customs_cleared_at < known_events.known_at)
    -- one alert per shipment: the latest hold report
    qualify row_number() over (
        partition by known_events.shipment_id
        order by known_events.known_at desc, known_events.event_id desc
    ) = 1
),

stale_shipments as (
    select
        'STALE_SHIPMENT' as alert_type,
        shipments_known.shipment_id,
        cast(null as {{ dbt.type_string() }}) as event_id,
        cast(null as {{ dbt.type_string() }}) as exception_type,
        cast(null as {{ dbt.type_string() }}) as responsible_party,
        {{ dbt.dateadd('hour', 'shipments_known.stale_after_hours', 'shipments_known.last_actual_at') }}
            as opened_at,
        {{ dbt.concat([
            "'No carrier event since '",
            "substr(cast(shipments_known.last_actual_at as " ~ dbt.type_string() ~ "), 1, 16)",
            "' UTC (threshold '", "cast(shipments_known.stale_after_hours as " ~ dbt.type_string() ~ ")",
            "' h for '", "shipments_known.transport_mode", "')'"]) }} as alert_description
    from shipments_known
    cross join alert_as_of
    where not shipments_known.is_terminal
        and shipments_known.last_actual_at is not null
        and {{ dbt.dateadd('hour', 'shipments_known.stale_after_hours', 'shipments_known.last_actual_at') }}
            <= alert_as_of.as_of_at
),

missed_pickups as (
    select
        'MISSED_PICKUP' as alert_type,
        shipments_known.shipment_id,
        cast(null as {{ dbt.type_string() }}) as event_id,
        cast(null as {{ dbt.type_string() }}) as exception_type,
        cast(null as {{ dbt.type_string() }}) as responsible_party,
        {{ dbt.dateadd('minute', missed_pickup_grace_minutes, 'shipments_known.planned_pickup_end_at') }}
            as opened_at,
        {{ dbt.concat([
            "'Pickup window ended '",
            "substr(cast(shipments_known.planned_pickup_end_at as " ~ dbt.type_string() ~ "), 1, 16)",
            "' UTC; no pickup reported'"]) }} as alert_description
    from shipments_known
    cross join alert_as_of
    where not shipments_known.is_terminal
        and not shipments_known.is_picked_up
        and shipments_known.planned_pickup_end_at is not null
        and {{ dbt.dateadd('minute', missed_pickup_grace_minutes, 'shipments_known.planned_pickup_end_at') }}
            <= alert_as_of.as_of_at
),

alerts as (
    select * from open_exceptions
    union all
    select * from customs_holds
    union all
    select * from stale_shipments
    union all
    select * from missed_pickups
),

-- goods on the shipment at order prices (original currency; null when lines mix currencies),
-- converted below at the ECB rate of the as-of date so alerts can be summed and ranked by value
shipment_goods as (
    select
        shipment_lines.shipment_id,
        min(shipment_lines.order_id) as order_id,
        count(distinct shipment_lines.order_id) as order_count,
        case when count(distinct order_lines.unit_price_currency) = 1
            then sum(shipment_lines.quantity_shipped * order_lines.unit_price_amount)
        end as goods_value_amount,
        case when count(distinct order_lines.unit_price_currency) = 1
            then min(order_lines.unit_price_currency)
        end as goods_value_currency
    from shipment_lines
    inner join order_lines
        on shipment_lines.order_id = order_lines.order_id
        and shipment_lines.line_number = order_lines.line_number
    group by shipment_lines.shipment_id
),

order_customers as (
    select
        order_id,
        min(customer_id) as customer_id
    from order_lines
    group by order_id
),

final as (
    select
        -- ids
        {{ surrogate_key(['alerts.alert_type', 'alerts.shipment_id', 'alerts.event_id']) }} as alert_id,
        alerts.shipment_id,
        shipment_goods.order_id,
        order_customers.customer_id,
        alerts.event_id,
        shipments.carrier_code,

        -- strings
        alerts.alert_type,
        shipments.lane,
        shipments.transport_mode,
        alerts.exception_type,
        alerts.responsible_party,
        shipment_goods.goods_value_currency,
        '{{ var("reporting_currency") }}' as reporting_currency,
        alerts.alert_description,

        -- numerics
        cast(coalesce(shipment_goods.order_count, 0) as {{ dbt.type_bigint() }}) as order_count,
        cast(shipment_goods.goods_value_amount as decimal(18, 4)) as goods_value_amount,
        fx.rate_to_reporting as goods_value_fx_rate,
        {{ to_reporting('fx', 'shipment_goods.goods_value_amount') }} as goods_value_reporting_amount,
        cast({{ dbt.datediff('alerts.opened_at', 'alert_as_of.as_of_at', 'second') }} / 3600.0 as double)
            as age_hours,

        -- dates
        fx.rate_date as goods_value_fx_rate_date,

        -- timestamps
        alerts.opened_at,
        alert_as_of.as_of_at

    from alerts
    cross join alert_as_of
    inner join shipments
        on alerts.shipment_id = shipments.shipment_id
    left join shipment_goods
        on alerts.shipment_id = shipment_goods.shipment_id
    left join order_customers
        on shipment_goods.order_id = order_customers.order_id
    {{ fx_join('fx', 'shipment_goods.goods_value_currency', 'alert_as_of.as_of_at') }}
)

select * from final
