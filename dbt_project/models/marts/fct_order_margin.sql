{#- Contribution margin per order (DESIGN.md section 5, docs/finance.md "Margin"), reporting
    currency:
      net revenue   = invoiced (goods + freight billed) - credit notes, at the order date
      contribution  = net revenue - landed cost other than freight and duty (goods at cost:
                      quantity x unit_cost, else x unit_price and is_goods_cost_estimated,
                      insurance, non-recoverable import tax, brokerage, handling)
                      - outbound freight - accessorials - duties
    Outbound freight and duties are the landed cost's freight and duty (what the Incoterm puts
    on us): the carrier's invoice once invoiced, the rate card until then (is_freight_estimated).
    Accessorials are the evidenced accessorial charges on its shipments, shared by the order's
    share of each shipment's weight. Provisional until every shipment of the order has a carrier
    invoice and all of them are MATCHED or WITHIN_TOLERANCE. -#}
{%- set reporting = var('reporting_currency') -%}

with

order_lines as (
    select * from {{ ref('int_order_lines_priced') }}
),

landed as (
    select * from {{ ref('fct_landed_cost_orders') }}
),

documents as (
    select * from {{ ref('int_customer_invoice_lines_converted') }}
),

allocations as (
    select * from {{ ref('int_landed_costs_allocated') }}
),

audit_lines as (
    select * from {{ ref('fct_freight_audit_lines') }}
),

audit_invoices as (
    select * from {{ ref('fct_freight_audit_invoices') }}
),

shipments as (
    select * from {{ ref('fct_shipments') }}
),

order_shipments as (
    select distinct order_id, shipment_id
    from {{ ref('int_order_shipment_lines_joined') }}
),

orders as (
    select
        order_id,
        max(customer_id) as customer_id,
        max(sales_channel) as sales_channel,
        max(incoterm) as incoterm,
        min(order_created_at) as order_created_at
    from order_lines
    group by order_id
),

revenue as (
    select
        order_id,
        sum(case when document_type = 'INVOICE' and charge_type = 'GOODS' then signed_reporting_amount else 0 end)
            as goods_invoiced_reporting_amount,
        sum(case when document_type = 'INVOICE' and charge_type <> 'GOODS' then signed_reporting_amount else 0 end)
            as freight_invoiced_reporting_amount,
        -sum(case when document_type = 'CREDIT_NOTE' then signed_reporting_amount else 0 end)
            as credit_note_reporting_amount,
        sum(signed_reporting_amount) as net_revenue_reporting_amount,
        count(distinct case when document_type = 'CREDIT_NOTE' then document_number end)
            as credit_note_count
    from documents
    where order_id is not null
    group by order_id
),

-- the order's share of each shipment: its part of the shipment's freight allocation weight
shares as (
    select
        order_id,
        shipment_id,
        sum(allocation_weight) / nullif(max(sum(allocation_weight)) over (partition by shipment_id), 0)
            as raw_weight
    from allocations
    where cost_component = 'FREIGHT'
    group by order_id, shipment_id
),

shipment_weights as (
    select
        order_id,
        shipment_id,
        raw_weight / nullif(sum(raw_weight) over (partition by shipment_id), 0) as order_share
    from shares
),

accessorials as (
    select
        shipment_id,
        sum(invoiced_reporting_amount) as accessorial_reporting_amount
    from audit_lines
    where charge_class = 'ACCESSORIAL'
        and line_status not in ('DUPLICATE', 'UNMATCHED', 'UNEVIDENCED_ACCESSORIAL')
    group by shipment_id
),

order_accessorials as (
    select
        shipment_weights.order_id,
        sum(round(accessorials.accessorial_reporting_amount * shipment_weights.order_share, 2))
            as accessorial_reporting_amount
    from shipment_weights
    inner join accessorials
        on shipment_weights.shipment_id = accessorials.shipment_id
    group by shipment_weights.order_id
),

shipment_audit as (
    select
        shipment_id,
        count(*) as payable_invoice_count,
        bool_and(invoice_status in ('MATCHED', 'WITHIN_TOLERANCE')) as all_matched
    from audit_invoices
    where invoice_status <> 'DUPLICATE'
    group by shipment_id
),

order_audit as (
    select
        order_shipments.order_id,
        count(*) as shipment_count,
        sum(case when shipment_audit.shipment_id is not null then 1 else 0 end) as invoiced_shipment_count,
        bool_and(coalesce(shipment_audit.all_matched, false)) as all_invoices_matched,
        max(shipments.carrier_code) as carrier_code,
        max(shipments.lane) as lane,
        max(shipments.country_lane) as country_lane
    from order_shipments
    left join shipment_audit
        on order_shipments.shipment_id = shipment_audit.shipment_id
    left join shipments
        on order_shipments.shipment_id = shipments.shipment_id
    group by order_shipments.order_id
),

