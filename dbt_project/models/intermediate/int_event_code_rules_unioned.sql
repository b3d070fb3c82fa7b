{#- Every status-code mapping seed in one shape, so one join maps every feed. '*' is a wildcard;
    a rule that names more keys (rule_specificity) wins over a wildcard rule. classifier null
    means "as the event says" (DCSA sends PLN/EST/ACT itself). -#}
with

x12_status_codes as (
    select * from {{ ref('map_x12_status_codes') }}
),

x12_appointment_codes as (
    select * from {{ ref('map_x12_appointment_codes') }}
),

dcsa_event_codes as (
    select * from {{ ref('map_dcsa_event_codes') }}
),

parcel_status_codes as (
    select * from {{ ref('map_parcel_status_codes') }}
),

csv_event_codes as (
    select * from {{ ref('map_csv_event_codes') }}
),

unioned as (
    select
        'X12_1650' as code_list,
        '*' as carrier_code,
        status_code as raw_code,
        '*' as raw_reason_code,
        '*' as empty_indicator_code,
        '*' as facility_type_code,
        location_role,
        milestone,
        classifier,
        milestone_priority,
        exception_type,
        responsible_party,
        status_name as rule_description,
        mapping_version
    from x12_status_codes

    union all

    select
        'X12_1652' as code_list,
        '*' as carrier_code,
        appointment_code as raw_code,
        '*' as raw_reason_code,
        '*' as empty_indicator_code,
        '*' as facility_type_code,
        '*' as location_role,
        milestone,
        classifier,
        1 as milestone_priority,
        cast(null as {{ dbt.type_string() }}) as exception_type,
        cast(null as {{ dbt.type_string() }}) as responsible_party,
        appointment_name as rule_description,
        mapping_version
    from x12_appointment_codes

    union all

    select
        'DCSA_' || event_type as code_list,
        '*' as carrier_code,
        event_type_code as raw_code,
        '*' as raw_reason_code,
        empty_indicator_code,
        facility_type_code,
        location_role,
        milestone,
        cast(null as {{ dbt.type_string() }}) as classifier,
        milestone_priority,
        exception_type,
        responsible_party,
        mapping_description as rule_description,
        mapping_version
    from dcsa_event_codes

    union all

    select
        'PARCEL' as code_list,
        carrier_code,
        status_code as raw_code,
        reason_code as raw_reason_code,
        '*' as empty_indicator_code,
        '*' as facility_type_code,
        location_role,
        milestone,
        classifier,
        milestone_priority,
        exception_type,
        responsible_party,
        mapping_description as rule_description,
        mapping_version
    from parcel_status_codes

    union all

    select
        'CARRIER_CSV' as code_list,
        '*' as carrier_code,
        event_code as raw_code,
        reason_code as raw_reason_code,
        '*' as empty_indicator_code,
        '*' as facility_type_code,
        location_role,
        milestone,
        classifier,
        milestone_priority,
        exception_type,
        responsible_party,
        mapping_description as rule_description,
        mapping_version
    from csv_event_codes
),

scored as (
    select
        {{ surrogate_key(['code_list', 'carrier_code', 'raw_code', 'raw_reason_code', 'empty_indicator_code', 'facility_type_code', 'location_role']) }}
            as event_code_rule_id,
        unioned.*,
        (case when carrier_code = '*' then 0 else 1 end)
        + (case when raw_reason_code = '*' then 0 else 1 end)
        + (case when empty_indicator_code = '*' then 0 else 1 end)
        + (case when facility_type_code = '*' then 0 else 1 end)
        + (case when location_role = '*' then 0 else 1 end) as rule_specificity
    from unioned
)

select * from scored
