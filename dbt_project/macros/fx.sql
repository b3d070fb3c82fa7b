{#-
    Conversion to the reporting currency (var reporting_currency), docs/finance.md "FX".

    fx_join(alias, currency, on_date): a left join of int_fx_rates_daily_filled for one amount;
        call it once per (currency, date) pair to convert, with its own alias.
    fx_columns(alias, amount, currency, prefix): the converted amount and its trail, as
        <prefix>_amount (original), <prefix>_currency, <prefix>_fx_rate, <prefix>_fx_rate_date,
        <prefix>_reporting_amount (rounded to the cent).
    A missing rate leaves <prefix>_fx_rate null: the models test it not_null where the original
    amount is not null (severity error), so a gap in the ECB file fails the build instead of
    converting at 1.0 or vanishing.
-#}
{% macro fx_join(alias, currency, on_date) -%}
    left join {{ ref('int_fx_rates_daily_filled') }} as {{ alias }}
        on {{ alias }}.currency_code = {{ currency }}
        and {{ alias }}.rate_on = cast({{ on_date }} as date)
{%- endmacro %}

{% macro to_reporting(alias, amount) -%}
    cast(round(cast({{ amount }} as double) * {{ alias }}.rate_to_reporting, 2) as decimal(18, 2))
{%- endmacro %}

{% macro fx_columns(alias, amount, currency, prefix) -%}
        {{ amount }} as {{ prefix }}_amount,
        {{ currency }} as {{ prefix }}_currency,
        {{ alias }}.rate_to_reporting as {{ prefix }}_fx_rate,
        {{ alias }}.rate_date as {{ prefix }}_fx_rate_date,
        {{ to_reporting(alias, amount) }} as {{ prefix }}_reporting_amount
{%- endmacro %}
