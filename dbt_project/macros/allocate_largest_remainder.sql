{#-
    Largest-remainder allocation of totals to rows, to the cent (docs/finance.md "Landed cost").
    Each row of a group gets floor(total_cents x weight / sum of weights) cents; the cents left
    over go one each to the rows with the largest fractional parts (ties: order_by). The
    allocated amounts of a group sum exactly to its total. Zero or null total weight: equal
    shares. Totals must be >= 0.

    relation:     a CTE name; every row carries its group's total(s) and its own weight
    amounts:      list of total columns (2 decimals); adds allocated_<column> decimal(18, 2)
    weight:       the row's weight column (>= 0)
    partition_by: the group key column
    order_by:     a deterministic tie-break column
    Returns a select of relation.* plus the allocated_<column>s (and _lr_* helper columns).

    Exact integer arithmetic: weights are counted in millionths and shares in cents x weight,
    so the same inputs give the same cents on every build (a floating-point share made ties,
    and so single cents, depend on the order the engine happened to sum in).
-#}
{% macro allocate_largest_remainder(relation, amounts, weight, partition_by, order_by) -%}
{%- set int = waybill.exact_integer_type() -%}
select
    *,
    {%- for amount in amounts %}
    cast((_lr_floor_{{ amount }} + case
        when row_number() over (
            partition by {{ partition_by }}
            order by _lr_rest_{{ amount }} desc, {{ order_by }}
        ) <= _lr_left_{{ amount }} then 1 else 0 end) / 100.0 as decimal(18, 2)) as allocated_{{ amount }}
    {%- if not loop.last %},{% endif %}
    {%- endfor %}
from (
    select
        *,
        {%- for amount in amounts %}
        _lr_cents_{{ amount }} - sum(_lr_floor_{{ amount }}) over (partition by {{ partition_by }})
            as _lr_left_{{ amount }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from (
        select
            *,
            {%- for amount in amounts %}
            {{ waybill.integer_divide('_lr_cents_' ~ amount ~ ' * _lr_weight', '_lr_weight_total') }}
                as _lr_floor_{{ amount }},
            (_lr_cents_{{ amount }} * _lr_weight) % _lr_weight_total as _lr_rest_{{ amount }}
            {%- if not loop.last %},{% endif %}
            {%- endfor %}
        from (
            select
                *,
                {%- for amount in amounts %}
                cast(round({{ amount }} * 100) as {{ int }}) as _lr_cents_{{ amount }},
                {%- endfor %}
                -- zero or null total weight: equal shares
                case when _lr_weight_sum > 0 then _lr_weight_millionths else 1 end as _lr_weight,
                case
                    when _lr_weight_sum > 0 then _lr_weight_sum
                    else cast(count(*) over (partition by {{ partition_by }}) as {{ int }})
                end as _lr_weight_total
            from (
                select
                    *,
                    sum(_lr_weight_millionths) over (partition by {{ partition_by }}) as _lr_weight_sum
                from (
                    select
                        *,
                        cast(round(cast(coalesce({{ weight }}, 0) as double) * 1000000) as {{ int }})
                            as _lr_weight_millionths
                    from {{ relation }}
                )
            )
        )
    )
)
{%- endmacro %}

{#- An integer type wide enough for cents x weight in millionths. -#}
{% macro exact_integer_type() -%}
    {{ return(adapter.dispatch('exact_integer_type', 'waybill')()) }}
{%- endmacro %}

{% macro default__exact_integer_type() -%}
    {{ return('decimal(38, 0)') }}
{%- endmacro %}

{% macro duckdb__exact_integer_type() -%}
    {{ return('hugeint') }}
{%- endmacro %}

{#- Floor division of non-negative integers, exact. -#}
{% macro integer_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('integer_divide', 'waybill')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__integer_divide(numerator, denominator) -%}
    ({{ numerator }}) div ({{ denominator }})
{%- endmacro %}

{% macro duckdb__integer_divide(numerator, denominator) -%}
    ({{ numerator }}) // ({{ denominator }})
{%- endmacro %}