joined as (
    select
        orders.*,
        order_audit.carrier_code,
        order_audit.lane,
        order_audit.country_lane,
        coalesce(order_audit.shipment_count, 0) as shipment_count,
        coalesce(order_audit.invoiced_shipment_count, 0) as invoiced_shipment_count,
        coalesce(order_audit.all_invoices_matched, false) as all_invoices_matched,
        coalesce(revenue.goods_invoiced_reporting_amount, 0) as goods_invoiced_reporting_amount,
        coalesce(revenue.freight_invoiced_reporting_amount, 0) as freight_invoiced_reporting_amount,
        coalesce(revenue.credit_note_reporting_amount, 0) as credit_note_reporting_amount,
        coalesce(revenue.net_revenue_reporting_amount, 0) as net_revenue_reporting_amount,
        coalesce(revenue.credit_note_count, 0) as credit_note_count,
        coalesce(landed.landed_cost_reporting_amount, 0) as landed_cost_reporting_amount,
        coalesce(landed.landed_cost_reporting_amount, 0)
            - coalesce(landed.freight_reporting_amount, 0)
            - coalesce(landed.duty_reporting_amount, 0) as landed_cost_excl_freight_duty_reporting_amount,
        coalesce(landed.freight_reporting_amount, 0) as outbound_freight_reporting_amount,
        coalesce(landed.duty_reporting_amount, 0) as duty_reporting_amount,
        coalesce(order_accessorials.accessorial_reporting_amount, 0) as accessorial_reporting_amount,
        coalesce(landed.is_freight_estimated, false) as is_freight_estimated,
        coalesce(landed.is_goods_value_at_price, false) as is_goods_cost_estimated
    from orders
    left join order_audit
        on orders.order_id = order_audit.order_id
    left join revenue
        on orders.order_id = revenue.order_id
    left join landed
        on orders.order_id = landed.order_id
    left join order_accessorials
        on orders.order_id = order_accessorials.order_id
),

final as (
    select
        -- ids
        order_id,
        customer_id,
        carrier_code,

        -- strings
        lane,
        country_lane,
        sales_channel,
        incoterm,
        '{{ reporting }}' as reporting_currency,
        case
            when shipment_count > 0 and invoiced_shipment_count = shipment_count and all_invoices_matched
                then 'FINAL'
            else 'PROVISIONAL'
        end as margin_status,

        -- numerics
        cast(shipment_count as bigint) as shipment_count,
        cast(invoiced_shipment_count as bigint) as invoiced_shipment_count,
        cast(credit_note_count as bigint) as credit_note_count,
        cast(goods_invoiced_reporting_amount as decimal(18, 2)) as goods_invoiced_reporting_amount,
        cast(freight_invoiced_reporting_amount as decimal(18, 2)) as freight_invoiced_reporting_amount,
        cast(credit_note_reporting_amount as decimal(18, 2)) as credit_note_reporting_amount,
        cast(net_revenue_reporting_amount as decimal(18, 2)) as net_revenue_reporting_amount,
        cast(landed_cost_reporting_amount as decimal(18, 2)) as landed_cost_reporting_amount,
        cast(landed_cost_excl_freight_duty_reporting_amount as decimal(18, 2))
            as landed_cost_excl_freight_duty_reporting_amount,
        cast(outbound_freight_reporting_amount as decimal(18, 2)) as outbound_freight_reporting_amount,
        cast(accessorial_reporting_amount as decimal(18, 2)) as accessorial_reporting_amount,
        cast(duty_reporting_amount as decimal(18, 2)) as duty_reporting_amount,
        cast(
            net_revenue_reporting_amount - landed_cost_excl_freight_duty_reporting_amount
            - outbound_freight_reporting_amount - accessorial_reporting_amount - duty_reporting_amount
        as decimal(18, 2)) as contribution_margin_reporting_amount,
        cast(
            (net_revenue_reporting_amount - landed_cost_excl_freight_duty_reporting_amount
            - outbound_freight_reporting_amount - accessorial_reporting_amount - duty_reporting_amount)
            / nullif(net_revenue_reporting_amount, 0)
        as double) as contribution_margin_pct,

        -- booleans
        is_freight_estimated,
        is_goods_cost_estimated,
        not (shipment_count > 0 and invoiced_shipment_count = shipment_count and all_invoices_matched)
            as is_provisional,

        -- dates
        cast(order_created_at as date) as order_date
    from joined
)

select * from final
