{#-
    Corrected re-sends: keep one row per business key, the latest delivery. A higher _load_id
    is a later file; within one file the later row (_row_number) wins.

    relation:      a ref, source or CTE name
    partition_by:  a column name or a list of them (the business key)
-#}
{% macro dedupe_latest(relation, partition_by) -%}
    {{ return(adapter.dispatch('dedupe_latest', 'waybill')(relation, partition_by)) }}
{%- endmacro %}

{#-
    QUALIFY works on DuckDB, Snowflake, BigQuery and Databricks. Engines without it (open-source
    Spark, Postgres) need an override that filters a row_number() column in a subquery.
-#}
{% macro default__dedupe_latest(relation, partition_by) -%}
    {%- set keys = [partition_by] if partition_by is string else partition_by -%}
    select *
    from {{ relation }}
    qualify row_number() over (
        partition by {{ keys | join(', ') }}
        order by _load_id desc, _row_number desc
    ) = 1
{%- endmacro %}
