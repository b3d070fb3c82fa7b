{#- Reason-code seeds (X12 1651 AT7-02/04, DCSA delayReasonCode) in one shape. Parcel and CSV
    reasons are part of their status-code rules (the reason there refines the status). -#}
with

x12_reason_codes as (
    select * from {{ ref('map_x12_reason_codes') }}
),

dcsa_delay_reason_codes as (
    select * from {{ ref('map_dcsa_delay_reason_codes') }}
),

unioned as (
    select
        'X12_1651' as reason_code_list,
        reason_code,
        reason_name,
        is_normal,
        exception_type,
        responsible_party,
        mapping_version
    from x12_reason_codes

    union all

    select
        'DCSA_DELAY_REASON' as reason_code_list,
        delay_reason_code as reason_code,
        reason_name,
        false as is_normal,
        exception_type,
        responsible_party,
        mapping_version
    from dcsa_delay_reason_codes
),

keyed as (
    select
        {{ surrogate_key(['reason_code_list', 'reason_code']) }} as event_reason_rule_id,
        unioned.*
    from unioned
)

select * from keyed
