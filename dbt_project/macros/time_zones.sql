{#-
    Wall-clock times and IANA zones (America/Chicago, Europe/Berlin ...). The zone database of
    the engine decides the offset on the day, so daylight-saving changes are right without a
    hand-kept table of offsets. Both macros take and return naive timestamps (the house
    convention: `<event>_at` is naive UTC, `<event>_local` is naive wall-clock time).

    A wall-clock time that does not exist (the hour skipped when clocks go forward) or exists
    twice (the hour repeated when they go back) is resolved the way the engine's zone library
    does. DuckDB (ICU): a repeated hour is read as standard time (its second occurrence), a
    skipped hour with the offset in force before the change. The feed carries nothing that
    could tell the two occurrences apart; docs/milestones.md says so.
-#}

{#- The UTC instant of a wall-clock time in `time_zone`. -#}
{% macro local_to_utc(local_timestamp, time_zone) -%}
    {{ return(adapter.dispatch('local_to_utc', 'waybill')(local_timestamp, time_zone)) }}
{%- endmacro %}

{#- SQL standard AT TIME ZONE (Postgres, Trino, ...): naive -> zoned -> naive UTC. -#}
{% macro default__local_to_utc(local_timestamp, time_zone) -%}
    (({{ local_timestamp }} at time zone {{ time_zone }}) at time zone 'UTC')
{%- endmacro %}

{#- DuckDB/ICU: timezone(zone, naive) reads the value as local to zone and gives a timestamptz;
    timezone('UTC', timestamptz) turns that into the naive UTC value. -#}
{% macro duckdb__local_to_utc(local_timestamp, time_zone) -%}
    timezone('UTC', timezone({{ time_zone }}, {{ local_timestamp }}))
{%- endmacro %}

{% macro spark__local_to_utc(local_timestamp, time_zone) -%}
    to_utc_timestamp({{ local_timestamp }}, {{ time_zone }})
{%- endmacro %}

{% macro snowflake__local_to_utc(local_timestamp, time_zone) -%}
    convert_timezone({{ time_zone }}, 'UTC', {{ local_timestamp }})
{%- endmacro %}

{#- The wall-clock time in `time_zone` of a naive UTC timestamp. -#}
{% macro utc_to_local(utc_timestamp, time_zone) -%}
    {{ return(adapter.dispatch('utc_to_local', 'waybill')(utc_timestamp, time_zone)) }}
{%- endmacro %}

{% macro default__utc_to_local(utc_timestamp, time_zone) -%}
    (({{ utc_timestamp }} at time zone 'UTC') at time zone {{ time_zone }})
{%- endmacro %}

{% macro duckdb__utc_to_local(utc_timestamp, time_zone) -%}
    timezone({{ time_zone }}, timezone('UTC', {{ utc_timestamp }}))
{%- endmacro %}

{% macro spark__utc_to_local(utc_timestamp, time_zone) -%}
    from_utc_timestamp({{ utc_timestamp }}, {{ time_zone }})
{%- endmacro %}

{% macro snowflake__utc_to_local(utc_timestamp, time_zone) -%}
    convert_timezone('UTC', {{ time_zone }}, {{ utc_timestamp }})
{%- endmacro %}
