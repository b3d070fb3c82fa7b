{#- Carrier scorecard (DESIGN.md section 5; docs/kpis.md "Carrier scorecard"): one row per
    carrier x lane x transport mode x scorecard month. A shipment belongs to the month of its
    planned pickup (window start, else end, else booking, else order creation): the plan does
    not move with the carrier's performance, so late deliveries stay in the month they shipped.
    Every ratio is stored as <kpi>_numerator and <kpi>_denominator; <kpi>_rate only divides
    them. The composite score is computed in one place (CTE `composite`) from the component
    list below and the weights in var carrier_scorecard_weights.
    Money (docs/kpis.md "Invoice accuracy and cost"): every audited carrier invoice copy
    (fct_freight_audit_invoices) is attributed to its shipment, and so to the shipment's cell,
    when the shipment is one of ours and the invoicing carrier is the shipment's carrier.
    Invoices for unknown shipments cannot be in a lane cell: they stay in
    fct_freight_audit_invoices (UNMATCHED) and in rpt_carrier_cost_monthly's '(unmatched)' row,
    the finance view by invoice month. -#}
{%- set reliability_tolerance_minutes = (var('transit_reliability_tolerance_days') * 1440) | int -%}
{%- set max_report_lag_minutes = (var('tracking_max_report_lag_hours') * 60) | int -%}
{%- set eta_freeze_hours = var('eta_freeze_hours') -%}
{%- set freeze_hours_case -%}
    case shipments.transport_mode
    {%- for mode, hours in eta_freeze_hours.items() if mode != 'default' %} when '{{ mode }}' then {{ hours }}{% endfor %}
    else {{ eta_freeze_hours.get('default', 24) }} end
{%- endset -%}
{%- set eta_tolerance_minutes = (var('eta_accuracy_tolerance_hours') * 60) | int -%}
{%- set reporting_currency = var('reporting_currency') -%}
{%- set weights = var('carrier_scorecard_weights') -%}
{#- The composite's components: name -> the rate it scores (1 = best) and its denominator.
    "Bad" rates (exceptions, damage) enter as 1 - rate. To add a component (e.g. cost
    against the lane's benchmark), add its numerator/denominator columns and an entry here and a
    weight in dbt_project.yml. -#}
{%- set composite_components = {
    'on_time_pickup_controllable': ('on_time_pickup_controllable_rate', 'on_time_pickup_controllable_denominator'),
    'on_time_delivery_controllable': ('on_time_delivery_controllable_rate', 'on_time_delivery_controllable_denominator'),
    'transit_reliability': ('transit_reliability_rate', 'transit_reliability_denominator'),
    'exception_free': ('1 - exception_rate', 'exception_denominator'),
    'damage_free': ('1 - damage_rate', 'damage_denominator'),
    'tracking_compliance': ('tracking_compliance_rate', 'tracking_compliance_denominator'),
    'eta_accuracy': ('eta_accuracy_rate', 'eta_accuracy_denominator'),
    'invoice_accuracy': ('invoice_accuracy_rate', 'invoice_accuracy_denominator'),
} -%}
{%- for name, weight in weights.items() -%}
    {%- if name not in composite_components -%}
        {{ exceptions.raise_compiler_error("var carrier_scorecard_weights: unknown component " ~ name ~ "; known: " ~ (composite_components.keys() | list | join(', '))) }}
    {%- endif -%}
    {%- if weight < 0 -%}
        {{ exceptions.raise_compiler_error("var carrier_scorecard_weights: weight of " ~ name ~ " is negative") }}
    {%- endif -%}
{%- endfor -%}
{%- set main_path = ['booked_at', 'picked_up_at', 'departed_at', 'arrived_at', 'out_for_delivery_at', 'delivered_at'] -%}

with

shipments as (
    select * from {{ ref('fct_shipments') }}
),

shipment_milestones as (
    select * from {{ ref('fct_shipment_milestones') }}
),

shipment_events as (
    select * from {{ ref('fct_shipment_events') }}
),

audited_invoices as (
    select * from {{ ref('fct_freight_audit_invoices') }}
),

expected_costs as (
    select * from {{ ref('int_freight_costs_expected') }}
),

-- the audited invoice copies of each shipment, billed by the shipment's own carrier.
-- Payable = what we accept to pay (not DUPLICATE, not UNMATCHED): the cost numerator.
shipment_invoices as (
    select
        audited_invoices.shipment_id,
        count(*) as invoices_audited,
        sum(case when audited_invoices.is_accurate then 1 else 0 end) as invoices_accurate,
        sum(audited_invoices.invoiced_reporting_amount) as invoiced_reporting_amount,
        sum(case when not (audited_invoices.is_duplicate or audited_invoices.is_unmatched)
            then audited_invoices.invoiced_reporting_amount else 0 end) as payable_reporting_amount,
        sum(case when not (audited_invoices.is_duplicate or audited_invoices.is_unmatched)
            then audited_invoices.expected_reporting_amount else 0 end) as expected_reporting_amount,
        max(case when not (audited_invoices.is_duplicate or audited_invoices.is_unmatched)
            then 1 else 0 end) = 1 as has_payable_invoice
    from audited_invoices
    inner join shipments
        on audited_invoices.shipment_id = shipments.shipment_id
        and audited_invoices.carrier_code = shipments.carrier_code
    group by audited_invoices.shipment_id
),

-- when the pickup and delivery actuals reached us (null where the feed does not say)
actual_report_lags as (
    select
        shipment_milestones.shipment_id,
        max(case when shipment_milestones.milestone = 'PICKED_UP'
            then {{ dbt.datediff('shipment_events.event_at', 'shipment_events.received_at', 'minute') }}
        end) as pickup_report_lag_minutes,
        max(case when shipment_milestones.milestone = 'DELIVERED'
            then {{ dbt.datediff('shipment_events.event_at', 'shipment_events.received_at', 'minute') }}
        end) as delivery_report_lag_minutes
    from shipment_milestones
    inner join shipment_events
        on shipment_milestones.actual_event_id = shipment_events.event_id
    where shipment_milestones.milestone in ('PICKED_UP', 'DELIVERED')
    group by shipment_milestones.shipment_id
),

-- the carrier's delivery estimates (EST, and appointments sent as PLN) with a send time
delivery_estimates as (
    select
        shipment_events.shipment_id,
        shipment_events.event_id,
        shipment_events.event_at as estimated_delivery_at,
        shipment_events.received_at
    from shipment_events
    where shipment_events.milestone = 'DELIVERED'
        and shipment_events.classifier in ('EST', 'PLN')
        and shipment_events.shipment_id is not null
        and shipment_events.event_at is not null
        and shipment_events.received_at is not null
),

-- the estimate as it stood eta_freeze_hours (per mode) before the actual delivery
frozen_estimates as (
    select
        delivery_estimates.shipment_id,
        delivery_estimates.estimated_delivery_at
    from delivery_estimates
    inner join shipments
        on delivery_estimates.shipment_id = shipments.shipment_id
    where shipments.delivered_at is not null
        and delivery_estimates.received_at
            <= {{ dbt.dateadd('minute', '-60 * (' ~ freeze_hours_case ~ ')', 'shipments.delivered_at') }}
    qualify row_number() over (
        partition by delivery_estimates.shipment_id
        order by delivery_estimates.received_at desc, delivery_estimates.event_id desc
    ) = 1
),

flagged as (
    select
        shipments.shipment_id,
        shipments.carrier_code,
        shipments.carrier_name,
        shipments.lane,
        shipments.transport_mode,
        cast({{ dbt.date_trunc('month', 'coalesce(shipments.planned_pickup_start_at, shipments.planned_pickup_end_at, shipments.booked_at, shipments.order_created_at)') }} as date)
            as month_start_date,
        shipments.is_picked_up,
        shipments.is_delivered,
        shipments.is_picked_up_on_time,
        shipments.is_picked_up_on_time_controllable,
        shipments.is_delivered_on_time,
        shipments.is_delivered_on_time_controllable,
        shipments.has_exception,
        shipments.is_damaged,
        case when shipments.picked_up_at is not null and shipments.delivered_at is not null
            then shipments.transit_time_days
        end as transit_time_days,
        -- planned transit: planned pickup window midpoint -> planned delivery window midpoint
        {{ dbt.datediff(
            dbt.dateadd("second", "-1 * coalesce(" ~ dbt.datediff("shipments.planned_pickup_start_at", "shipments.planned_pickup_end_at", "second") ~ ", 0) / 2", "shipments.planned_pickup_end_at"),
            dbt.dateadd("second", "-1 * coalesce(" ~ dbt.datediff("shipments.planned_delivery_start_at", "shipments.planned_delivery_end_at", "second") ~ ", 0) / 2", "shipments.planned_delivery_end_at"),
            'second') }} / 86400.0 as planned_transit_days,
        shipments.is_delivered
        {%- for milestone in main_path %}
        and shipments.{{ milestone }} is not null
        {%- endfor %}
        and (shipments.customs_cleared_at is not null
            or shipments.origin_country = shipments.destination_country)
            as has_every_milestone,
        actual_report_lags.pickup_report_lag_minutes,
        actual_report_lags.delivery_report_lag_minutes,
        frozen_estimates.estimated_delivery_at as frozen_estimated_delivery_at,
        shipments.delivered_at,
        coalesce(shipment_invoices.invoices_audited, 0) as invoices_audited,
        coalesce(shipment_invoices.invoices_accurate, 0) as invoices_accurate,
        coalesce(shipment_invoices.invoiced_reporting_amount, 0) as invoiced_reporting_amount,
        coalesce(shipment_invoices.payable_reporting_amount, 0) as payable_reporting_amount,
        coalesce(shipment_invoices.expected_reporting_amount, 0) as expected_reporting_amount,
        coalesce(shipment_invoices.has_payable_invoice, false) as has_payable_invoice,
        expected_costs.gross_weight_kg
    from shipments
    left join actual_report_lags
        on shipments.shipment_id = actual_report_lags.shipment_id
    left join frozen_estimates
        on shipments.shipment_id = frozen_estimates.shipment_id
    left join shipment_invoices
        on shipments.shipment_id = shipment_invoices.shipment_id
    left join expected_costs
        on shipments.shipment_id = expected_costs.shipment_id
),

scored as (
    select
        flagged.*,
        case when transit_time_days is not null and planned_transit_days is not null
            then abs(transit_time_days - planned_transit_days) * 1440 <= {{ reliability_tolerance_minutes }}
        end as is_transit_reliable,
        case when is_delivered
            then has_every_milestone
                and coalesce(pickup_report_lag_minutes <= {{ max_report_lag_minutes }}, true)
                and coalesce(delivery_report_lag_minutes <= {{ max_report_lag_minutes }}, true)
        end as is_tracking_compliant,
        case when frozen_estimated_delivery_at is not null
            then abs({{ dbt.datediff('delivered_at', 'frozen_estimated_delivery_at', 'minute') }})
                <= {{ eta_tolerance_minutes }}
        end as is_eta_accurate
    from flagged
),

aggregated as (
    select
        carrier_code,
        lane,
        transport_mode,
        month_start_date,
        max(carrier_name) as carrier_name,
        count(*) as shipments,
        sum(case when is_picked_up then 1 else 0 end) as shipments_picked_up,
        sum(case when is_delivered then 1 else 0 end) as shipments_delivered,
        sum(case when is_picked_up_on_time then 1 else 0 end) as on_time_pickup_numerator,
        count(is_picked_up_on_time) as on_time_pickup_denominator,
        sum(case when is_picked_up_on_time_controllable then 1 else 0 end)
            as on_time_pickup_controllable_numerator,
        count(is_picked_up_on_time_controllable) as on_time_pickup_controllable_denominator,
        sum(case when is_delivered_on_time then 1 else 0 end) as on_time_delivery_numerator,
        count(is_delivered_on_time) as on_time_delivery_denominator,
        sum(case when is_delivered_on_time_controllable then 1 else 0 end)
            as on_time_delivery_controllable_numerator,
        count(is_delivered_on_time_controllable) as on_time_delivery_controllable_denominator,
        count(transit_time_days) as transit_shipments,
        sum(transit_time_days) as transit_time_days_total,
        avg(transit_time_days) as transit_time_days_mean,
        stddev_samp(transit_time_days) as transit_time_days_stddev,
        {{ percentile_cont(0.5, 'transit_time_days') }} as transit_time_days_p50,
        {{ percentile_cont(0.9, 'transit_time_days') }} as transit_time_days_p90,
        sum(case when is_transit_reliable then 1 else 0 end) as transit_reliability_numerator,
        count(is_transit_reliable) as transit_reliability_denominator,
        sum(case when has_exception then 1 else 0 end) as exception_numerator,
        count(*) as exception_denominator,
        sum(case when is_picked_up and is_damaged then 1 else 0 end) as damage_numerator,
        sum(case when is_picked_up then 1 else 0 end) as damage_denominator,
        sum(case when is_tracking_compliant then 1 else 0 end) as tracking_compliance_numerator,
        count(is_tracking_compliant) as tracking_compliance_denominator,
        sum(case when is_eta_accurate then 1 else 0 end) as eta_accuracy_numerator,
        count(is_eta_accurate) as eta_accuracy_denominator,
        sum(invoices_accurate) as invoice_accuracy_numerator,
        sum(invoices_audited) as invoice_accuracy_denominator,
        sum(invoiced_reporting_amount) as invoiced_reporting_amount,
        sum(payable_reporting_amount) as payable_reporting_amount,
        sum(expected_reporting_amount) as expected_reporting_amount,
        sum(case when has_payable_invoice then 1 else 0 end) as shipments_invoiced,
        coalesce(sum(case when has_payable_invoice then gross_weight_kg end), 0)
            as invoiced_gross_weight_kg
    from scored
    group by carrier_code, lane, transport_mode, month_start_date
),

rated as (
    select
        aggregated.*,
        cast(on_time_pickup_numerator as double) / nullif(on_time_pickup_denominator, 0)
            as on_time_pickup_rate,
        cast(on_time_pickup_controllable_numerator as double)
            / nullif(on_time_pickup_controllable_denominator, 0) as on_time_pickup_controllable_rate,
        cast(on_time_delivery_numerator as double) / nullif(on_time_delivery_denominator, 0)
            as on_time_delivery_rate,
        cast(on_time_delivery_controllable_numerator as double)
            / nullif(on_time_delivery_controllable_denominator, 0)
            as on_time_delivery_controllable_rate,
        transit_time_days_stddev / nullif(transit_time_days_mean, 0) as transit_time_days_cv,
        cast(transit_reliability_numerator as double) / nullif(transit_reliability_denominator, 0)
            as transit_reliability_rate,
        cast(exception_numerator as double) / nullif(exception_denominator, 0) as exception_rate,
        cast(damage_numerator as double) / nullif(damage_denominator, 0) as damage_rate,
        cast(tracking_compliance_numerator as double) / nullif(tracking_compliance_denominator, 0)
            as tracking_compliance_rate,
        cast(eta_accuracy_numerator as double) / nullif(eta_accuracy_denominator, 0)
            as eta_accuracy_rate,
        cast(invoice_accuracy_numerator as double) / nullif(invoice_accuracy_denominator, 0)
            as invoice_accuracy_rate,
        payable_reporting_amount / nullif(shipments_invoiced, 0) as cost_per_shipment_reporting_amount,
        payable_reporting_amount / nullif(invoiced_gross_weight_kg, 0) as cost_per_kg_reporting_amount
    from aggregated
),

-- the one place the composite is computed: weighted mean of the components present (denominator
-- > 0), weights renormalised over them; null when no weighted component is present
composite as (
    select
        rated.*,
        (0
        {%- for name, weight in weights.items() %}
            + case when {{ composite_components[name][1] }} > 0
                then {{ weight }} * ({{ composite_components[name][0] }}) else 0 end
        {%- endfor %}
        ) / nullif(0
        {%- for name, weight in weights.items() %}
            + case when {{ composite_components[name][1] }} > 0 then {{ weight }} else 0 end
        {%- endfor %}
        , 0) as composite_score,
        (0
        {%- for name, weight in weights.items() %}
            + case when {{ composite_components[name][1] }} > 0 then {{ weight }} else 0 end
        {%- endfor %}
        ) / nullif({{ weights.values() | sum }}, 0) as composite_weight_present
    from rated
),

final as (
    select
        -- ids
        {{ surrogate_key(['carrier_code', 'lane', 'transport_mode', 'month_start_date']) }}
            as carrier_scorecard_id,
        carrier_code,

        -- strings
        carrier_name,
        lane,
        transport_mode,
        '{{ reporting_currency }}' as reporting_currency,

        -- numerics: volume
        cast(shipments as {{ dbt.type_bigint() }}) as shipments,
        cast(shipments_picked_up as {{ dbt.type_bigint() }}) as shipments_picked_up,
        cast(shipments_delivered as {{ dbt.type_bigint() }}) as shipments_delivered,

        -- numerics: numerator / denominator / rate per KPI
        {%- for kpi in ['on_time_pickup', 'on_time_pickup_controllable', 'on_time_delivery',
                        'on_time_delivery_controllable', 'transit_reliability', 'exception',
                        'damage', 'tracking_compliance', 'eta_accuracy', 'invoice_accuracy'] %}
        cast({{ kpi }}_numerator as {{ dbt.type_bigint() }}) as {{ kpi }}_numerator,
        cast({{ kpi }}_denominator as {{ dbt.type_bigint() }}) as {{ kpi }}_denominator,
        cast({{ kpi }}_rate as double) as {{ kpi }}_rate,
        {%- endfor %}

        -- numerics: transit time (delivered - picked up, days)
        cast(transit_shipments as {{ dbt.type_bigint() }}) as transit_shipments,
        cast(transit_time_days_total as double) as transit_time_days_total,
        cast(transit_time_days_mean as double) as transit_time_days_mean,
        cast(transit_time_days_stddev as double) as transit_time_days_stddev,
        cast(transit_time_days_cv as double) as transit_time_days_cv,
        cast(transit_time_days_p50 as double) as transit_time_days_p50,
        cast(transit_time_days_p90 as double) as transit_time_days_p90,

        -- numerics: money (reporting currency), invoices attributed to the cell's shipments
        cast(invoiced_reporting_amount as decimal(18, 2)) as invoiced_reporting_amount,
        cast(payable_reporting_amount as decimal(18, 2)) as payable_reporting_amount,
        cast(expected_reporting_amount as decimal(18, 2)) as expected_reporting_amount,
        cast(shipments_invoiced as {{ dbt.type_bigint() }}) as shipments_invoiced,
        cast(invoiced_gross_weight_kg as decimal(18, 4)) as invoiced_gross_weight_kg,
        cast(cost_per_shipment_reporting_amount as decimal(18, 2)) as cost_per_shipment_reporting_amount,
        cast(cost_per_kg_reporting_amount as decimal(18, 4)) as cost_per_kg_reporting_amount,

        -- numerics: composite
        -- rounded to 6 decimals: a score, not a measurement (drops float noise such as 0.7500000000000001)
        cast(round(composite_score, 6) as double) as composite_score,
        cast(round(composite_weight_present, 6) as double) as composite_weight_present,

        -- dates
        month_start_date

    from composite
)

select * from final
