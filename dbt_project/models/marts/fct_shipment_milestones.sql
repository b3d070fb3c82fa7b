{#- Milestone times per shipment (DESIGN.md section 4): actual_at is the earliest ACT event of
    the best code (milestone_priority 1 before fallbacks such as X12 CP for AF, CD for D1);
    planned_at and estimated_at are the latest PLN / EST event by the time it was received.
    Incremental (macros/incremental.sql): a run recomputes the changed shipments only. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ waybill.delete_changed_keys('shipment_id', 'SHIPMENT') }}"
) }}

with

events as (
    select * from {{ ref('int_carrier_events_mapped') }}
    {{ waybill.where_changed('shipment_id', 'SHIPMENT') }}
),

shipments as (
    select * from {{ ref('int_shipments_aggregated') }}
    {{ waybill.where_changed('shipment_id', 'SHIPMENT') }}
),

milestones as (
    select * from {{ ref('canonical_milestones') }}
),

-- milestone 0 comes from the order feed, not from a carrier
order_created_events as (
    select
        cast(null as {{ dbt.type_string() }}) as event_id,
        shipment_id,
        'OMS' as source,
        cast(null as {{ dbt.type_string() }}) as raw_code,
        cast(null as {{ dbt.type_string() }}) as location_locode,
        'ORDER_CREATED' as milestone,
        'ACT' as classifier,
        1 as milestone_priority,
        order_created_at as event_at,
        order_created_at as received_at
    from shipments
    where order_created_at is not null
),

carrier_events as (
    select
        event_id,
        shipment_id,
        source,
        raw_code,
        location_locode,
        milestone,
        classifier,
        milestone_priority,
        event_at,
        received_at
    from events
    where shipment_id is not null
        and event_at is not null
),

milestone_events as (
    select * from carrier_events
    union all
    select * from order_created_events
),

ranked as (
    select
        milestone_events.*,
        row_number() over (
            partition by milestone_events.shipment_id, milestone_events.milestone, milestone_events.classifier
            order by
                case when milestone_events.classifier = 'ACT' then milestone_events.milestone_priority end,
                case when milestone_events.classifier = 'ACT' then milestone_events.event_at end,
                milestone_events.received_at desc,
                milestone_events.event_at desc,
                milestone_events.event_id
        ) as event_rank
    from milestone_events
    inner join milestones
        on milestone_events.milestone = milestones.milestone
    where milestones.milestone_sequence is not null
        or milestones.is_terminal
),

aggregated as (
    select
        shipment_id,
        milestone,
        max(case when classifier = 'PLN' and event_rank = 1 then event_at end) as planned_at,
        max(case when classifier = 'EST' and event_rank = 1 then event_at end) as estimated_at,
        max(case when classifier = 'ACT' and event_rank = 1 then event_at end) as actual_at,
        max(case when classifier = 'ACT' and event_rank = 1 then event_id end) as actual_event_id,
        max(case when classifier = 'ACT' and event_rank = 1 then source end) as actual_source,
        max(case when classifier = 'ACT' and event_rank = 1 then raw_code end) as actual_raw_code,
        max(case when classifier = 'ACT' and event_rank = 1 then location_locode end)
            as actual_location_locode,
        max(case when classifier = 'ACT' and event_rank = 1 then milestone_priority end)
            as actual_milestone_priority,
        sum(case when classifier = 'ACT' then 1 else 0 end) as actual_event_count,
        sum(case when classifier = 'EST' then 1 else 0 end) as estimate_event_count
    from ranked
    group by shipment_id, milestone
),

sequenced as (
    select
        aggregated.*,
        milestones.milestone_sequence,
        milestones.is_kpi_milestone,
        max(aggregated.actual_at) over (
            partition by aggregated.shipment_id
            order by milestones.milestone_sequence
            rows between unbounded preceding and 1 preceding
        ) as latest_earlier_actual_at
    from aggregated
    inner join milestones
        on aggregated.milestone = milestones.milestone
),

final as (
    select
        -- ids
        cast({{ surrogate_key(['shipment_id', 'milestone']) }} as {{ dbt.type_string() }})
            as shipment_milestone_id,
        shipment_id,
        actual_event_id,

        -- strings
        milestone,
        actual_source,
        actual_raw_code,
        actual_location_locode,

        -- numerics
        cast(milestone_sequence as integer) as milestone_sequence,
        cast(actual_event_count as {{ dbt.type_bigint() }}) as actual_event_count,
        cast(estimate_event_count as {{ dbt.type_bigint() }}) as estimate_event_count,

        -- booleans
        is_kpi_milestone,
        coalesce(actual_milestone_priority > 1, false) as is_actual_from_fallback_code,
        coalesce(
            milestone_sequence is not null and actual_at < latest_earlier_actual_at, false
        ) as is_out_of_order,

        -- timestamps
        planned_at,
        estimated_at,
        actual_at

    from sequenced
)

select * from final
