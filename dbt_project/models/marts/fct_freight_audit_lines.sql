{#- Freight audit, line grain (DESIGN.md section 6, docs/finance.md "Freight audit").
    Every carrier invoice line received gets exactly one status, in this order of precedence:
      DUPLICATE                a re-sent copy of an invoice number already received (copy_number
                               > 1), or every line of the invoice repeats an earlier invoice's
                               shipment + charge + amount under another number
      UNMATCHED                the shipment id is not one of ours
      UNEVIDENCED_ACCESSORIAL  redelivery without an attempted-delivery event; detention without
                               a pick-up dwell beyond the free time in the events
      MATCHED / WITHIN_TOLERANCE / OVERCHARGE / UNDERCHARGE
                               invoiced vs expected: accepted iff |variance| <= max(absolute,
                               percent x expected) from ref_freight_audit_tolerances
    Re-sent copies: staging keeps the latest version of each line and counts the versions
    (_versions_received); copies 2..n are rows here at the kept version's amount. -#}
{%- set reporting = var('reporting_currency') -%}

with

invoice_lines as (
    select * from {{ ref('int_freight_invoice_lines_unioned') }}
),

expected as (
    select * from {{ ref('int_freight_costs_expected') }}
),

tariffs as (
    select * from {{ ref('stg_ref__accessorial_tariffs') }}
),

tolerances as (
    select * from {{ ref('ref_freight_audit_tolerances') }}
),

copies as (
    select
        invoice_lines.*,
        copy_number
    from invoice_lines
    cross join lateral (
        select unnest(range(1, coalesce(invoice_lines._versions_received, 1) + 1)) as copy_number
    )
),

-- the same shipment + charge + amount billed again under another invoice number
repeat_ranked as (
    select
        freight_invoice_line_id,
        row_number() over (
            partition by carrier_code, shipment_id, charge_code, charge_amount
            order by invoice_date, invoice_number, line_number
        ) as repeat_rank,
        first_value(invoice_number) over (
            partition by carrier_code, shipment_id, charge_code, charge_amount
            order by invoice_date, invoice_number, line_number
        ) as first_invoice_number
    from invoice_lines
),

renumbered_invoices as (
    select
        invoice_lines.freight_invoice_id,
        min(repeat_ranked.first_invoice_number) as duplicate_of_invoice_number
    from invoice_lines
    inner join repeat_ranked
        on invoice_lines.freight_invoice_line_id = repeat_ranked.freight_invoice_line_id
    group by invoice_lines.freight_invoice_id
    having min(repeat_ranked.repeat_rank) > 1
),

joined as (
    select
        copies.*,
        expected.shipment_id is not null as is_known_shipment,
        expected.transport_mode,
        expected.rate_card_id,
        expected.rate_card_currency,
        expected.expected_base_amount,
        expected.expected_fuel_amount,
        expected.delivery_attempt_event_count,
        expected.pickup_dwell_hours,
        tariffs.charge_amount as tariff_amount,
        tariffs.charge_currency as tariff_currency,
        tariffs.free_time_hours,
        renumbered_invoices.duplicate_of_invoice_number,
        coalesce(
            case when copies.shipment_id is not null then expected.rate_card_currency end,
            tariffs.charge_currency
        ) as expected_currency_code
    from copies
    left join expected
        on copies.shipment_id = expected.shipment_id
    left join tariffs
        on copies.carrier_code = tariffs.carrier_code
        and copies.charge_code = tariffs.charge_code
    left join renumbered_invoices
        on copies.freight_invoice_id = renumbered_invoices.freight_invoice_id
),

-- expected amount of the line in the tariff's or rate card's currency
expected_lines as (
    select
        joined.*,
        case
            when joined.charge_class = 'ACCESSORIAL' and joined.charge_code = 'DET'
                then greatest(coalesce(joined.pickup_dwell_hours, 0) - coalesce(joined.free_time_hours, 0), 0)
        end as detention_hours_evidenced,
        case
            when joined.charge_class = 'ACCESSORIAL' and joined.charge_code = 'RDL'
                then joined.delivery_attempt_event_count > 0
            when joined.charge_class = 'ACCESSORIAL' and joined.charge_code = 'DET'
                then coalesce(joined.pickup_dwell_hours, 0) > coalesce(joined.free_time_hours, 0)
            else true
        end as is_evidenced,
        case
            when joined.charge_class = 'BASE' then joined.expected_base_amount
            when joined.charge_class = 'FUEL' then joined.expected_fuel_amount
            when joined.charge_code = 'DET' then round(joined.tariff_amount * least(
                joined.charge_quantity,
                -- whole quarter hours beyond the free time, plus one quarter for event times
                -- rounded to the minute
                ceil(greatest(coalesce(joined.pickup_dwell_hours, 0) - coalesce(joined.free_time_hours, 0), 0) * 4) / 4 + 0.25
            ), 2)
            when joined.charge_class = 'ACCESSORIAL'
                then round(joined.tariff_amount * coalesce(joined.charge_quantity, 1), 2)
        end as expected_source_amount,
        case
            when joined.charge_class in ('BASE', 'FUEL') then joined.rate_card_currency
            else joined.tariff_currency
        end as expected_source_currency
    from joined
),

converted as (
    select
        expected_lines.*,
        cast(case
            when expected_lines.expected_source_currency = expected_lines.charge_currency
                then expected_lines.expected_source_amount
            else round(
                expected_lines.expected_source_amount * fx_expected.rate_to_reporting
                / fx_invoice.rate_to_reporting, 2)
        end as decimal(18, 2)) as expected_amount,
        fx_invoice.rate_to_reporting as invoice_fx_rate,
        fx_invoice.rate_date as invoice_fx_rate_date
    from expected_lines
    {{ fx_join('fx_invoice', 'expected_lines.charge_currency', 'expected_lines.invoice_date') }}
    {{ fx_join('fx_expected', 'expected_lines.expected_source_currency', 'expected_lines.invoice_date') }}
),

tolerated as (
    select
        converted.*,
        tolerances.tolerance_amount as tolerance_absolute_amount,
        tolerances.tolerance_pct,
        row_number() over (
            partition by converted.freight_invoice_line_id, converted.copy_number
            order by
                case when tolerances.carrier_code = '*' then 0 else 2 end
                + case when tolerances.transport_mode = '*' then 0 else 1 end desc
        ) as tolerance_rank
    from converted
    left join tolerances
        on (tolerances.carrier_code = converted.carrier_code or tolerances.carrier_code = '*')
        and (tolerances.transport_mode = converted.transport_mode or tolerances.transport_mode = '*')
),

statused as (
    select
        *,
        cast(charge_amount - coalesce(expected_amount, 0) as decimal(18, 2)) as variance_amount,
        cast(greatest(
            tolerance_absolute_amount,
            round(tolerance_pct / 100 * abs(coalesce(expected_amount, 0)), 2)
        ) as decimal(18, 2)) as tolerance_amount,
        case
            when copy_number > 1 then 'DUPLICATE'
            when duplicate_of_invoice_number is not null then 'DUPLICATE'
            when not is_known_shipment or shipment_id is null then 'UNMATCHED'
            when not is_evidenced then 'UNEVIDENCED_ACCESSORIAL'
            when expected_amount is null then 'UNMATCHED'
            when charge_amount = expected_amount then 'MATCHED'
            when abs(charge_amount - expected_amount) <= greatest(
                tolerance_absolute_amount, round(tolerance_pct / 100 * abs(expected_amount), 2)
            ) then 'WITHIN_TOLERANCE'
            when charge_amount > expected_amount then 'OVERCHARGE'
            else 'UNDERCHARGE'
        end as line_status
    from tolerated
    where tolerance_rank = 1
),

final as (
    select
        -- ids
        {{ surrogate_key(['freight_invoice_line_id', 'copy_number']) }} as freight_audit_line_id,
        {{ surrogate_key(['freight_invoice_id', 'copy_number']) }} as freight_audit_invoice_id,
        freight_invoice_line_id,
        carrier_code,
        cast(invoice_number as varchar) as invoice_number,
        cast(line_number as bigint) as line_number,
        cast(copy_number as bigint) as copy_number,
        shipment_id,
        rate_card_id,

        -- strings
        source_format,
        transport_mode,
        charge_code,
        charge_class,
        line_status,
        case line_status
            when 'DUPLICATE' then case
                when copy_number > 1 then 'invoice number received ' || copy_number || ' times; this is copy ' || copy_number
                else 'same shipment, charges and amounts as invoice ' || duplicate_of_invoice_number
            end
            when 'UNMATCHED' then case
                when not is_known_shipment or shipment_id is null then 'shipment ' || coalesce(shipment_id, '(none)') || ' is not one of ours'
                else 'no rate card or tariff for this charge'
            end
            when 'UNEVIDENCED_ACCESSORIAL' then case charge_code
                when 'RDL' then 'redelivery billed but no attempted-delivery event'
                when 'DET' then 'detention billed but the events show no pick-up dwell beyond '
                    || coalesce(cast(free_time_hours as varchar), '?') || ' h free time'
            end
        end as status_reason,
        duplicate_of_invoice_number,
        charge_currency as invoice_currency,
        '{{ reporting }}' as reporting_currency,

        -- numerics
        charge_quantity,
        cast(charge_amount as decimal(18, 2)) as invoiced_amount,
        expected_amount,
        variance_amount,
        tolerance_amount,
        pickup_dwell_hours,
        invoice_fx_rate,
        {{ to_reporting('fx_reporting', 'charge_amount') }} as invoiced_reporting_amount,
        {{ to_reporting('fx_reporting', 'expected_amount') }} as expected_reporting_amount,

        -- booleans
        is_known_shipment,
        is_evidenced,

        -- dates
        invoice_date,
        invoice_fx_rate_date,

        -- lineage
        _source_file as source_file_name,
        cast(_row_number as bigint) as source_row_number
    from statused
    {{ fx_join('fx_reporting', 'statused.charge_currency', 'statused.invoice_date') }}
)

select * from final
