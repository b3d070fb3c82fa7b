{#-
    ISO 8601 date-times from the feeds, contract types `timestamp_tz` (offset required) and
    `timestamp` (offset optional: without one the time is local to the event's location).

    For a column x a staging model keeps, by the house naming:
        <event>_local                 naive wall-clock time as written (offset removed)
        <event>_utc_offset_minutes    the written offset in minutes (+01:00 -> 60, Z -> 0), or null
        <event>_at                    UTC timestamp; null when no offset was written (resolved
                                      later through the location's IANA zone)
-#}

{#- The pattern's 4th group is the trailing offset: Z, +HH, +HHMM or +HH:MM. -#}
{% macro _iso_offset_pattern() -%}
    (\d{2}:\d{2}(:\d{2}(\.\d+)?)?)\s*(Z|z|[+-]\d{2}(:?\d{2})?)$
{%- endmacro %}

{#- The offset text as written, or null. -#}
{% macro utc_offset_text(column) -%}
    {{ return(adapter.dispatch('utc_offset_text', 'waybill')(column)) }}
{%- endmacro %}

{% macro default__utc_offset_text(column) -%}
    nullif(regexp_extract({{ waybill.clean_string(column) }}, '{{ waybill._iso_offset_pattern() }}', 4), '')
{%- endmacro %}

{#- Offset in minutes east of UTC (+05:30 -> 330, -05:00 -> -300, Z -> 0); null if none. -#}
{% macro utc_offset_minutes(column) -%}
    {%- set offset = waybill.utc_offset_text(column) -%}
    case
        when upper({{ offset }}) = 'Z' then 0
        when {{ offset }} is not null then
            (case when substr({{ offset }}, 1, 1) = '-' then -1 else 1 end)
            * (
                cast(substr({{ offset }}, 2, 2) as integer) * 60
                + coalesce(cast(nullif(substr(replace({{ offset }}, ':', ''), 4, 2), '') as integer), 0)
            )
    end
{%- endmacro %}

{#- The wall-clock time as written, offset removed: a naive timestamp. -#}
{% macro timestamp_local(column) -%}
    {{ return(adapter.dispatch('timestamp_local', 'waybill')(column)) }}
{%- endmacro %}

{% macro default__timestamp_local(column) -%}
    cast(
        regexp_replace({{ waybill.clean_string(column) }}, '{{ waybill._iso_offset_pattern() }}', '\1')
        as {{ dbt.type_timestamp() }}
    )
{%- endmacro %}

{#-
    UTC instant of a date-time WITH an offset, as a naive UTC timestamp (the house convention
    for `<event>_at`). Only call it where the offset is known to be present (timestamp_tz
    fields, or guarded by `utc_offset_minutes(...) is not null`).
-#}
{% macro cast_utc_timestamp(column) -%}
    {{ return(adapter.dispatch('cast_utc_timestamp', 'waybill')(column)) }}
{%- endmacro %}

{#- Portable: wall-clock time minus the written offset. -#}
{% macro default__cast_utc_timestamp(column) -%}
    {{ dbt.dateadd('minute', '-1 * (' ~ waybill.utc_offset_minutes(column) ~ ')', waybill.timestamp_local(column)) }}
{%- endmacro %}

{#- DuckDB parses the offset itself (ICU); timezone('UTC', ...) drops it to a naive UTC value. -#}
{% macro duckdb__cast_utc_timestamp(column) -%}
    timezone('UTC', cast({{ waybill.clean_string(column) }} as timestamptz))
{%- endmacro %}

{#- For `timestamp` fields (offset optional): the UTC time when an offset was written, else null. -#}
{% macro cast_utc_timestamp_if_offset(column) -%}
    case
        when {{ waybill.utc_offset_text(column) }} is not null
            then {{ waybill.cast_utc_timestamp(column) }}
    end
{%- endmacro %}
