{#- Daily order KPIs (DESIGN.md section 5, docs/kpis.md "Order KPIs per day and month"): one
    row per calendar day (UTC). The body is shared with kpi_orders_monthly (macro
    order_kpis_by_period). -#}
{{ order_kpis_by_period('day', 'calendar_date') }}
