{#- Raw values are strings trimmed by the loader; an empty string means "not given". -#}
{% macro clean_string(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{#- Codes (carrier, status, country, currency, mode ...) compare upper-case. -#}
{% macro clean_code(column) -%}
    upper(nullif(trim({{ column }}), ''))
{%- endmacro %}
