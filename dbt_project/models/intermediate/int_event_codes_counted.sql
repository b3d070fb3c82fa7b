{#- Mapping coverage (DESIGN.md section 4): how many canonical events each raw code produced
    per source and carrier, and how many of them no mapping seed knows (milestone UNKNOWN). -#}
with

events as (
    select * from {{ ref('int_carrier_events_mapped') }}
),

counted as (
    select
        source,
        carrier_code,
        code_list,
        raw_code,
        raw_reason_code,
        count(*) as event_count,
        sum(case when is_mapped then 1 else 0 end) as mapped_event_count,
        sum(case when is_mapped then 0 else 1 end) as unknown_event_count,
        sum(case when is_unknown_shipment then 1 else 0 end) as unknown_shipment_event_count,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from events
    group by source, carrier_code, code_list, raw_code, raw_reason_code
),

final as (
    select
        {{ surrogate_key(['source', 'carrier_code', 'code_list', 'raw_code', 'raw_reason_code']) }}
            as event_code_count_id,
        counted.*,
        unknown_event_count = 0 as is_mapped
    from counted
)

select * from final
