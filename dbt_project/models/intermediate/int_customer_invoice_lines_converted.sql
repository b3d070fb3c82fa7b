{#- Customer invoice and credit note lines (AR) with a signed amount (credit notes negative)
    converted to the reporting currency at the order date (DESIGN.md section 5: revenue at
    order date; the document date when the order is unknown). -#}
with

documents as (
    select * from {{ ref('stg_erp__customer_invoice_lines') }}
),

orders as (
    select order_id, min(order_created_at) as order_created_at
    from {{ ref('int_order_lines_priced') }}
    group by order_id
),

dated as (
    select
        documents.*,
        case when documents.document_type = 'CREDIT_NOTE' then -1 else 1 end * documents.line_amount
            as signed_amount,
        coalesce(cast(orders.order_created_at as date), documents.document_date) as fx_on_date
    from documents
    left join orders
        on documents.order_id = orders.order_id
),

converted as (
    select
        dated.customer_invoice_line_id,
        dated.document_number,
        dated.line_number,
        dated.document_type,
        dated.related_document_number,
        dated.customer_id,
        dated.order_id,
        dated.shipment_id,
        dated.charge_type,
        dated.line_amount,
        dated.signed_amount,
        dated.line_currency,
        dated.document_date,
        dated.due_date,
        dated.fx_on_date,
        fx.rate_to_reporting as fx_rate,
        fx.rate_date as fx_rate_date,
        {{ to_reporting('fx', 'dated.signed_amount') }} as signed_reporting_amount
    from dated
    {{ fx_join('fx', 'dated.line_currency', 'dated.fx_on_date') }}
)

select * from converted
