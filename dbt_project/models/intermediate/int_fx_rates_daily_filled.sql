{#- FX rule (DESIGN.md section 5, docs/finance.md "FX"): the ECB publishes units of currency per
    EUR on TARGET business days. Every calendar day from the first publication to the last
    publication + fx_max_carry_forward_days gets, per currency, the last rate published on or
    before it (rate_date says which). A cross rate to the reporting currency goes through EUR:
    units of reporting currency per unit of X = (reporting per EUR) / (X per EUR). EUR itself is
    1 per EUR on every publication day. Days beyond the carry-forward limit get no row: a
    conversion on such a day finds no rate and fails its not_null test (never a silent 1.0). -#}
{%- set reporting = var('reporting_currency') -%}
{%- set max_carry = var('fx_max_carry_forward_days') | int -%}

with

published as (
    select
        currency_code,
        rate_date,
        rate_per_eur
    from {{ ref('stg_ecb__fx_rates') }}
    where rate_per_eur is not null
        and rate_per_eur > 0
),

publication_days as (
    select distinct rate_date from published
),

with_euro as (
    select currency_code, rate_date, rate_per_eur from published
    union all
    select 'EUR' as currency_code, rate_date, cast(1 as decimal(18, 6)) as rate_per_eur
    from publication_days
),

currencies as (
    select distinct currency_code from with_euro
),

calendar as (
    select cast(day as date) as rate_on
    from range(
        (select min(rate_date) from publication_days),
        (select max(rate_date) from publication_days) + {{ max_carry + 1 }},
        interval 1 day
    ) as days(day)
),

-- the last publication on or before each calendar day, per currency
carried as (
    select
        calendar.rate_on,
        currencies.currency_code,
        max(with_euro.rate_date) as rate_date
    from calendar
    cross join currencies
    inner join with_euro
        on with_euro.currency_code = currencies.currency_code
        and with_euro.rate_date <= calendar.rate_on
        and with_euro.rate_date >= calendar.rate_on - {{ max_carry }}
    group by calendar.rate_on, currencies.currency_code
),

rated as (
    select
        carried.rate_on,
        carried.currency_code,
        carried.rate_date,
        with_euro.rate_per_eur
    from carried
    inner join with_euro
        on carried.currency_code = with_euro.currency_code
        and carried.rate_date = with_euro.rate_date
),

crossed as (
    select
        {{ surrogate_key(['rated.rate_on', 'rated.currency_code']) }} as fx_rate_daily_id,
        rated.rate_on,
        rated.currency_code,
        '{{ reporting }}' as reporting_currency,
        rated.rate_date,
        datediff('day', rated.rate_date, rated.rate_on) as days_carried_forward,
        rated.rate_per_eur,
        reporting_rates.rate_per_eur as reporting_rate_per_eur,
        -- units of reporting currency per 1 unit of currency_code, through EUR
        cast(reporting_rates.rate_per_eur as double) / cast(rated.rate_per_eur as double)
            as rate_to_reporting
    from rated
    inner join rated as reporting_rates
        on reporting_rates.rate_on = rated.rate_on
        and reporting_rates.currency_code = '{{ reporting }}'
)

select * from crossed
