{#- Every landed cost source is allocated to the cent, in its own currency and in the reporting
    currency (largest remainder; docs/finance.md "Landed cost"). Rows returned = failures. -#}
select
    landed_cost_source_id,
    max(source_amount) as source_amount,
    sum(allocated_amount) as allocated_amount,
    max(source_reporting_amount) as source_reporting_amount,
    sum(allocated_reporting_amount) as allocated_reporting_amount
from {{ ref('int_landed_costs_allocated') }}
group by landed_cost_source_id
having max(source_amount) <> sum(allocated_amount)
    or max(source_reporting_amount) <> sum(allocated_reporting_amount)
