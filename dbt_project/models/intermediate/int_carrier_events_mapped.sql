{#- The canonical carrier event (DESIGN.md section 4): one row per event a carrier sent, linked
    to its shipment, mapped to a milestone through the versioned seeds, with UTC and local time.

    - Shipment link: X12 and CSV carry our shipment id; parcel tracking numbers and DCSA booking
      references are matched to stg_oms__shipment_lines.tracking_number. Events for shipments
      we do not know keep a null shipment_id (is_unknown_shipment) and are not dropped.
    - Location role: ORIGIN / DESTINATION when the event's place is the shipment's origin /
      destination, else OTHER; some codes mean a milestone only there (X12 X4, UPS I/AR ...).
    - Mapping: the most specific matching rule of int_event_code_rules_unioned; none -> UNKNOWN.
    - Exceptions: milestone EXCEPTION, or a reason code that is not "normal" (X12 1651 other
      than NS/NA, any DCSA delay reason). Where the code names no cause (DHL OH, DCSA SHIPMENT
      HOLD, EQUIPMENT INSP), a free-text rule of map_event_remark_rules may read it from the
      event's remark. exception_type from the remark rule, else the status rule, else the
      reason; responsible_party from a coded reason, else the remark rule, else the status rule,
      else UNKNOWN. exception_basis says which of them decided the party.
    - DCSA v3 retractions: staging keeps the latest version per eventID; when that is the
      retraction (isRetracted), the event is removed here. Corrected re-sends already replaced
      their original in staging (same eventID / CSV event_id, later delivery).
    Incremental (macros/incremental.sql): a run re-derives the events of the changed carrier
    shipment references only. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ waybill.delete_changed_keys('carrier_shipment_ref', 'REF') }}"
) }}

with

events as (
    select * from {{ ref('int_carrier_events_localized') }}
    {{ waybill.where_changed('carrier_shipment_ref', 'REF') }}
),

shipments as (
    select * from {{ ref('int_shipments_aggregated') }}
),

code_rules as (
    select * from {{ ref('int_event_code_rules_unioned') }}
),

reason_rules as (
    select * from {{ ref('int_event_reason_rules_unioned') }}
),

remark_rules as (
    select * from {{ ref('map_event_remark_rules') }}
),

linked as (
    select
        events.event_id,
        events.source,
        events.source_event_id,
        coalesce(events.carrier_code, by_id.carrier_code, by_tracking.carrier_code) as carrier_code,
        events.carrier_shipment_ref,
        coalesce(by_id.shipment_id, by_tracking.shipment_id) as shipment_id,
        events.code_list,
        events.raw_code,
        events.raw_reason_code,
        events.reason_code_list,
        events.raw_classifier,
        events.empty_indicator_code,
        events.facility_type_code,
        events.resolved_locode as location_locode,
        events.location_city,
        case
            when events.resolved_locode is null then 'OTHER'
            when events.resolved_locode = coalesce(by_id.destination_locode, by_tracking.destination_locode)
                then 'DESTINATION'
            when events.resolved_locode = coalesce(by_id.origin_locode, by_tracking.origin_locode)
                then 'ORIGIN'
            else 'OTHER'
        end as location_role,
        events.event_at,
        events.event_local,
        events.event_time_zone,
        events.event_time_basis,
        events.received_at,
        events.event_remark,
        events._source_file as source_file_name,
        events._row_number as source_row_number
    from events
    left join shipments as by_id
        on events.shipment_ref_type = 'SHIPMENT_ID'
        and events.carrier_shipment_ref = by_id.shipment_id
    left join shipments as by_tracking
        on events.shipment_ref_type = 'TRACKING_NUMBER'
        and events.carrier_shipment_ref = by_tracking.tracking_number
    where not events.is_retracted
),

rule_candidates as (
    select
        linked.event_id,
        code_rules.milestone,
        code_rules.classifier,
        code_rules.milestone_priority,
        code_rules.exception_type,
        code_rules.responsible_party,
        code_rules.mapping_version,
        row_number() over (
            partition by linked.event_id
            order by code_rules.rule_specificity desc, code_rules.milestone_priority
        ) as rule_rank
    from linked
    inner join code_rules
        on linked.code_list = code_rules.code_list
        and linked.raw_code = code_rules.raw_code
        and (code_rules.carrier_code = '*' or code_rules.carrier_code = linked.carrier_code)
        and (code_rules.raw_reason_code = '*' or code_rules.raw_reason_code = linked.raw_reason_code)
        and (code_rules.empty_indicator_code = '*' or code_rules.empty_indicator_code = linked.empty_indicator_code)
        and (code_rules.facility_type_code = '*' or code_rules.facility_type_code = linked.facility_type_code)
        and (code_rules.location_role = '*' or code_rules.location_role = linked.location_role)
),

