{#-
    Incremental builds (docs/operations.md "Incremental builds").

    The orchestrator (orchestration/defs/dbt.py, waybill/build_state.py) decides per run:
    - a full refresh (`dbt build --full-refresh`): first build, the dbt project changed, a
      reference feed the incremental models read changed (carriers), `waybill run --full-refresh`;
    - else an incremental build with two vars:
        incremental_since    the newest load_id the last successful whole build included
        incremental_load_id  the newest load_id this build includes

    int_keys_changed lists, per run, what the loads after `incremental_since` touch: carrier
    shipment references (key_type REF: every event carrying one is re-derived, so a late event,
    a correction, a retraction or a re-link of events that arrived before their shipment is
    recomputed with all its neighbours) and shipments (key_type SHIPMENT). An incremental model
    deletes the rows of those keys (pre-hook delete_changed_keys) and inserts them recomputed
    (where_changed on its input), so a model holds exactly what a full build would.

    Keys accumulate until a whole build succeeds (rows with build_load_id > incremental_since):
    a build that stopped half way leaves some models updated and others not, and the next run
    recomputes the same keys again everywhere. Without the vars (a hand-run `dbt build` on a
    built warehouse) every incremental model is recomputed whole.
-#}

{#- The relation of the changed keys. While dbt parses, the ref is always taken, so the
    models that filter on it build after it; a unit test (no `this`) never reads it. -#}
{% macro _changed_keys_relation() -%}
    {%- if not execute or waybill.incremental_scope_known() -%}
        {{ return(ref('int_keys_changed')) }}
    {%- endif -%}
{%- endmacro %}

{#- Is this an incremental run that knows what changed? (Never in a unit test.) -#}
{% macro incremental_scope_known() -%}
    {{ return(this is not none and is_incremental() and var('incremental_since', none) is not none) }}
{%- endmacro %}

{#- The rows whose key (a column, null read as '') changed since incremental_since. -#}
{% macro _key_changed(column, key_type) -%}
    coalesce({{ column }}, '') in (
        select key_value from {{ waybill._changed_keys_relation() }}
        where key_type = '{{ key_type }}' and build_load_id > {{ var('incremental_since') | int }}
    )
{%- endmacro %}

{#- `where` clause keeping the rows whose key changed. Renders nothing on a full build and on an
    incremental run without vars (then all rows are rebuilt). -#}
{% macro where_changed(column, key_type) -%}
    {#- while dbt parses: takes the ref, so the model builds after int_keys_changed -#}
    {%- do waybill._changed_keys_relation() -%}
    {%- if waybill.incremental_scope_known() %}
    where {{ waybill._key_changed(column, key_type) }}
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of an incremental model: remove the rows about to be recomputed. -#}
{% macro delete_changed_keys(column, key_type) -%}
    {%- if waybill.incremental_scope_known() -%}
        delete from {{ this }} where {{ waybill._key_changed(column, key_type) }}
    {%- elif this is not none and is_incremental() -%}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- The table a model built on the previous run (to find what changed before it is
    rebuilt), without a ref: a ref would make a cycle. -#}
{% macro previous_build(model_name, schema) -%}
    {%- set relation = adapter.get_relation(this.database, schema, model_name) -%}
    {%- if relation is none and execute -%}
        {{ exceptions.raise_compiler_error(
            "incremental build without a previous build of " ~ schema ~ "." ~ model_name
            ~ ": run with --full-refresh") }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
