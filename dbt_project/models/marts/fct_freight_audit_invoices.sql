{#- Freight audit, invoice grain (docs/finance.md "Freight audit"): one row per carrier invoice
    copy received. invoice_status is the most severe line status, in the order DUPLICATE,
    UNMATCHED, UNEVIDENCED_ACCESSORIAL, OVERCHARGE / UNDERCHARGE, WITHIN_TOLERANCE, MATCHED;
    for OVERCHARGE vs UNDERCHARGE the net variance of the priced lines decides. The has_* flags
    keep every finding, so an overcharged invoice that also bills an unevidenced redelivery is
    counted under both. -#}
with

lines as (
    select * from {{ ref('fct_freight_audit_lines') }}
),

shipments as (
    select * from {{ ref('fct_shipments') }}
),

rolled as (
    select
        freight_audit_invoice_id,
        max(carrier_code) as carrier_code,
        max(invoice_number) as invoice_number,
        max(copy_number) as copy_number,
        max(shipment_id) as shipment_id,
        max(source_format) as source_format,
        max(transport_mode) as transport_mode,
        max(invoice_currency) as invoice_currency,
        max(reporting_currency) as reporting_currency,
        max(duplicate_of_invoice_number) as duplicate_of_invoice_number,
        min(invoice_date) as invoice_date,
        count(*) as line_count,
        sum(invoiced_amount) as invoiced_amount,
        sum(expected_amount) as expected_amount,
        sum(invoiced_reporting_amount) as invoiced_reporting_amount,
        sum(expected_reporting_amount) as expected_reporting_amount,
        sum(case when line_status in ('OVERCHARGE', 'UNDERCHARGE', 'WITHIN_TOLERANCE', 'MATCHED')
            then variance_amount else 0 end) as priced_variance_amount,
        max(case when line_status = 'DUPLICATE' then 1 else 0 end) = 1 as is_duplicate,
        max(case when line_status = 'UNMATCHED' then 1 else 0 end) = 1 as is_unmatched,
        max(case when line_status = 'UNEVIDENCED_ACCESSORIAL' and charge_code = 'RDL' then 1 else 0 end) = 1
            as has_unevidenced_redelivery,
        max(case when line_status = 'UNEVIDENCED_ACCESSORIAL' and charge_code = 'DET' then 1 else 0 end) = 1
            as has_unevidenced_detention,
        max(case when line_status = 'UNEVIDENCED_ACCESSORIAL' then 1 else 0 end) = 1
            as has_unevidenced_accessorial,
        max(case when line_status = 'OVERCHARGE' then 1 else 0 end) = 1 as has_overcharge,
        max(case when line_status = 'UNDERCHARGE' then 1 else 0 end) = 1 as has_undercharge,
        max(case when line_status = 'WITHIN_TOLERANCE' then 1 else 0 end) = 1 as has_within_tolerance,
        max(case when line_status = 'UNEVIDENCED_ACCESSORIAL'
            then status_reason end) as unevidenced_reason
    from lines
    group by freight_audit_invoice_id
),

final as (
    select
        -- ids
        rolled.freight_audit_invoice_id,
        rolled.carrier_code,
        rolled.invoice_number,
        cast(rolled.copy_number as bigint) as copy_number,
        rolled.shipment_id,

        -- strings
        rolled.source_format,
        rolled.transport_mode,
        shipments.lane,
        shipments.country_lane,
        case
            when rolled.is_duplicate then 'DUPLICATE'
            when rolled.is_unmatched then 'UNMATCHED'
            when rolled.has_unevidenced_accessorial then 'UNEVIDENCED_ACCESSORIAL'
            when rolled.has_overcharge or rolled.has_undercharge then
                case when rolled.priced_variance_amount >= 0 then 'OVERCHARGE' else 'UNDERCHARGE' end
            when rolled.has_within_tolerance then 'WITHIN_TOLERANCE'
            else 'MATCHED'
        end as invoice_status,
        case
            when rolled.is_duplicate and rolled.copy_number > 1 then 'invoice number received again (copy ' || rolled.copy_number || ')'
            when rolled.is_duplicate then 'same charges as invoice ' || rolled.duplicate_of_invoice_number
            when rolled.is_unmatched then 'shipment ' || coalesce(rolled.shipment_id, '(none)') || ' is not one of ours'
            when rolled.has_unevidenced_accessorial then rolled.unevidenced_reason
        end as status_reason,
        rolled.duplicate_of_invoice_number,
        rolled.invoice_currency,
        rolled.reporting_currency,

        -- numerics
        rolled.line_count,
        cast(rolled.invoiced_amount as decimal(18, 2)) as invoiced_amount,
        cast(rolled.expected_amount as decimal(18, 2)) as expected_amount,
        cast(rolled.invoiced_amount - coalesce(rolled.expected_amount, 0) as decimal(18, 2)) as variance_amount,
        cast(rolled.invoiced_reporting_amount as decimal(18, 2)) as invoiced_reporting_amount,
        cast(rolled.expected_reporting_amount as decimal(18, 2)) as expected_reporting_amount,

        -- booleans
        rolled.is_duplicate,
        rolled.is_unmatched,
        rolled.has_overcharge,
        rolled.has_undercharge,
        rolled.has_unevidenced_redelivery,
        rolled.has_unevidenced_detention,
        not (rolled.is_duplicate or rolled.is_unmatched or rolled.has_unevidenced_accessorial
            or rolled.has_overcharge or rolled.has_undercharge) as is_accurate,

        -- dates
        rolled.invoice_date
    from rolled
    left join shipments
        on rolled.shipment_id = shipments.shipment_id
)

select * from final
