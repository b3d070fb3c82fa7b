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

    Adds `_business_key`: a hash of the business key, the unique key of the incremental staging
    tables (dbt_project.yml). On an incremental run (macros/incremental.sql) only the keys that
    received a row after `incremental_since` are deduped again, over all their rows, and replace
    their previous winner (delete+insert on `_business_key`; a raw row is never removed, so a
    key never disappears).
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
        count(*) over (partition by {{ keys | join(', ') }}) as _versions_received,
        {{ waybill.business_key_hash(keys) }} as _business_key
    from {{ relation }}
    {%- if waybill.incremental_scope_known() %}
    where {{ waybill.business_key_hash(keys) }} in (
        select {{ waybill.business_key_hash(keys) }} from {{ relation }}
        where _load_id > {{ var('incremental_since') | int }}
    )
    {%- endif %}
    qualify row_number() over (
        partition by {{ keys | join(', ') }}
        order by
            {%- if version_by %} {{ version_by }} desc nulls last,{% endif %}
            _load_id desc, _row_number desc
    ) = 1
{%- endmacro %}

{#- One value per business key (a collision only makes an incremental run redo one more key). -#}
{% macro business_key_hash(columns) -%}
    {{ return(adapter.dispatch('business_key_hash', 'waybill')(columns)) }}
{%- endmacro %}

{% macro default__business_key_hash(columns) -%}
    {{ waybill.surrogate_key(columns) }}
{%- endmacro %}

{% macro duckdb__business_key_hash(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}
