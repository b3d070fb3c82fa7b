{#- What the loads after the last successful build touch (macros/incremental.sql): the carrier
    shipment references (REF) whose events must be re-derived and the shipments (SHIPMENT) whose
    milestones and KPIs must be recomputed. Appended per run; rows of builds that completed are
    pruned. Empty on a full build (nothing reads it then).

    REF: the reference of every event delivered since (new, corrected, retracted), the old
    reference of an event that now carries another, the shipment id and tracking number of
    every shipment whose shipment or order lines changed, and the references of the events
    linked to those shipments before (a changed tracking number un-links them).
    SHIPMENT: shipments whose lines or orders changed, and every shipment an event of a changed
    reference links to. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{% if is_incremental() and var('incremental_since', none) is not none %}delete from {{ this }} where build_load_id <= {{ var('incremental_since') | int }}{% endif %}"
) }}

{%- if waybill.incremental_scope_known() %}
{%- set since = var('incremental_since') | int -%}
{%- set load_id = var('incremental_load_id') | int -%}
{%- set previous_events = waybill.previous_build('int_carrier_events_mapped', 'intermediate') -%}

with

new_events as (
    select
        event_id,
        coalesce(carrier_shipment_ref, '') as ref
    from {{ ref('int_carrier_events_unioned') }}
    where _load_id > {{ since }}
),

shipments as (
    select * from {{ ref('int_shipments_aggregated') }}
),

changed_orders as (
    select order_id from {{ ref('stg_oms__order_lines') }} where _load_id > {{ since }}
),

changed_oms_shipments as (
    select shipment_id from {{ ref('stg_oms__shipment_lines') }} where _load_id > {{ since }}
    union
    select shipment_id from {{ ref('stg_oms__shipment_lines') }}
    where order_id in (select order_id from changed_orders)
),

changed_refs as (
    select ref from new_events
    union
    select coalesce(carrier_shipment_ref, '') from {{ previous_events }}
    where event_id in (select event_id from new_events)
    union
    select coalesce(carrier_shipment_ref, '') from {{ previous_events }}
    where shipment_id in (select shipment_id from changed_oms_shipments)
    union
    select shipment_id from changed_oms_shipments
    union
    select tracking_number from shipments
    where shipment_id in (select shipment_id from changed_oms_shipments)
        and tracking_number is not null
),

changed_shipments as (
    select shipment_id from changed_oms_shipments
    union
    -- every shipment an event of a changed reference links to, now (int_carrier_events_mapped
    -- links by shipment id or tracking number). Where it linked before is the same shipment
    -- unless that shipment's lines changed, and then it is in changed_oms_shipments.
    select shipment_id from shipments
    where shipment_id in (select ref from changed_refs)
        or tracking_number in (select ref from changed_refs)
),

keys as (
    select 'REF' as key_type, ref as key_value from changed_refs
    union all
    select 'SHIPMENT' as key_type, shipment_id as key_value from changed_shipments
),

final as (
    select
        {{ surrogate_key(['key_type', 'key_value', load_id]) }} as changed_key_id,
        key_type,
        key_value,
        cast({{ load_id }} as {{ dbt.type_bigint() }}) as build_load_id
    from keys
)

-- a build retried at the same load keeps what the first attempt found, and adds the rest
select * from final
where changed_key_id not in (select changed_key_id from {{ this }})

{%- else %}

select
    cast(null as {{ dbt.type_string() }}) as changed_key_id,
    cast(null as {{ dbt.type_string() }}) as key_type,
    cast(null as {{ dbt.type_string() }}) as key_value,
    cast(null as {{ dbt.type_bigint() }}) as build_load_id
-- the refs keep dbt's build order: every input above comes first
-- depends_on: {{ ref('int_carrier_events_unioned') }} {{ ref('int_shipments_aggregated') }}
-- depends_on: {{ ref('stg_oms__order_lines') }} {{ ref('stg_oms__shipment_lines') }}
where false

{%- endif %}
