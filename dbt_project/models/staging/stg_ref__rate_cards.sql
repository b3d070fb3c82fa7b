with

source as (
    select * from {{ source('raw', 'rate_cards') }}
),

renamed as (
    select
        -- ids
        {{ clean_code('carrier_code') }} as carrier_code,

        -- strings
        {{ clean_code('mode') }} as transport_mode,
        {{ clean_code('service_level') }} as service_level,
        {{ clean_code('origin_country') }} as origin_country,
        {{ clean_code('destination_country') }} as destination_country,
        {{ clean_code('basis') }} as rate_basis,

        -- numerics (money in rate_card_currency)
        {{ parse_decimal('rate', scale=6) }} as base_rate_amount,
        {{ parse_decimal('minimum_charge') }} as minimum_charge_amount,
        {{ parse_decimal('fuel_surcharge_pct') }} as fuel_surcharge_pct,
        {{ clean_code('currency') }} as rate_card_currency,

        -- dates
        {{ parse_date('valid_from') }} as valid_from_date,
        {{ parse_date('valid_to') }} as valid_to_date,

        -- lineage
        _source_file,
        _row_number,
        _load_id,
        _loaded_at

    from source
),

deduped as (
    {{ dedupe_latest('renamed', ['carrier_code', 'transport_mode', 'service_level', 'origin_country', 'destination_country', 'valid_from_date']) }}
),

keyed as (
    select
        {{ surrogate_key(['carrier_code', 'transport_mode', 'service_level', 'origin_country', 'destination_country', 'valid_from_date']) }}
            as rate_card_id,
        deduped.*
    from deduped
)

select * from keyed
