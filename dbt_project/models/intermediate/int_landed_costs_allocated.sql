{{ config(materialized="table") }}
{#- Landed cost allocation (DESIGN.md section 5, docs/finance.md "Landed cost"): every cost of
    a shipment allocated to its shipment lines (shipment x order line), whoever pays it; the
    Incoterm split happens in fct_landed_cost_lines.
      FREIGHT    carrier base + fuel invoiced for the shipment (lines not DUPLICATE; unpriced
                 lines of our shipments count), else the rate card's expected freight
                 (is_estimated)                                     by weight
      INSURANCE  goods value x cargo_insurance_cover_pct % x cargo_insurance_rate_pct %  by value
      DUTY, IMPORT_TAX (non-recoverable only), BROKERAGE  from the customs entry       by value
      HANDLING   var handling_cost_per_shipment                     by quantity
    Shipped shipments only. Each source amount is allocated to the cent twice with largest
    remainders: in its own currency and converted to the reporting currency at the receipt
    date (delivered, else picked up, else shipped), so both sum back to the source exactly. -#}
{%- set reporting = var('reporting_currency') -%}
{%- set handling = var('handling_cost_per_shipment') -%}

with

shipment_lines as (
    select * from {{ ref('stg_oms__shipment_lines') }}
),

order_lines as (
    select * from {{ ref('stg_oms__order_lines') }}
),

shipments as (
    select * from {{ ref('fct_shipments') }}
),

expected as (
    select * from {{ ref('int_freight_costs_expected') }}
),

audit_lines as (
    select * from {{ ref('fct_freight_audit_lines') }}
),

customs as (
    select * from {{ ref('stg_customs__entries') }}
),

lines as (
    select
        shipment_lines.shipment_line_id,
        shipment_lines.shipment_id,
        order_lines.order_line_id,
        shipment_lines.order_id,
        shipment_lines.line_number,
        shipment_lines.quantity_shipped,
        order_lines.unit_price_currency as goods_currency,
        cast(order_lines.unit_price_amount * shipment_lines.quantity_shipped as decimal(18, 2))
            as goods_value_amount,
        case
            when order_lines.quantity_ordered > 0
                then order_lines.weight_kg * shipment_lines.quantity_shipped / order_lines.quantity_ordered
        end as weight_kg,
        cast(coalesce(shipments.delivered_at, shipments.picked_up_at, expected.shipped_at) as date)
            as receipt_date
    from shipment_lines
    inner join order_lines
        on shipment_lines.order_id = order_lines.order_id
        and shipment_lines.line_number = order_lines.line_number
    left join shipments
        on shipment_lines.shipment_id = shipments.shipment_id
    left join expected
        on shipment_lines.shipment_id = expected.shipment_id
    where coalesce(shipments.picked_up_at, expected.shipped_at) is not null
),

shipment_totals as (
    select
        shipment_id,
        max(receipt_date) as receipt_date,
        max(goods_currency) as goods_currency,
        sum(goods_value_amount) as goods_value_amount
    from lines
    group by shipment_id
),

invoiced_freight as (
    select
        shipment_id,
        max(invoice_currency) as currency_code,
        sum(invoiced_amount) as amount,
        {{ dbt.listagg("distinct invoice_number", "', '") }} as source_reference
    from audit_lines
    -- every non-duplicate base/fuel line billed for one of our shipments, audited or not: a
    -- line no rate card prices (UNMATCHED, the shipment is ours) is still what we were billed
    where charge_class in ('BASE', 'FUEL')
        and line_status <> 'DUPLICATE'
        and is_known_shipment
    group by shipment_id
),

sources as (
    select
        shipment_totals.shipment_id,
        'FREIGHT' as cost_component,
        'WEIGHT' as allocation_basis,
        coalesce(invoiced_freight.amount, expected.expected_freight_amount) as source_amount,
        coalesce(invoiced_freight.currency_code, expected.rate_card_currency) as source_currency,
        coalesce('invoice ' || invoiced_freight.source_reference, 'rate card ' || expected.rate_card_id)
            as source_reference,
        invoiced_freight.shipment_id is null as is_estimated,
        shipment_totals.receipt_date
    from shipment_totals
    left join invoiced_freight
        on shipment_totals.shipment_id = invoiced_freight.shipment_id
    left join expected
        on shipment_totals.shipment_id = expected.shipment_id

    union all

    select
        shipment_id,
        'INSURANCE',
        'VALUE',
        cast(round(goods_value_amount * {{ var('cargo_insurance_cover_pct') }} / 100.0
            * {{ var('cargo_insurance_rate_pct') }} / 100.0, 2) as decimal(18, 2)),
        goods_currency,
        'var cargo_insurance_rate_pct',
        false,
        receipt_date
    from shipment_totals

    union all

    select
        shipment_id,
        'HANDLING',
        'QUANTITY',
        cast({{ handling['amount'] }} as decimal(18, 2)),
        '{{ handling['currency'] }}',
        'var handling_cost_per_shipment',
        false,
        receipt_date
    from shipment_totals

    {%- for component, column, condition in [
        ('DUTY', 'duty_amount', 'true'),
        ('IMPORT_TAX', 'import_tax_amount', 'not coalesce(customs.is_import_tax_recoverable, false)'),
        ('BROKERAGE', 'brokerage_amount', 'true'),
    ] %}

    union all

    select
        customs.shipment_id,
        '{{ component }}',
        'VALUE',
        customs.{{ column }},
        customs.entry_currency,
        'customs entry ' || customs.customs_entry_number,
        false,
        shipment_totals.receipt_date
    from customs
    inner join shipment_totals
        on customs.shipment_id = shipment_totals.shipment_id
    where {{ condition }}
    {%- endfor %}
),

converted_sources as (
    select
        {{ surrogate_key(['sources.shipment_id', 'sources.cost_component', 'sources.source_reference']) }}
            as landed_cost_source_id,
        sources.*,
        fx.rate_to_reporting as fx_rate,
        fx.rate_date as fx_rate_date,
        {{ to_reporting('fx', 'sources.source_amount') }} as source_reporting_amount
    from sources
    {{ fx_join('fx', 'sources.source_currency', 'sources.receipt_date') }}
    where sources.source_amount is not null
),

weighted as (
    select
        converted_sources.*,
        lines.shipment_line_id,
        lines.order_line_id,
        lines.order_id,
        lines.line_number,
        case converted_sources.allocation_basis
            when 'WEIGHT' then lines.weight_kg
            when 'VALUE' then lines.goods_value_amount
            when 'QUANTITY' then lines.quantity_shipped
        end as allocation_weight
    from converted_sources
    inner join lines
        on converted_sources.shipment_id = lines.shipment_id
),

allocated as (
    {{ allocate_largest_remainder('weighted', ['source_amount', 'source_reporting_amount'], 'allocation_weight', 'landed_cost_source_id', 'shipment_line_id') }}
),

final as (
    select
        {{ surrogate_key(['landed_cost_source_id', 'shipment_line_id']) }} as landed_cost_allocation_id,
        landed_cost_source_id,
        shipment_line_id,
        shipment_id,
        order_line_id,
        order_id,
        line_number,
        cost_component,
        allocation_basis,
        source_reference,
        is_estimated,
        receipt_date,
        allocation_weight,
        source_amount,
        source_currency,
        fx_rate,
        fx_rate_date,
        source_reporting_amount,
        allocated_source_amount as allocated_amount,
        allocated_source_reporting_amount as allocated_reporting_amount,
        '{{ reporting }}' as reporting_currency
    from allocated
)

select * from final
