{#- Every carrier event with its UN/LOCODE, its IANA time zone and its UTC time.

    Time rule (DESIGN.md section 4, docs/milestones.md), first that applies:
      1. an offset was written (DCSA, FedEx, DHL, most CSV rows): the UTC time as sent;
      2. an X12 AT7-07 time code with a fixed offset (UT, ES, 05 ...): wall clock minus offset;
      3. an X12 AT7-07 time code for a zone with daylight saving (ET, CT ...): through that zone;
      4. no offset (X12 LT or blank, UPS scans, CSV rows without offset): through the IANA zone
         of the event's location (ref_locations: by UN/LOCODE, else by city + country).
    A wall-clock time in the hour repeated when clocks go back is read as its second occurrence
    unless that is later than the time the event was received (then the first).
    event_local is the wall-clock time at the event's location (recomputed from UTC), and
    event_time_zone the zone used for it. -#}
with

events as (
    select * from {{ ref('int_carrier_events_unioned') }}
),

locations as (
    select * from {{ ref('ref_locations') }}
),

time_codes as (
    select * from {{ ref('x12_time_codes') }}
),

located as (
    select
        events.*,
        coalesce(by_locode.locode, by_city.locode) as resolved_locode,
        coalesce(by_locode.time_zone, by_city.time_zone) as location_time_zone,
        time_codes.utc_offset_minutes as time_code_offset_minutes,
        time_codes.time_zone as time_code_time_zone
    from events
    left join locations as by_locode
        on events.location_locode = by_locode.locode
    left join locations as by_city
        on events.location_locode is null
        and upper(events.location_city) = upper(by_city.city)
        and events.location_country = by_city.country
        and (events.location_subdivision is null or events.location_subdivision = by_city.subdivision)
    left join time_codes
        on events.x12_time_code = time_codes.time_code
),

zoned as (
    select
        located.*,
        case
            when event_at_sent is null and time_code_offset_minutes is null
                then coalesce(time_code_time_zone, location_time_zone)
        end as resolution_time_zone
    from located
),

candidates as (
    select
        zoned.*,
        -- a wall-clock time repeated when clocks go back has two UTC instants an hour apart:
        -- the engine gives the second; the first is the other candidate
        {{ local_to_utc('event_local_sent', 'resolution_time_zone') }} as zone_utc_second,
        {{ dbt.dateadd('hour', -1, local_to_utc('event_local_sent', 'resolution_time_zone')) }}
            as zone_utc_first
    from zoned
),

resolved as (
    select
        candidates.*,
        case
            when event_at_sent is not null then event_at_sent
            when time_code_offset_minutes is not null
                then {{ dbt.dateadd('minute', '-1 * time_code_offset_minutes', 'event_local_sent') }}
            -- of the two readings of a repeated hour, an event cannot have happened after it
            -- was received: then it is the first
            when {{ utc_to_local('zone_utc_first', 'resolution_time_zone') }} = event_local_sent
                and received_at is not null
                and zone_utc_second > received_at
                then zone_utc_first
            else zone_utc_second
        end as event_at,
        case
            when event_at_sent is not null then 'OFFSET_SENT'
            when time_code_offset_minutes is not null or time_code_time_zone is not null
                then 'X12_TIME_CODE'
            when location_time_zone is not null then 'LOCATION_TIME_ZONE'
            else 'UNRESOLVED'
        end as event_time_basis,
        coalesce(location_time_zone, time_code_time_zone) as event_time_zone
    from candidates
),

localized as (
    select
        resolved.*,
        case
            when event_time_zone is not null and event_at is not null
                then {{ utc_to_local('event_at', 'event_time_zone') }}
            else event_local_sent
        end as event_local
    from resolved
)

select * from localized
