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

    Weights are summed as integers (millionths): a sum of doubles depends on the order the
    engine adds them in, and so did single cents of the allocation from one build to the next.
-#}
{% macro allocate_largest_remainder(relation, amounts, weight, partition_by, order_by) -%}
select
    *,
    {%- for amount in amounts %}
    cast((_lr_floor_{{ amount }} + case
        when row_number() over (
            partition by {{ partition_by }}
            order by _lr_share_{{ amount }} - _lr_floor_{{ amount }} desc, {{ order_by }}
        ) <= _lr_left_{{ amount }} then 1 else 0 end) / 100.0 as decimal(18, 2)) as allocated_{{ amount }}
    {%- if not loop.last %},{% endif %}
    {%- endfor %}
from (
    select
        *,
        {%- for amount in amounts %}
        cast(round({{ amount }} * 100) as bigint)
            - sum(_lr_floor_{{ amount }}) over (partition by {{ partition_by }}) as _lr_left_{{ amount }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from (
        select
            *,
            {%- for amount in amounts %}
            floor(_lr_share_{{ amount }}) as _lr_floor_{{ amount }}
            {%- if not loop.last %},{% endif %}
            {%- endfor %}
        from (
            select
                *,
                {%- for amount in amounts %}
                cast(round({{ amount }} * 100) as bigint) * _lr_weight_share as _lr_share_{{ amount }}
                {%- if not loop.last %},{% endif %}
                {%- endfor %}
            from (
                select
                    *,
                    case
                        when sum(_lr_weight_millionths) over (partition by {{ partition_by }}) > 0
                            then cast(_lr_weight_millionths as double)
                                / cast(sum(_lr_weight_millionths) over (partition by {{ partition_by }}) as double)
                        else 1.0 / count(*) over (partition by {{ partition_by }})
                    end as _lr_weight_share
                from (
                    select
                        *,
                        cast(round(cast(coalesce({{ weight }}, 0) as double) * 1000000) as {{ dbt.type_bigint() }})
                            as _lr_weight_millionths
                    from {{ relation }}
                )
            )
        )
    )
)
{%- endmacro %}
