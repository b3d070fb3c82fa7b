{#- Expected carrier cost per shipment (docs/finance.md "Freight audit"): the rate card line of
    its carrier x mode x service x origin country x destination country valid on the ship date;
    base = PER_KG: max(rate x gross weight, minimum charge), PER_SHIPMENT: rate, rounded to the
    cent; fuel = base x fuel % (rounded); plus the event evidence the accessorial audit needs:
    a delivery attempt (ATTEMPT_FAILED or REFUSED exception) and the pick-up dwell (pick-up
    arrival event -> picked-up milestone) in hours. Amounts in the rate card's currency. -#}
with

shipment_lines as (
    select * from {{ ref('stg_oms__shipment_lines') }}
),

shipments as (
    select * from {{ ref('int_shipments_aggregated') }}
),

rate_cards as (
    select * from {{ ref('stg_ref__rate_cards') }}
),

events as (
    select * from {{ ref('int_carrier_events_mapped') }}
),

evidence_codes as (
    select * from {{ ref('ref_accessorial_evidence_codes') }}
),

shipment_weights as (
    select
        shipment_id,
        -- a shipment-level value repeated on each of its lines
        max(shipment_gross_weight_kg) as gross_weight_kg,
        min(shipped_at) as shipped_at
    from shipment_lines
    group by shipment_id
),

attempts as (
    select
        shipment_id,
        count(*) as delivery_attempt_event_count
    from events
    where shipment_id is not null
        and is_exception
        and exception_type in ('ATTEMPT_FAILED', 'REFUSED')
    group by shipment_id
),

pickup_arrivals as (
    select
        events.shipment_id,
        min(events.event_at) as pickup_arrived_at
    from events
    inner join evidence_codes
        on events.code_list = evidence_codes.code_list
        and events.raw_code = evidence_codes.raw_code
        and evidence_codes.evidence_type = 'PICKUP_ARRIVAL'
    where events.shipment_id is not null
        and events.event_at is not null
    group by events.shipment_id
),

pickups as (
    select
        shipment_id,
        min(event_at) as picked_up_at
    from events
    where shipment_id is not null
        and milestone = 'PICKED_UP'
        and classifier = 'ACT'
        and event_at is not null
    group by shipment_id
),

costed as (
    select
        shipments.shipment_id,
        shipments.carrier_code,
        shipments.transport_mode,
        shipments.service_level,
        shipments.origin_country,
        shipments.destination_country,
        shipment_weights.gross_weight_kg,
        coalesce(shipment_weights.shipped_at, shipments.planned_pickup_end_at) as shipped_at,
        rate_cards.rate_card_id,
        rate_cards.rate_basis,
        rate_cards.base_rate_amount,
        rate_cards.minimum_charge_amount,
        rate_cards.fuel_surcharge_pct,
        rate_cards.rate_card_currency,
        cast(round(
            case
                when rate_cards.rate_basis = 'PER_KG' then greatest(
                    rate_cards.base_rate_amount * shipment_weights.gross_weight_kg,
                    rate_cards.minimum_charge_amount
                )
                else rate_cards.base_rate_amount
            end, 2) as decimal(18, 2)) as expected_base_amount
    from shipments
    left join shipment_weights
        on shipments.shipment_id = shipment_weights.shipment_id
    left join rate_cards
        on shipments.carrier_code = rate_cards.carrier_code
        and shipments.transport_mode = rate_cards.transport_mode
        and shipments.service_level = rate_cards.service_level
        and shipments.origin_country = rate_cards.origin_country
        and shipments.destination_country = rate_cards.destination_country
        and cast(coalesce(shipment_weights.shipped_at, shipments.planned_pickup_end_at) as date)
            between rate_cards.valid_from_date and coalesce(rate_cards.valid_to_date, date '9999-12-31')
),

final as (
    select
        costed.*,
        cast(round(costed.expected_base_amount * costed.fuel_surcharge_pct / 100, 2) as decimal(18, 2))
            as expected_fuel_amount,
        cast(
            costed.expected_base_amount
            + round(costed.expected_base_amount * costed.fuel_surcharge_pct / 100, 2)
            as decimal(18, 2)
        ) as expected_freight_amount,
        coalesce(attempts.delivery_attempt_event_count, 0) as delivery_attempt_event_count,
        pickup_arrivals.pickup_arrived_at,
        pickups.picked_up_at,
        round(datediff('second', pickup_arrivals.pickup_arrived_at, pickups.picked_up_at) / 3600.0, 2)
            as pickup_dwell_hours
    from costed
    left join attempts
        on costed.shipment_id = attempts.shipment_id
    left join pickup_arrivals
        on costed.shipment_id = pickup_arrivals.shipment_id
    left join pickups
        on costed.shipment_id = pickups.shipment_id
)

select * from final
