{#- Carrier cost and invoice accuracy per carrier x lane x mode x invoice month (docs/finance.md
    "Carrier cost"): the finance view, by the month the carrier billed, with invoices for
    unknown shipments in '(unmatched)' rows. The carrier scorecard (rpt_carrier_scorecard)
    attributes the same invoices to their shipments' planned-pickup month instead; both add up
    to the same totals over all rows. Invoices audited = every invoice copy received;
    accurate = MATCHED or WITHIN_TOLERANCE. Cost counts the invoices we accept to pay (not
    DUPLICATE, not UNMATCHED) in the reporting currency; shipments and weight are the distinct
    matched shipments invoiced in the month. Numerators and denominators are kept; the ratios
    are null when the denominator is 0. -#}
with

invoices as (
    select * from {{ ref('fct_freight_audit_invoices') }}
),

expected as (
    select * from {{ ref('int_freight_costs_expected') }}
),

keyed as (
    select
        invoices.*,
        coalesce(invoices.lane, '(unmatched)') as lane_key,
        coalesce(invoices.transport_mode, '(unmatched)') as mode_key,
        cast(date_trunc('month', invoices.invoice_date) as date) as invoice_month,
        not (invoices.is_duplicate or invoices.is_unmatched) as is_payable
    from invoices
),

shipment_months as (
    select distinct
        keyed.carrier_code,
        keyed.lane_key,
        keyed.mode_key,
        keyed.invoice_month,
        keyed.shipment_id,
        expected.gross_weight_kg
    from keyed
    inner join expected
        on keyed.shipment_id = expected.shipment_id
    where keyed.is_payable
),

shipment_totals as (
    select
        carrier_code,
        lane_key,
        mode_key,
        invoice_month,
        count(*) as shipment_count,
        sum(gross_weight_kg) as gross_weight_kg
    from shipment_months
    group by all
),

invoice_totals as (
    select
        carrier_code,
        lane_key,
        mode_key,
        invoice_month,
        max(reporting_currency) as reporting_currency,
        count(*) as invoices_audited,
        sum(case when is_accurate then 1 else 0 end) as invoices_accurate,
        sum(invoiced_reporting_amount) as invoiced_reporting_amount,
        sum(case when is_payable then invoiced_reporting_amount else 0 end) as payable_reporting_amount,
        sum(case when is_payable then expected_reporting_amount else 0 end) as expected_reporting_amount
    from keyed
    group by all
),

final as (
    select
        {{ surrogate_key(['invoice_totals.carrier_code', 'invoice_totals.lane_key', 'invoice_totals.mode_key', 'invoice_totals.invoice_month']) }}
            as carrier_cost_month_id,
        invoice_totals.carrier_code,
        invoice_totals.lane_key as lane,
        invoice_totals.mode_key as transport_mode,
        invoice_totals.invoice_month,
        invoice_totals.reporting_currency,
        cast(invoice_totals.invoices_audited as bigint) as invoices_audited,
        cast(invoice_totals.invoices_accurate as bigint) as invoices_accurate,
        cast(invoice_totals.invoices_accurate as double) / nullif(invoice_totals.invoices_audited, 0)
            as invoice_accuracy,
        cast(invoice_totals.invoiced_reporting_amount as decimal(18, 2)) as invoiced_reporting_amount,
        cast(invoice_totals.payable_reporting_amount as decimal(18, 2)) as payable_reporting_amount,
        cast(invoice_totals.expected_reporting_amount as decimal(18, 2)) as expected_reporting_amount,
        cast(coalesce(shipment_totals.shipment_count, 0) as bigint) as shipment_count,
        cast(coalesce(shipment_totals.gross_weight_kg, 0) as decimal(18, 4)) as gross_weight_kg,
        cast(invoice_totals.payable_reporting_amount / nullif(shipment_totals.shipment_count, 0) as decimal(18, 2))
            as cost_per_shipment_reporting_amount,
        cast(invoice_totals.payable_reporting_amount / nullif(shipment_totals.gross_weight_kg, 0) as decimal(18, 4))
            as cost_per_kg_reporting_amount
    from invoice_totals
    left join shipment_totals
        on invoice_totals.carrier_code = shipment_totals.carrier_code
        and invoice_totals.lane_key = shipment_totals.lane_key
        and invoice_totals.mode_key = shipment_totals.mode_key
        and invoice_totals.invoice_month = shipment_totals.invoice_month
)

select * from final
