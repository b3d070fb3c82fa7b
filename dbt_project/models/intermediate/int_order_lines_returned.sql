{#- Order lines with what came back: returns are keyed by order id + line number (the RMA feed
    has no line id), summed per line. -#}
with

order_lines as (
    select * from {{ ref('stg_oms__order_lines') }}
),

returns as (
    select * from {{ ref('stg_oms__returns') }}
),

line_returns as (
    select
        order_id,
        line_number,
        sum(quantity_returned) as quantity_returned,
        bool_or(return_reason = 'DAMAGED') as has_damaged_return
    from returns
    group by order_id, line_number
),

joined as (
    select
        order_lines.*,
        coalesce(line_returns.quantity_returned, 0) as quantity_returned,
        coalesce(line_returns.has_damaged_return, false) as has_damaged_return
    from order_lines
    left join line_returns
        on order_lines.order_id = line_returns.order_id
        and order_lines.line_number = line_returns.line_number
)

select * from joined
