{#- On time (DESIGN.md section 5, docs/milestones.md): an actual in
    [window start - early tolerance, window end + grace] (dbt vars). Carrier-controllable: also
    on time when late but the shipment has an exception whose responsible party is excused
    (var on_time_excused_responsible_parties: SHIPPER, CONSIGNEE). Null while the actual or
    the window is missing.
    Incremental (macros/incremental.sql): a run recomputes the changed shipments only. A new
    carriers file forces a full build (carrier_name). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ waybill.delete_changed_keys('shipment_id', 'SHIPMENT') }}"
) }}
{%- set pickup_early_minutes = (var('on_time_pickup_early_tolerance_hours') * 60) | int -%}
{%- set pickup_grace_minutes = (var('on_time_pickup_grace_hours') * 60) | int -%}
{%- set delivery_early_minutes = (var('on_time_delivery_early_tolerance_hours') * 60) | int -%}
{%- set delivery_grace_minutes = (var('on_time_delivery_grace_hours') * 60) | int -%}
{%- set excused_parties = var('on_time_excused_responsible_parties') -%}
{%- set actual_milestones = ['BOOKED', 'PICKED_UP', 'DEPARTED', 'ARRIVED', 'CUSTOMS_CLEARED', 'OUT_FOR_DELIVERY', 'DELIVERED', 'RETURNED', 'CANCELLED'] -%}

with

shipments as (
    select * from {{ ref('int_shipments_aggregated') }}
    {{ waybill.where_changed('shipment_id', 'SHIPMENT') }}
),

shipment_milestones as (
    select * from {{ ref('fct_shipment_milestones') }}
    {{ waybill.where_changed('shipment_id', 'SHIPMENT') }}
),

events as (
    select * from {{ ref('int_carrier_events_mapped') }}
    {{ waybill.where_changed('shipment_id', 'SHIPMENT') }}
),

carriers as (
    select * from {{ ref('stg_ref__carriers') }}
),

milestones as (
    select * from {{ ref('canonical_milestones') }}
),

pivoted_milestones as (
    select
        shipment_id,
        {%- for milestone in actual_milestones %}
        max(case when milestone = '{{ milestone }}' then actual_at end) as {{ milestone | lower }}_at,
        {%- endfor %}
        max(case when milestone = 'DELIVERED' then estimated_at end) as delivery_estimated_at,
        max(case when is_out_of_order then 1 else 0 end) = 1 as has_out_of_order_milestone
    from shipment_milestones
    group by shipment_id
),

status_events as (
    select
        events.shipment_id,
        events.milestone,
        events.event_at,
        row_number() over (
            partition by events.shipment_id
            -- terminal states stick: the latest terminal event, else the latest event
            order by
                case when milestones.is_terminal then 0 else 1 end,
                events.event_at desc,
                milestones.milestone_sequence desc,
                events.event_id
        ) as status_rank
    from events
    inner join milestones
        on events.milestone = milestones.milestone
    where events.shipment_id is not null
        and events.classifier = 'ACT'
        and events.is_mapped
        and events.event_at is not null
),

current_statuses as (
    select
        shipment_id,
        milestone as current_status,
        event_at as current_status_at
    from status_events
    where status_rank = 1
),

exception_events as (
    select
        shipment_id,
        event_id,
        exception_type,
        responsible_party,
        event_at,
        row_number() over (
            partition by shipment_id,
                case when responsible_party in ('{{ excused_parties | join("', '") }}') then 0 else 1 end
            order by event_at, event_id
        ) as party_rank,
        case
            when responsible_party in ('{{ excused_parties | join("', '") }}') then 0 else 1
        end as excuse_group
    from events
    where shipment_id is not null
        and is_exception
),

exception_types as (
    select distinct
        shipment_id,
        exception_type
    from exception_events
),

exception_type_lists as (
    select
        shipment_id,
        {{ dbt.listagg('exception_type', "', '", 'order by exception_type') }} as exception_types
    from exception_types
    group by shipment_id
),

exception_summaries as (
    select
        shipment_id,
        count(*) as exception_count,
        max(case when exception_type = 'DAMAGED' then 1 else 0 end) = 1 as is_damaged,
        max(case when excuse_group = 0 and party_rank = 1 then responsible_party end)
            as first_excused_party,
        max(case when excuse_group = 1 and party_rank = 1 then responsible_party end)
            as first_other_party
    from exception_events
    group by shipment_id
),