best_rules as (
    select * from rule_candidates where rule_rank = 1
),

remark_candidates as (
    select
        linked.event_id,
        remark_rules.exception_type,
        remark_rules.responsible_party,
        remark_rules.mapping_version,
        row_number() over (
            partition by linked.event_id
            order by
                case when remark_rules.carrier_code = '*' then 1 else 0 end,
                {{ dbt.length('remark_rules.remark_contains') }} desc,
                remark_rules.remark_contains
        ) as rule_rank
    from linked
    inner join remark_rules
        on linked.code_list = remark_rules.code_list
        and linked.raw_code = remark_rules.raw_code
        and (remark_rules.carrier_code = '*' or remark_rules.carrier_code = linked.carrier_code)
        and {{ dbt.position('lower(remark_rules.remark_contains)', 'lower(linked.event_remark)') }} > 0
),

best_remark_rules as (
    select * from remark_candidates where rule_rank = 1
),

mapped as (
    select
        linked.*,
        coalesce(best_rules.milestone, 'UNKNOWN') as milestone,
        case
            when best_rules.classifier is not null then best_rules.classifier
            -- DCSA REQ (requested by the shipper) is a plan for our purposes
            when linked.raw_classifier = 'REQ' then 'PLN'
            when linked.raw_classifier in ('PLN', 'EST', 'ACT') then linked.raw_classifier
            else 'ACT'
        end as classifier,
        coalesce(best_rules.milestone_priority, 1) as milestone_priority,
        best_rules.milestone is not null as is_mapped,
        best_rules.exception_type as rule_exception_type,
        best_rules.responsible_party as rule_responsible_party,
        reason_rules.is_normal as is_normal_reason,
        reason_rules.exception_type as reason_exception_type,
        reason_rules.responsible_party as reason_responsible_party,
        best_remark_rules.exception_type as remark_exception_type,
        best_remark_rules.responsible_party as remark_responsible_party,
        best_remark_rules.mapping_version as remark_mapping_version,
        best_rules.mapping_version
    from linked
    left join best_rules
        on linked.event_id = best_rules.event_id
    left join best_remark_rules
        on linked.event_id = best_remark_rules.event_id
    left join reason_rules
        on linked.reason_code_list = reason_rules.reason_code_list
        and linked.raw_reason_code = reason_rules.reason_code
),

classified as (
    select
        mapped.*,
        (
            milestone = 'EXCEPTION'
            or rule_exception_type is not null
            or coalesce(not is_normal_reason, false)
        ) as is_exception
    from mapped
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
        raw_classifier,
        milestone,
        classifier,
        case
            when is_exception then coalesce(
                remark_exception_type, rule_exception_type, reason_exception_type, 'OTHER'
            )
        end as exception_type,
        case
            when is_exception then coalesce(
                case when not is_normal_reason then reason_responsible_party end,
                remark_responsible_party,
                rule_responsible_party,
                'UNKNOWN'
            )
        end as responsible_party,
        -- what decided responsible_party (the coalesce above, in its order)
        case
            when not is_exception then null
            when not is_normal_reason and reason_responsible_party is not null then 'REASON_CODE'
            when remark_responsible_party is not null then 'REMARK'
            when rule_responsible_party is not null then 'STATUS_CODE'
            else 'NONE'
        end as exception_basis,
        location_locode,
        location_city,
        location_role,
        event_time_zone,
        event_time_basis,
        event_remark,
        mapping_version,
        case when is_exception then remark_mapping_version end as remark_mapping_version,
        source_file_name,

        -- numerics
        milestone_priority,
        source_row_number,

        -- booleans
        shipment_id is null as is_unknown_shipment,
        is_mapped,
        is_exception,

        -- timestamps
        event_at,
        event_local,
        received_at

    from classified
)

select * from final
