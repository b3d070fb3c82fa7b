{#- Payables per carrier invoice copy, plus delivered shipments no carrier has invoiced yet
    (docs/finance.md "Aging"). payable_status: MATCHED (MATCHED or WITHIN_TOLERANCE: approve at
    the invoiced amount), DISPUTED (over/undercharge or unevidenced accessorial: approve the
    expected amount, dispute the rest), REJECTED (DUPLICATE or UNMATCHED: pay nothing),
    NOT_INVOICED (delivered, no invoice yet: accrue the rate card's expected freight). The feeds
    carry no payments: every approved amount is open, aged from the invoice date (delivery date
    when not invoiced) to the as-of date. -#}
{%- set reporting = var('reporting_currency') -%}

with

invoices as (
    select * from {{ ref('fct_freight_audit_invoices') }}
),

shipments as (
    select * from {{ ref('fct_shipments') }}
),

expected as (
    select * from {{ ref('int_freight_costs_expected') }}
),

as_of as (
    select {{ aging_as_of([(ref('int_customer_invoice_lines_converted'), 'document_date'), (ref('fct_freight_audit_invoices'), 'invoice_date')]) }} as as_of_date
),

invoiced as (
    select
        freight_audit_invoice_id as payable_id,
        carrier_code,
        invoice_number,
        copy_number,
        shipment_id,
        invoice_status,
        case
            when invoice_status in ('MATCHED', 'WITHIN_TOLERANCE') then 'MATCHED'
            when invoice_status in ('DUPLICATE', 'UNMATCHED') then 'REJECTED'
            else 'DISPUTED'
        end as payable_status,
        invoice_currency as currency_code,
        invoiced_amount,
        expected_amount,
        invoiced_reporting_amount,
        case
            when invoice_status in ('MATCHED', 'WITHIN_TOLERANCE') then invoiced_reporting_amount
            when invoice_status in ('DUPLICATE', 'UNMATCHED') then 0
            else expected_reporting_amount
        end as approved_reporting_amount,
        invoice_date as age_date,
        invoice_date
    from invoices
),

not_invoiced as (
    select
        {{ surrogate_key(["'NOT_INVOICED'", 'shipments.shipment_id']) }} as payable_id,
        shipments.carrier_code,
        cast(null as varchar) as invoice_number,
        cast(null as bigint) as copy_number,
        shipments.shipment_id,
        cast(null as varchar) as invoice_status,
        'NOT_INVOICED' as payable_status,
        expected.rate_card_currency as currency_code,
        cast(0 as decimal(18, 2)) as invoiced_amount,
        expected.expected_freight_amount as expected_amount,
        cast(0 as decimal(18, 2)) as invoiced_reporting_amount,
        {{ to_reporting('fx', 'expected.expected_freight_amount') }} as approved_reporting_amount,
        cast(shipments.delivered_at as date) as age_date,
        cast(null as date) as invoice_date
    from shipments
    inner join expected
        on shipments.shipment_id = expected.shipment_id
    {{ fx_join('fx', 'expected.rate_card_currency', 'cast(shipments.delivered_at as date)') }}
    where shipments.delivered_at is not null
        and shipments.shipment_id not in (
            select shipment_id from invoices where shipment_id is not null and invoice_status <> 'UNMATCHED'
        )
),

unioned as (
    select * from invoiced
    union all
    select * from not_invoiced
),

final as (
    select
        unioned.payable_id,
        unioned.carrier_code,
        unioned.invoice_number,
        cast(unioned.copy_number as bigint) as copy_number,
        unioned.shipment_id,
        unioned.invoice_status,
        unioned.payable_status,
        unioned.currency_code,
        '{{ reporting }}' as reporting_currency,
        {{ aging_bucket("datediff('day', unioned.age_date, as_of.as_of_date)") }} as aging_bucket,
        cast(unioned.invoiced_amount as decimal(18, 2)) as invoiced_amount,
        cast(unioned.expected_amount as decimal(18, 2)) as expected_amount,
        cast(unioned.invoiced_reporting_amount as decimal(18, 2)) as invoiced_reporting_amount,
        cast(unioned.approved_reporting_amount as decimal(18, 2)) as approved_reporting_amount,
        cast(unioned.invoiced_reporting_amount - unioned.approved_reporting_amount as decimal(18, 2))
            as disputed_reporting_amount,
        cast(datediff('day', unioned.age_date, as_of.as_of_date) as bigint) as days_outstanding,
        unioned.payable_status = 'MATCHED' as is_matched,
        unioned.payable_status in ('MATCHED', 'DISPUTED', 'NOT_INVOICED') as is_open,
        unioned.invoice_date,
        as_of.as_of_date
    from unioned
    cross join as_of
)

select * from final