joined as (
    select
        shipments.*,
        carriers.carrier_name,
        pivoted_milestones.booked_at,
        pivoted_milestones.picked_up_at,
        pivoted_milestones.departed_at,
        pivoted_milestones.arrived_at,
        pivoted_milestones.customs_cleared_at,
        pivoted_milestones.out_for_delivery_at,
        pivoted_milestones.delivered_at,
        pivoted_milestones.returned_at,
        pivoted_milestones.cancelled_at,
        pivoted_milestones.delivery_estimated_at,
        coalesce(pivoted_milestones.has_out_of_order_milestone, false) as has_out_of_order_milestone,
        current_statuses.current_status,
        current_statuses.current_status_at,
        coalesce(exception_summaries.exception_count, 0) as exception_count,
        exception_type_lists.exception_types,
        coalesce(exception_summaries.is_damaged, false) as is_damaged,
        exception_summaries.first_excused_party,
        exception_summaries.first_other_party
    from shipments
    left join carriers
        on shipments.carrier_code = carriers.carrier_code
    left join pivoted_milestones
        on shipments.shipment_id = pivoted_milestones.shipment_id
    left join current_statuses
        on shipments.shipment_id = current_statuses.shipment_id
    left join exception_summaries
        on shipments.shipment_id = exception_summaries.shipment_id
    left join exception_type_lists
        on shipments.shipment_id = exception_type_lists.shipment_id
),

on_time_flagged as (
    select
        joined.*,
        case
            when picked_up_at is null or planned_pickup_end_at is null then null
            else {{ within_window('picked_up_at', 'planned_pickup_start_at', 'planned_pickup_end_at',
                                   pickup_early_minutes, pickup_grace_minutes) }}
        end as is_picked_up_on_time,
        case
            when delivered_at is null or planned_delivery_end_at is null then null
            else {{ within_window('delivered_at', 'planned_delivery_start_at', 'planned_delivery_end_at',
                                   delivery_early_minutes, delivery_grace_minutes) }}
        end as is_delivered_on_time
    from joined
),

final as (
    select
        -- ids
        shipment_id,
        tracking_number,
        carrier_code,

        -- strings
        carrier_name,
        transport_mode,
        service_level,
        origin_locode,
        origin_country,
        destination_locode,
        destination_country,
        {{ dbt.concat(['origin_locode', "'->'", 'destination_locode']) }} as lane,
        {{ dbt.concat(['origin_country', "'->'", 'destination_country']) }} as country_lane,
        current_status,
        exception_types,
        case
            when is_delivered_on_time = false
                then coalesce(first_excused_party, first_other_party, 'UNKNOWN')
        end as late_delivery_responsible_party,

        -- numerics
        cast(order_count as {{ dbt.type_bigint() }}) as order_count,
        cast(exception_count as {{ dbt.type_bigint() }}) as exception_count,
        -- a delivery reported before the pickup (has_out_of_order_milestone) has no measurable
        -- transit: null, so it cannot pull the scorecard's transit statistics below zero
        case when delivered_at >= picked_up_at then cast(
            {{ dbt.datediff('picked_up_at', 'delivered_at', 'second') }} / 3600.0 as double
        ) end as transit_time_hours,
        case when delivered_at >= picked_up_at then cast(
            {{ dbt.datediff('picked_up_at', 'delivered_at', 'second') }} / 86400.0 as double
        ) end as transit_time_days,

        -- booleans
        picked_up_at is not null as is_picked_up,
        delivered_at is not null as is_delivered,
        is_picked_up_on_time,
        case
            when is_picked_up_on_time is null then null
            else is_picked_up_on_time or first_excused_party is not null
        end as is_picked_up_on_time_controllable,
        is_delivered_on_time,
        case
            when is_delivered_on_time is null then null
            else is_delivered_on_time or first_excused_party is not null
        end as is_delivered_on_time_controllable,
        exception_count > 0 as has_exception,
        is_damaged,
        has_out_of_order_milestone,

        -- timestamps
        order_created_at,
        planned_pickup_start_at,
        planned_pickup_end_at,
        planned_delivery_start_at,
        planned_delivery_end_at,
        booked_at,
        picked_up_at,
        departed_at,
        arrived_at,
        customs_cleared_at,
        out_for_delivery_at,
        delivered_at,
        returned_at,
        cancelled_at,
        delivery_estimated_at,
        current_status_at

    from on_time_flagged
)

select * from final
