{#- Aging buckets (docs/finance.md "Aging"): days from the age date to the as-of date. -#}
{% macro aging_bucket(days) -%}
    case
        when {{ days }} is null then null
        when {{ days }} <= 30 then '0-30'
        when {{ days }} <= 60 then '31-60'
        when {{ days }} <= 90 then '61-90'
        else '>90'
    end
{%- endmacro %}

{#- The aging as-of date: var aging_as_of, else the latest date of the given column(s) in the
    given relation(s) (a list of (relation, column) pairs). -#}
{% macro aging_as_of(date_sources) -%}
    {%- if var('aging_as_of') -%}
        cast('{{ var("aging_as_of") }}' as date)
    {%- else -%}
        (select max(d) from (
            {%- for relation, column in date_sources %}
            select max({{ column }}) as d from {{ relation }}
            {%- if not loop.last %} union all{% endif %}
            {%- endfor %}
        ))
    {%- endif -%}
{%- endmacro %}
