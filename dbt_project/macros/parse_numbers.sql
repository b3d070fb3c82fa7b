{#-
    Contract types `int` and `decimal`. The loader has already proved the text parses, so a
    plain cast cannot fail. Money and weights use decimal(18, 4); rates that are multiplied
    (per-kg rates, FX) keep 6 decimals.
-#}
{% macro parse_int(column) -%}
    cast({{ waybill.clean_string(column) }} as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro parse_decimal(column, precision=18, scale=4) -%}
    cast({{ waybill.clean_string(column) }} as decimal({{ precision }}, {{ scale }}))
{%- endmacro %}
