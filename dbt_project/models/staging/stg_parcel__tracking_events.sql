{#- UPS-style scans are local to the scan location (no offset): event_at stays null for them
    and the intermediate layer resolves event_local through the location's zone. -#}
with

source as (
    select * from {{ source('raw', 'parcel_events') }}
),

renamed as (
    select
        -- ids
        {{ clean_string('tracking_number') }} as tracking_number,
        {{ clean_code('carrier_code') }} as carrier_code,

        -- strings
        {{ clean_code('status_code') }} as status_code,
        {{ clean_string('status_description') }} as status_description,
        {{ clean_code('reason_code') }} as reason_code,
        {{ clean_string('city') }} as location_city,
        {{ clean_code('country') }} as location_country,
        {{ clean_string('postcode') }} as location_postcode,

        -- timestamps
        {{ timestamp_local('event_timestamp') }} as event_local,
        {{ utc_offset_minutes('event_timestamp') }} as event_utc_offset_minutes,
        {{ cast_utc_timestamp_if_offset('event_timestamp') }} as event_at,
        {{ cast_utc_timestamp('received_at') }} as received_at,

        -- lineage
        _source_file,
        _row_number,
        _load_id,
        _loaded_at

    from source
),

deduped as (
    -- reason_code is part of the key: UPS sends the status type (I, X ...) as status_code and the
    -- detail (DP, AR, 48 ...) as reason_code, so two scans of one type at the same minute differ
    -- only there.
    {{ dedupe_latest('renamed', ['tracking_number', 'carrier_code', 'status_code', 'reason_code', 'event_local', 'event_utc_offset_minutes']) }}
),

keyed as (
    select
        {{ surrogate_key(['tracking_number', 'carrier_code', 'status_code', 'reason_code', 'event_local', 'event_utc_offset_minutes']) }}
            as tracking_event_id,
        deduped.*
    from deduped
)

select * from keyed
