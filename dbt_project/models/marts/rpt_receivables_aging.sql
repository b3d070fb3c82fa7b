{#- Receivables per order x shipment (docs/finance.md "Aging"): what we billed the customer
    (invoices, credit notes) vs what we expected to bill for the goods shipped, invoices without
    proof of delivery, delivered shipments not billed yet, and the aging bucket of the open
    amount (days from the invoice date, or from the delivery date when unbilled, to the as-of
    date). The feeds carry no customer payments: everything billed is open. -#}
{%- set reporting = var('reporting_currency') -%}

with

documents as (
    select * from {{ ref('int_customer_invoice_lines_converted') }}
),

shipment_lines as (
    select * from {{ ref('int_order_shipment_lines_joined') }}
),

order_lines as (
    select * from {{ ref('int_order_lines_priced') }}
),

shipments as (
    select * from {{ ref('fct_shipments') }}
),

audit as (
    select * from {{ ref('fct_freight_audit_invoices') }}
),

expected as (
    select
        shipment_lines.order_id,
        shipment_lines.shipment_id,
        max(order_lines.customer_id) as customer_id,
        max(order_lines.unit_price_currency) as currency_code,
        sum(order_lines.unit_price_amount * shipment_lines.quantity_shipped) as expected_goods_amount
    from shipment_lines
    inner join order_lines
        on shipment_lines.order_line_id = order_lines.order_line_id
    group by shipment_lines.order_id, shipment_lines.shipment_id
),

billed as (
    select
        order_id,
        shipment_id,
        max(customer_id) as customer_id,
        max(line_currency) as currency_code,
        min(case when document_type = 'INVOICE' then document_number end) as document_number,
        min(case when document_type = 'INVOICE' then document_date end) as document_date,
        min(case when document_type = 'INVOICE' then due_date end) as due_date,
        sum(case when document_type = 'INVOICE' and charge_type = 'GOODS' then line_amount else 0 end)
            as billed_goods_amount,
        sum(case when document_type = 'INVOICE' and charge_type <> 'GOODS' then line_amount else 0 end)
            as billed_freight_amount,
        sum(case when document_type = 'CREDIT_NOTE' then line_amount else 0 end) as credited_amount,
        sum(signed_amount) as open_amount,
        sum(signed_reporting_amount) as open_reporting_amount
    from documents
    group by order_id, shipment_id
),

joined as (
    select
        coalesce(expected.order_id, billed.order_id) as order_id,
        coalesce(expected.shipment_id, billed.shipment_id) as shipment_id,
        coalesce(expected.customer_id, billed.customer_id) as customer_id,
        coalesce(billed.currency_code, expected.currency_code) as currency_code,
        billed.document_number,
        billed.document_date,
        billed.due_date,
        coalesce(expected.expected_goods_amount, 0) as expected_goods_amount,
        coalesce(billed.billed_goods_amount, 0) as billed_goods_amount,
        coalesce(billed.billed_freight_amount, 0) as billed_freight_amount,
        coalesce(billed.credited_amount, 0) as credited_amount,
        coalesce(billed.open_amount, 0) as open_amount,
        coalesce(billed.open_reporting_amount, 0) as open_reporting_amount,
        billed.document_number is not null as is_billed
    from expected
    full outer join billed
        on expected.order_id = billed.order_id
        and expected.shipment_id = billed.shipment_id
),

as_of as (
    select {{ aging_as_of([(ref('int_customer_invoice_lines_converted'), 'document_date'), (ref('fct_freight_audit_invoices'), 'invoice_date')]) }} as as_of_date
),

final as (
    select
        {{ surrogate_key(['joined.order_id', 'joined.shipment_id']) }} as receivable_id,
        joined.order_id,
        joined.shipment_id,
        joined.customer_id,
        shipments.carrier_code,
        joined.document_number,
        joined.currency_code,
        '{{ reporting }}' as reporting_currency,
        case
            when joined.is_billed then {{ aging_bucket('datediff(\'day\', joined.document_date, as_of.as_of_date)') }}
            when shipments.delivered_at is not null
                then {{ aging_bucket('datediff(\'day\', cast(shipments.delivered_at as date), as_of.as_of_date)') }}
            else 'NOT_DUE'
        end as aging_bucket,
        cast(joined.expected_goods_amount as decimal(18, 2)) as expected_goods_amount,
        cast(joined.billed_goods_amount as decimal(18, 2)) as billed_goods_amount,
        cast(joined.billed_goods_amount - joined.expected_goods_amount as decimal(18, 2)) as billing_variance_amount,
        cast(joined.billed_freight_amount as decimal(18, 2)) as billed_freight_amount,
        cast(joined.credited_amount as decimal(18, 2)) as credited_amount,
        cast(joined.open_amount as decimal(18, 2)) as open_amount,
        cast(joined.open_reporting_amount as decimal(18, 2)) as open_reporting_amount,
        cast(case
            when joined.is_billed then datediff('day', joined.document_date, as_of.as_of_date)
            when shipments.delivered_at is not null
                then datediff('day', cast(shipments.delivered_at as date), as_of.as_of_date)
        end as bigint) as days_outstanding,
        joined.is_billed,
        shipments.delivered_at is not null as has_proof_of_delivery,
        shipments.delivered_at is not null and not joined.is_billed as is_unbilled_delivered,
        joined.is_billed and shipments.delivered_at is null as is_billed_without_pod,
        audit.shipment_id is not null as has_carrier_invoice,
        joined.document_date,
        joined.due_date,
        cast(shipments.delivered_at as date) as delivered_date,
        as_of.as_of_date
    from joined
    cross join as_of
    left join shipments
        on joined.shipment_id = shipments.shipment_id
    left join (select distinct shipment_id from audit where invoice_status <> 'DUPLICATE') as audit
        on joined.shipment_id = audit.shipment_id
)

select * from final
