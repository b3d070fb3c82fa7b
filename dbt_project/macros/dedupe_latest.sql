{#-
    Corrected re-sends: keep one row per business key, the latest delivery. A higher _load_id
    is a later file; within one file the later row (_row_number) wins.

    relation:      a ref, source or CTE name
    partition_by:  a column name or a list of them (the business key)
    version_by:    optional expression for the sender's own version time (newest wins), used
                   before delivery order, so a re-send that reaches us first still loses to a
                   newer version (DCSA: eventUpdatedDateTime)

    Adds `_versions_received`: how many rows with this business key arrived in all (1 = never
    re-sent). Downstream checks use it to tell a re-sent invoice or event from a first delivery,
    which the dedupe would otherwise hide.
-#}
{% macro dedupe_latest(relation, partition_by, version_by=none) -%}
    {{ return(adapter.dispatch('dedupe_latest', 'waybill')(relation, partition_by, version_by)) }}
{%- endmacro %}

{#-
    QUALIFY works on DuckDB, Snowflake, BigQuery and Databricks. Engines without it (open-source
    Spark, Postgres) need an override that filters a row_number() column in a subquery.
-#}
{% macro default__dedupe_latest(relation, partition_by, version_by=none) -%}
    {%- set keys = [partition_by] if partition_by is string else partition_by -%}
    select
        *,
        count(*) over (partition by {{ keys | join(', ') }}) as _versions_received
    from {{ relation }}
    qualify row_number() over (
        partition by {{ keys | join(', ') }}
        order by
            {%- if version_by %} {{ version_by }} desc nulls last,{% endif %}
            _load_id desc, _row_number desc
    ) = 1
{%- endmacro %}
