{#- Sum over statuses = sum invoiced (DESIGN.md section 6): the invoice grain's totals per status
    add up to the line grain's, and every line of the unioned invoice feeds appears once per copy
    received. Rows returned = failures. -#}
with

received as (
    select sum(charge_amount * coalesce(_versions_received, 1)) as amount, sum(coalesce(_versions_received, 1)) as line_count
    from {{ ref('int_freight_invoice_lines_unioned') }}
),

lines as (
    select sum(invoiced_amount) as amount, count(*) as line_count
    from {{ ref('fct_freight_audit_lines') }}
),

invoices as (
    select sum(invoiced_amount) as amount, sum(line_count) as line_count
    from {{ ref('fct_freight_audit_invoices') }}
)

select *
from received, lines, invoices
where received.amount <> lines.amount
    or received.amount <> invoices.amount
    or received.line_count <> lines.line_count
    or received.line_count <> invoices.line_count
