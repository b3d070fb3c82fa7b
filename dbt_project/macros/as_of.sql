{#- "Now" for due dates and alert ages: the pinned var value (a UTC timestamp string) or, when it
    is null, the newest carrier status time we hold (max current_status_at of `shipments`). The
    body of a one-row CTE with the column as_of_at. -#}
{% macro select_as_of_at(as_of, shipments='shipments') %}
    select
        {%- if as_of %}
        cast('{{ as_of }}' as timestamp) as as_of_at
        {%- else %}
        max(current_status_at) as as_of_at
        from {{ shipments }}
        {%- endif %}
{% endmacro %}
