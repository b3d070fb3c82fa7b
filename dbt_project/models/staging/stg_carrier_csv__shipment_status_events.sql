with

source as (
    select * from {{ source('raw', 'csv_events') }}
),

renamed as (
    select
        -- ids
        -- The sender's event id identifies a corrected re-send (same id, new time); without one,
        -- the event is identified by what it says (DESIGN.md section 4: deterministic hash).
        coalesce(
            {{ clean_string('event_id') }},
            {{ surrogate_key(['shipment_id', 'carrier_code', 'event_code', 'event_time']) }}
        ) as carrier_event_id,
        {{ clean_string('shipment_id') }} as shipment_id,
        {{ clean_code('carrier_code') }} as carrier_code,

        -- strings
        {{ clean_code('event_code') }} as event_code,
        {{ clean_code('reason_code') }} as reason_code,
        {{ clean_code('location_locode') }} as location_locode,

        -- timestamps
        {{ timestamp_local('event_time') }} as event_local,
        {{ utc_offset_minutes('event_time') }} as event_utc_offset_minutes,
        {{ cast_utc_timestamp_if_offset('event_time') }} as event_at,
        {{ cast_utc_timestamp('received_at') }} as received_at,

        -- lineage
        _source_file,
        _row_number,
        _load_id,
        _loaded_at

    from source
),

deduped as (
    {{ dedupe_latest('renamed', ['carrier_code', 'carrier_event_id']) }}
),

keyed as (
    select
        {{ surrogate_key(['carrier_code', 'carrier_event_id']) }}
            as shipment_status_event_id,
        deduped.*
    from deduped
)

select * from keyed
