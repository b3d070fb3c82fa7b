{#-
    Date and time-of-day contract types. Text is glued with ANSI `||` (null in, null out);
    dbt.concat would turn a missing value into '--' on engines whose concat() skips nulls.
-#}

{#- Contract type `date`: ISO 8601 YYYY-MM-DD. -#}
{% macro parse_date(column) -%}
    cast({{ waybill.clean_string(column) }} as date)
{%- endmacro %}

{#- Contract type `date8`: X12 CCYYMMDD (e.g. AT7-05, B3-06), rebuilt as ISO text and cast. -#}
{% macro parse_date8(column) -%}
    {%- set value = waybill.clean_string(column) -%}
    cast(
        substr({{ value }}, 1, 4) || '-' || substr({{ value }}, 5, 2) || '-' || substr({{ value }}, 7, 2)
        as date
    )
{%- endmacro %}

{#-
    Contract type `time4`: X12 HHMM or HHMMSS (e.g. AT7-06); seconds default to 00.
    Dispatched because not every engine has a TIME type (on Spark it stays 'HH:MM:SS' text).
-#}
{% macro parse_time4(column) -%}
    {{ return(adapter.dispatch('parse_time4', 'waybill')(column)) }}
{%- endmacro %}

{% macro default__parse_time4(column) -%}
    cast({{ waybill._time4_text(column) }} as time)
{%- endmacro %}

{% macro spark__parse_time4(column) -%}
    {{ waybill._time4_text(column) }}
{%- endmacro %}

{% macro _time4_text(column) -%}
    {%- set value = waybill.clean_string(column) -%}
    substr({{ value }}, 1, 2) || ':' || substr({{ value }}, 3, 2) || ':'
        || coalesce(nullif(substr({{ value }}, 5, 2), ''), '00')
{%- endmacro %}

{#- A naive timestamp from a date and a time of day (both already cast). -#}
{% macro date_time_to_timestamp(date_column, time_column) -%}
    {{ return(adapter.dispatch('date_time_to_timestamp', 'waybill')(date_column, time_column)) }}
{%- endmacro %}

{% macro default__date_time_to_timestamp(date_column, time_column) -%}
    cast(
        cast({{ date_column }} as {{ dbt.type_string() }}) || ' '
            || cast({{ time_column }} as {{ dbt.type_string() }})
        as {{ dbt.type_timestamp() }}
    )
{%- endmacro %}

{% macro duckdb__date_time_to_timestamp(date_column, time_column) -%}
    ({{ date_column }} + {{ time_column }})
{%- endmacro %}
