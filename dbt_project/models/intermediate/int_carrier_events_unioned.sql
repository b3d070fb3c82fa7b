{#- The four carrier-event feeds in one shape, before any mapping or time-zone resolution.
    Values stay as the carrier sent them; only the column names and the event id are common.
    Event id (DESIGN.md section 4): the source's id where it has one (DCSA eventID, the CSV
    event_id), else a deterministic hash of source, carrier, shipment reference, raw code and
    reason, event time as written and location. -#}
with

x12_events as (
    select * from {{ ref('stg_x12__shipment_status_events') }}
),

dcsa_events as (
    select * from {{ ref('stg_dcsa__events') }}
),

parcel_events as (
    select * from {{ ref('stg_parcel__tracking_events') }}
),

csv_events as (
    select * from {{ ref('stg_carrier_csv__shipment_status_events') }}
),

carriers as (
    select * from {{ ref('stg_ref__carriers') }}
),

x12_renamed as (
    select
        {{ surrogate_key([
            "'X12_214'", 'x12_events.carrier_scac', 'x12_events.shipment_id',
            'coalesce(x12_events.status_code, x12_events.appointment_status_code)',
            'coalesce(x12_events.status_reason_code, x12_events.appointment_reason_code)',
            'x12_events.event_local', 'x12_events.time_code', 'x12_events.location_city'
        ]) }} as event_id,
        'X12_214' as source,
        cast(null as {{ dbt.type_string() }}) as source_event_id,
        coalesce(carriers.carrier_code, x12_events.carrier_scac) as carrier_code,
        x12_events.shipment_id as carrier_shipment_ref,
        'SHIPMENT_ID' as shipment_ref_type,
        -- AT7-01 (1650 status) or, on appointment rows, AT7-03 (1652 appointment)
        case when x12_events.status_code is null then 'X12_1652' else 'X12_1650' end as code_list,
        coalesce(x12_events.status_code, x12_events.appointment_status_code) as raw_code,
        coalesce(x12_events.status_reason_code, x12_events.appointment_reason_code)
            as raw_reason_code,
        'X12_1651' as reason_code_list,
        cast(null as {{ dbt.type_string() }}) as raw_classifier,
        cast(null as {{ dbt.type_string() }}) as empty_indicator_code,
        cast(null as {{ dbt.type_string() }}) as facility_type_code,
        cast(null as {{ dbt.type_string() }}) as location_locode,
        x12_events.location_city,
        x12_events.location_state as location_subdivision,
        x12_events.location_country,
        cast(null as {{ dbt.type_timestamp() }}) as event_at_sent,
        x12_events.event_local as event_local_sent,
        cast(null as {{ dbt.type_int() }}) as event_utc_offset_minutes,
        x12_events.time_code as x12_time_code,
        x12_events.received_at,
        false as is_retracted,
        cast(null as {{ dbt.type_string() }}) as event_remark,
        x12_events._source_file,
        x12_events._row_number,
        x12_events._load_id
    from x12_events
    left join carriers
        on x12_events.carrier_scac = carriers.carrier_scac
),

dcsa_renamed as (
    select
        dcsa_event_id as event_id,
        'DCSA' as source,
        dcsa_event_id as source_event_id,
        -- v2.2 events do not name the carrier: taken from the shipment downstream
        carrier_code,
        booking_reference as carrier_shipment_ref,
        'TRACKING_NUMBER' as shipment_ref_type,
        'DCSA_' || event_type as code_list,
        event_type_code as raw_code,
        delay_reason_code as raw_reason_code,
        'DCSA_DELAY_REASON' as reason_code_list,
        event_classifier_code as raw_classifier,
        empty_indicator_code,
        facility_type_code,
        location_locode,
        cast(null as {{ dbt.type_string() }}) as location_city,
        cast(null as {{ dbt.type_string() }}) as location_subdivision,
        cast(null as {{ dbt.type_string() }}) as location_country,
        event_at as event_at_sent,
        {{ dbt.dateadd('minute', 'event_utc_offset_minutes', 'event_at') }} as event_local_sent,
        cast(event_utc_offset_minutes as {{ dbt.type_int() }}) as event_utc_offset_minutes,
        cast(null as {{ dbt.type_string() }}) as x12_time_code,
        coalesce(event_updated_at, event_created_at) as received_at,
        coalesce(is_retracted, false) as is_retracted,
        event_remark,
        _source_file,
        _row_number,
        _load_id
    from dcsa_events
),

parcel_renamed as (
    select
        {{ surrogate_key([
            "'PARCEL'", 'carrier_code', 'tracking_number', 'status_code', 'reason_code',
            'event_local', 'event_utc_offset_minutes', 'location_city'
        ]) }} as event_id,
        'PARCEL' as source,
        cast(null as {{ dbt.type_string() }}) as source_event_id,
        carrier_code,
        tracking_number as carrier_shipment_ref,
        'TRACKING_NUMBER' as shipment_ref_type,
        'PARCEL' as code_list,
        status_code as raw_code,
        reason_code as raw_reason_code,
        cast(null as {{ dbt.type_string() }}) as reason_code_list,
        cast(null as {{ dbt.type_string() }}) as raw_classifier,
        cast(null as {{ dbt.type_string() }}) as empty_indicator_code,
        cast(null as {{ dbt.type_string() }}) as facility_type_code,
        cast(null as {{ dbt.type_string() }}) as location_locode,
        location_city,
        cast(null as {{ dbt.type_string() }}) as location_subdivision,
        location_country,
        event_at as event_at_sent,
        event_local as event_local_sent,
        cast(event_utc_offset_minutes as {{ dbt.type_int() }}) as event_utc_offset_minutes,
        cast(null as {{ dbt.type_string() }}) as x12_time_code,
        received_at,
        false as is_retracted,
        status_description as event_remark,
        _source_file,
        _row_number,
        _load_id
    from parcel_events
),

csv_renamed as (
    select
        -- the sender's id is unique per sender: qualified with the carrier
        carrier_code || ':' || carrier_event_id as event_id,
        'CARRIER_CSV' as source,
        carrier_event_id as source_event_id,
        carrier_code,
        shipment_id as carrier_shipment_ref,
        'SHIPMENT_ID' as shipment_ref_type,
        'CARRIER_CSV' as code_list,
        event_code as raw_code,
        reason_code as raw_reason_code,
        cast(null as {{ dbt.type_string() }}) as reason_code_list,
        cast(null as {{ dbt.type_string() }}) as raw_classifier,
        cast(null as {{ dbt.type_string() }}) as empty_indicator_code,
        cast(null as {{ dbt.type_string() }}) as facility_type_code,
        location_locode,
        cast(null as {{ dbt.type_string() }}) as location_city,
        cast(null as {{ dbt.type_string() }}) as location_subdivision,
        cast(null as {{ dbt.type_string() }}) as location_country,
        event_at as event_at_sent,
        event_local as event_local_sent,
        cast(event_utc_offset_minutes as {{ dbt.type_int() }}) as event_utc_offset_minutes,
        cast(null as {{ dbt.type_string() }}) as x12_time_code,
        received_at,
        false as is_retracted,
        cast(null as {{ dbt.type_string() }}) as event_remark,
        _source_file,
        _row_number,
        _load_id
    from csv_events
),

unioned as (
    select * from x12_renamed
    union all
    select * from dcsa_renamed
    union all
    select * from parcel_renamed
    union all
    select * from csv_renamed
)

select * from unioned
