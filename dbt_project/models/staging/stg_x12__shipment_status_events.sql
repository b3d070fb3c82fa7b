{#- X12 214: one row per AT7 status. Times are AT7-05/06 in the zone of AT7-07 (or local to
    MS1 when blank): staging keeps the wall-clock `event_local`; the intermediate layer turns it
    into UTC through the time code or the MS1 location's IANA zone. -#}
with

source as (
    select * from {{ source('raw', 'x12_214_events') }}
),

renamed as (
    select
        -- ids
        {{ clean_string('shipment_id') }} as shipment_id,
        {{ clean_code('carrier_scac') }} as carrier_scac,
        {{ clean_string('carrier_pro_number') }} as carrier_pro_number,
        {{ clean_string('bill_of_lading') }} as bill_of_lading_number,
        {{ clean_string('interchange_control_number') }} as interchange_control_number,
        {{ clean_string('group_control_number') }} as group_control_number,
        {{ clean_string('transaction_control_number') }} as transaction_control_number,
        {{ clean_string('sender_id') }} as edi_sender_id,

        -- strings
        {{ clean_code('status_code') }} as status_code,
        {{ clean_code('status_reason_code') }} as status_reason_code,
        {{ clean_code('appointment_code') }} as appointment_status_code,
        {{ clean_code('appointment_reason_code') }} as appointment_reason_code,
        {{ clean_code('time_code') }} as time_code,
        {{ clean_string('city') }} as location_city,
        {{ clean_code('state') }} as location_state,
        {{ clean_code('country') }} as location_country,

        -- numerics
        {{ parse_int('lx_number') }} as lx_number,

        -- dates
        {{ parse_date8('event_date') }} as event_date,
        {{ parse_time4('event_time') }} as event_time,

        -- timestamps
        {{ date_time_to_timestamp(parse_date8('event_date'), parse_time4('event_time')) }} as event_local,
        {{ timestamp_local('received_at') }} as received_local,
        {{ utc_offset_minutes('received_at') }} as received_utc_offset_minutes,
        {{ cast_utc_timestamp_if_offset('received_at') }} as received_at,

        -- lineage
        _source_file,
        _row_number,
        _load_id,
        _loaded_at

    from source
),

deduped as (
    {{ dedupe_latest('renamed', ['shipment_id', 'carrier_scac', 'status_code', 'appointment_status_code', 'event_date', 'event_time']) }}
),

keyed as (
    select
        {{ surrogate_key(['shipment_id', 'carrier_scac', 'status_code', 'appointment_status_code', 'event_date', 'event_time']) }}
            as shipment_status_event_id,
        deduped.*
    from deduped
)

select * from keyed
