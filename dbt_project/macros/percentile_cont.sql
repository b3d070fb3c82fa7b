{#-
    Continuous percentile (linear interpolation between the two nearest values, the SQL standard
    PERCENTILE_CONT) of `expression` over the rows of a group; nulls are ignored. `fraction` is a
    number in [0, 1] (0.5 = median). Used as an aggregate: call it in a select with a group by.
-#}
{% macro percentile_cont(fraction, expression) -%}
    {{ return(adapter.dispatch('percentile_cont', 'waybill')(fraction, expression)) }}
{%- endmacro %}

{#- SQL standard ordered-set aggregate (Postgres, Snowflake, Trino, Redshift ...). -#}
{% macro default__percentile_cont(fraction, expression) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{#- DuckDB: quantile_cont is the native, interpolating quantile. -#}
{% macro duckdb__percentile_cont(fraction, expression) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{#- Spark: percentile() interpolates like percentile_cont. -#}
{% macro spark__percentile_cont(fraction, expression) -%}
    percentile({{ expression }}, {{ fraction }})
{%- endmacro %}
