{#- Incremental (macros/incremental.sql): the events of the changed carrier shipment references. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ waybill.delete_changed_keys('carrier_shipment_ref', 'REF') }}"
) }}

with

events as (
    select * from {{ ref('int_carrier_events_mapped') }}
    {{ waybill.where_changed('carrier_shipment_ref', 'REF') }}
),

final as (
    select
        -- ids
        event_id,
        source_event_id,
        shipment_id,
        carrier_shipment_ref,

        -- strings
        source,
        carrier_code,
        code_list,
        raw_code,
        raw_reason_code,
        milestone,
        classifier,
        exception_type,
        responsible_party,
        exception_basis,
        event_remark,
        location_locode,
        location_role,
        event_time_zone,
        event_time_basis,
        mapping_version,
        remark_mapping_version,
        source_file_name,

        -- numerics
        milestone_priority,

        -- booleans
        is_unknown_shipment,
        is_mapped,
        is_exception,

        -- timestamps
        event_at,
        event_local,
        received_at

    from events
)

select * from final
