{#-
    A single-column key for a composite business key: md5 of the values joined with '-',
    nulls replaced by a marker so (a, null) and (null, a) differ and null keys still hash.
    Same recipe as dbt_utils.generate_surrogate_key (the package hub is unreachable here).
-#}
{% macro surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append(
            "coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '_waybill_null_')"
        ) -%}
        {%- if not loop.last %}{% do parts.append("'-'") %}{% endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}
