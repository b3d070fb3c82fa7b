{#- Carrier invoice lines from both formats in one shape (docs/finance.md "Freight audit"):
    X12 210 (carrier from the SCAC, charge codes through map_freight_charge_codes, quantity
    from the rate qualifier) and the carrier CSV. Staging keeps the latest version of each
    (carrier, invoice, line); _versions_received > 1 says the carrier sent it more than once. -#}
with

x12 as (
    select * from {{ ref('stg_x12__freight_invoice_lines') }}
),

csv as (
    select * from {{ ref('stg_carrier_csv__freight_invoice_lines') }}
),

carriers as (
    select * from {{ ref('stg_ref__carriers') }}
),

charge_codes as (
    select * from {{ ref('map_freight_charge_codes') }}
),

x12_lines as (
    select
        'x12_210' as source_format,
        coalesce(carriers.carrier_code, x12.carrier_scac) as carrier_code,
        x12.invoice_number,
        x12.line_number,
        x12.shipment_id,
        x12.charge_code as source_charge_code,
        case
            when x12.rate_qualifier = 'PK' then x12.billed_weight_kg
            when x12.rate_qualifier = 'PH' and x12.charge_rate > 0
                then cast(round(x12.charge_amount / x12.charge_rate, 2) as decimal(18, 4))
            else cast(1 as decimal(18, 4))
        end as charge_quantity,
        x12.charge_rate,
        x12.charge_amount,
        x12.invoice_currency as charge_currency,
        x12.invoice_date,
        x12._versions_received,
        x12._source_file,
        x12._row_number
    from x12
    left join carriers
        on x12.carrier_scac = carriers.carrier_scac
),

csv_lines as (
    select
        'csv' as source_format,
        csv.carrier_code,
        csv.invoice_number,
        csv.line_number,
        csv.shipment_id,
        csv.charge_code as source_charge_code,
        csv.charge_quantity,
        cast(null as decimal(18, 6)) as charge_rate,
        csv.charge_amount,
        csv.charge_currency,
        csv.invoice_date,
        csv._versions_received,
        csv._source_file,
        csv._row_number
    from csv
),

unioned as (
    select * from x12_lines
    union all
    select * from csv_lines
),

coded as (
    select
        {{ surrogate_key(['unioned.carrier_code', 'unioned.invoice_number', 'unioned.line_number']) }}
            as freight_invoice_line_id,
        {{ surrogate_key(['unioned.carrier_code', 'unioned.invoice_number']) }}
            as freight_invoice_id,
        unioned.*,
        coalesce(charge_codes.charge_code, unioned.source_charge_code) as charge_code,
        coalesce(charge_codes.charge_class, 'UNKNOWN') as charge_class
    from unioned
    left join charge_codes
        on charge_codes.source_format = unioned.source_format
        and charge_codes.source_charge_code = unioned.source_charge_code
)

select * from coded
