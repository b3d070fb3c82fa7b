{#- Monthly order KPIs (DESIGN.md section 5, docs/kpis.md "Order KPIs per day and month"): one
    row per calendar month. The body is shared with kpi_orders_daily (macro
    order_kpis_by_period). -#}
{{ order_kpis_by_period('month', 'month_start_date') }}
