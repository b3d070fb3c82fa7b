with

source as (
    select * from {{ source('raw', 'fx_rates') }}
),

renamed as (
    select
        -- ids
        {{ clean_code('currency') }} as currency_code,

        -- numerics
        {{ parse_decimal('rate_per_eur', scale=6) }} as rate_per_eur,

        -- dates
        {{ parse_date('rate_date') }} as rate_date,

        -- lineage
        _source_file,
        _row_number,
        _load_id,
        _loaded_at

    from source
),

deduped as (
    {{ dedupe_latest('renamed', ['rate_date', 'currency_code']) }}
),

keyed as (
    select
        {{ surrogate_key(['rate_date', 'currency_code']) }} as fx_rate_id,
        deduped.*
    from deduped
)

select * from keyed
