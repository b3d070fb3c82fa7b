with

source as (
    select * from {{ source('raw', 'carriers') }}
),

renamed as (
    select
        -- ids
        {{ clean_code('carrier_code') }} as carrier_code,
        {{ clean_code('scac') }} as carrier_scac,

        -- strings
        {{ clean_string('carrier_name') }} as carrier_name,
        {{ clean_code('modes') }} as served_transport_modes,
        {{ clean_code('country') }} as carrier_country,

        -- lineage
        _source_file,
        _row_number,
        _load_id,
        _loaded_at

    from source
),

deduped as (
    {{ dedupe_latest('renamed', 'carrier_code') }}
)

select * from deduped
