with

source as (
    select * from {{ source('raw', 'returns') }}
),

renamed as (
    select
        -- ids
        {{ clean_string('rma_number') }} as rma_number,
        {{ clean_string('order_id') }} as order_id,
        {{ parse_int('line_number') }} as line_number,

        -- strings
        {{ clean_code('reason') }} as return_reason,

        -- numerics
        {{ parse_int('quantity') }} as quantity_returned,

        -- timestamps
        {{ cast_utc_timestamp('returned_at') }} as returned_at,

        -- lineage
        _source_file,
        _row_number,
        _load_id,
        _loaded_at

    from source
),

deduped as (
    {{ dedupe_latest('renamed', ['rma_number', 'order_id', 'line_number']) }}
),

keyed as (
    select
        {{ surrogate_key(['rma_number', 'order_id', 'line_number']) }} as return_line_id,
        deduped.*
    from deduped
)

select * from keyed
