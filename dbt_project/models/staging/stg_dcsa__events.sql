with

source as (
    select * from {{ source('raw', 'dcsa_events') }}
),

renamed as (
    select
        -- ids
        {{ clean_string('event_id') }} as dcsa_event_id,
        {{ clean_code('carrier_code') }} as carrier_code,
        {{ clean_string('booking_reference') }} as booking_reference,
        {{ clean_string('transport_document_reference') }} as transport_document_reference,
        {{ clean_string('equipment_reference') }} as equipment_reference,

        -- strings
        {{ clean_string('schema_version') }} as schema_version,
        {{ clean_code('event_type') }} as event_type,
        {{ clean_code('event_classifier_code') }} as event_classifier_code,
        {{ clean_code('event_type_code') }} as event_type_code,
        {{ clean_code('empty_indicator_code') }} as empty_indicator_code,
        {{ clean_code('un_location_code') }} as location_locode,
        {{ clean_code('facility_type_code') }} as facility_type_code,
        {{ clean_code('delay_reason_code') }} as delay_reason_code,
        {{ clean_string('remark') }} as event_remark,

        -- booleans
        {{ parse_bool('is_retracted') }} as is_retracted,

        -- timestamps
        {{ cast_utc_timestamp('event_datetime') }} as event_at,
        {{ utc_offset_minutes('event_datetime') }} as event_utc_offset_minutes,
        {{ cast_utc_timestamp('event_created_datetime') }} as event_created_at,
        {{ cast_utc_timestamp('event_updated_datetime') }} as event_updated_at,

        -- lineage
        _source_file,
        _row_number,
        _load_id,
        _loaded_at

    from source
),

deduped as (
    -- DCSA: an event overrides any other with the same eventID and an earlier
    -- eventUpdatedDateTime (v3; v2.2 has only eventCreatedDateTime), whatever order files arrive.
    {{ dedupe_latest('renamed', 'dcsa_event_id', version_by='coalesce(event_updated_at, event_created_at)') }}
)

select * from deduped
