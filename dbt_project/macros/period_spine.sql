{#-
    One row per calendar period (`day` or `month`) from the period of `start_expression` to the
    period of `end_expression`, both included, as a date column `period_start_date`. The bounds
    are SQL expressions evaluated over `from_relation` (one row, or aggregates over it). Null
    bounds give no rows. KPI marts use it so quiet periods are zero rows, not gaps.
-#}
{% macro period_spine(period, start_expression, end_expression, from_relation) -%}
    {{ return(adapter.dispatch('period_spine', 'waybill')(period, start_expression, end_expression, from_relation)) }}
{%- endmacro %}

{#- generate_series over timestamps with an interval step (DuckDB; Postgres via a set-returning call). -#}
{% macro default__period_spine(period, start_expression, end_expression, from_relation) -%}
    select cast(period_start as date) as period_start_date
    from (
        select unnest(generate_series(spine_start, spine_end, interval '1 {{ period }}')) as period_start
        from (
            select
                cast({{ dbt.date_trunc(period, start_expression) }} as timestamp) as spine_start,
                cast({{ dbt.date_trunc(period, end_expression) }} as timestamp) as spine_end
            from {{ from_relation }}
        ) as bounds
    ) as periods
{%- endmacro %}
