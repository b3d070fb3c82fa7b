"""USAID SCMS delivery history -> orders, shipments, carrier CSV events, carrier invoices, carriers.

One SCMS row is one shipment line item (docs/real-data.md, "USAID SCMS"):

- order = ``PO / SO #``, order line = the row (line number = its rank by ``ID`` within the
  PO/SO); created at ``PO Sent to Vendor Date``, else ``PQ First Sent to Client Date`` (both
  ``m/d/yy`` or text); a row with neither date cannot become an order line (rejected with the
  text it had) but still becomes a shipment line;
- shipment = ``ASN/DN #``; planned delivery end = promised delivery end = the end of the
  ``Scheduled Delivery Date`` (``d-Mon-yy``, taken as a UTC calendar day): calendar-day lateness;
  delivered = ``DLV`` event at 00:00 UTC of ``Delivered to Client Date``, received at the
  ``Delivery Recorded Date``;
- mode: Air -> AIR, Air Charter -> AIR (service level CHARTER), Truck -> FTL, Ocean -> OCEAN;
  ``N/A`` (360 rows) cannot be a shipment mode: those rows are rejected for the shipments feed;
- carrier: SCMS does not name carriers, so one code per mode (``SCMS-AIR`` ...);
- weight: numeric values are summed per ASN/DN into the shipment's gross weight; ``See ASN-…
  (ID#:n)`` points to the row of the same ASN/DN that carries the shipment's weight (resolved,
  counted); ``Weight Captured Separately`` is unknown (counted; a shipment with no known weight
  gets 0 as the documented default and is left out of per-kg figures);
- freight (``Freight Cost (USD)``): numeric -> an ``FRT`` carrier-invoice line on the shipment's
  invoice; ``See ASN-… (ID#:n)`` -> already on row n's line (counted); ``Freight Included in
  Commodity Cost`` and ``Invoiced Separately`` -> no line (counted); insurance -> an ``INS``
  line (blank: none, counted). One invoice per ASN/DN, dated its delivery date;
- countries are names (``Côte d'Ivoire``, ``Congo, DRC``): resolved with pycountry plus the two
  aliases in ``COUNTRY_ALIASES``; the ship-from country is not a column: it is read from the end
  of ``Manufacturing Site`` where that names a country, else the documented default ``US``;
- ``Vendor INCO Term``: Incoterms 2020 kept; ``DDU`` (withdrawn in 2010) -> ``DAP``;
  ``N/A - From RDC`` (shipped from SCMS's regional distribution centre) -> ``DAP``.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pycountry

from ingestion.contracts import INCOTERMS_2020
from ingestion.importers.base import Importer, ImportReport
from ingestion.importers.fx import date_span, write_ecb_rates

FILE = "SCMS_Delivery_History_Dataset.csv"
COUNTRY_ALIASES = {"Congo, DRC": "CD", "Swaziland": "SZ"}
MODES = {
    "Air": ("AIR", None),
    "Air Charter": ("AIR", "CHARTER"),
    "Truck": ("FTL", None),
    "Ocean": ("OCEAN", None),
}
NUMBER = r"^[0-9]+(\.[0-9]+)?$"


def _country(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip()
    if name in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[name]
    try:
        return pycountry.countries.lookup(name).alpha_2
    except LookupError:
        try:
            return pycountry.countries.search_fuzzy(name)[0].alpha_2
        except LookupError:
            return None


def _site_country(site: str | None) -> str | None:
    """The country a manufacturing site's name ends with ('..., India.', 'Shanghai China')."""
    if not site:
        return None
    words = re.findall(r"[A-Za-z]+", site)
    for n in (2, 1):  # 'South Africa' before 'Africa'
        if len(words) >= n:
            cand = " ".join(words[-n:])
            if len(cand) < 3:  # two-letter tails ('IN', 'SA', 'IT') are too ambiguous
                continue
            try:
                return pycountry.countries.lookup(cand).alpha_2
            except LookupError:
                continue
    return None


def _dmy(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().str.to_date("%d-%b-%y", strict=False)


def _mdy(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().str.to_date("%m/%d/%y", strict=False)


def _day_end(expr: pl.Expr) -> pl.Expr:
    return expr.dt.strftime("%Y-%m-%dT23:59:59+00:00")


def _day_start(expr: pl.Expr) -> pl.Expr:
    return expr.dt.strftime("%Y-%m-%dT00:00:00+00:00")


def run(source: Path, landing: Path, dataset: str = "scms") -> ImportReport:
    imp = Importer(dataset, source, landing)
    path = source / FILE if source.is_dir() else source
    # UTF-8 with BOM, CR-only line ends (old Mac): polars needs the line terminator named
    raw = pl.read_csv(path, infer_schema=False, eol_char="\r", null_values=[""])
    df = imp.read("rows", raw)

    countries = {c: _country(c) for c in df["Country"].unique().drop_nulls().to_list()}
    sites = {s: _site_country(s) for s in df["Manufacturing Site"].unique().drop_nulls().to_list()}
    df = df.with_columns(
        dest=pl.col("Country").replace_strict(countries, default=None, return_dtype=pl.String),
        site_country=pl.col("Manufacturing Site").replace_strict(
            sites, default=None, return_dtype=pl.String
        ),
        scheduled=_dmy("Scheduled Delivery Date"),
        delivered=_dmy("Delivered to Client Date"),
        recorded=_dmy("Delivery Recorded Date"),
        po_date=_mdy("PO Sent to Vendor Date"),
        pq_date=_mdy("PQ First Sent to Client Date"),
        qty=pl.col("Line Item Quantity").cast(pl.Int64, strict=False),
        value=pl.col("Line Item Value").cast(pl.Float64, strict=False),
        weight=pl.when(pl.col("Weight (Kilograms)").str.contains(NUMBER)).then(
            pl.col("Weight (Kilograms)").cast(pl.Float64, strict=False)
        ),
        freight=pl.when(pl.col("Freight Cost (USD)").str.contains(NUMBER)).then(
            pl.col("Freight Cost (USD)").cast(pl.Float64, strict=False)
        ),
        insurance=pl.col("Line Item Insurance (USD)").cast(pl.Float64, strict=False),
        line_number=pl.col("ID").cast(pl.Int64).rank("ordinal").over("PO / SO #").cast(pl.Int64),
        incoterm=pl.col("Vendor INCO Term").replace({"DDU": "DAP", "N/A - From RDC": "DAP"}),
    )
    imp.default(
        "orders",
        "incoterm",
        "DAP (was DDU)",
        df.filter(pl.col("Vendor INCO Term") == "DDU").height,
        "DDU is not an Incoterms 2020 rule; DAP replaced it",
    )
    imp.default(
        "orders",
        "incoterm",
        "DAP (was 'N/A - From RDC')",
        df.filter(pl.col("Vendor INCO Term") == "N/A - From RDC").height,
        "shipped from SCMS's regional distribution centre, delivered to the client",
    )

    # ------------------------------------------------------------------ order lines
    created = pl.coalesce("po_date", "pq_date")
    order_problems = [
        (
            created.is_null(),
            "no order date: PO Sent to Vendor Date and PQ First Sent to Client "
            "Date are both text (e.g. 'N/A - From RDC', 'Pre-PQ Process', 'Date Not Captured')",
            pl.concat_str(
                [
                    pl.col("PO Sent to Vendor Date"),
                    pl.lit(" | "),
                    pl.col("PQ First Sent to Client Date"),
                ]
            ),
        ),
        (
            pl.col("scheduled").is_null(),
            "Scheduled Delivery Date not a d-Mon-yy date",
            pl.col("Scheduled Delivery Date"),
        ),
        (pl.col("dest").is_null(), "Country not resolvable to ISO 3166-1", pl.col("Country")),
        (
            ~pl.col("incoterm").is_in(list(INCOTERMS_2020)) | pl.col("incoterm").is_null(),
            "Vendor INCO Term not an Incoterms 2020 rule",
            pl.col("Vendor INCO Term"),
        ),
        (
            pl.col("qty").is_null() | (pl.col("qty") < 1),
            "Line Item Quantity not a positive whole number",
            pl.col("Line Item Quantity"),
        ),
        (pl.col("value").is_null(), "Line Item Value not a number", pl.col("Line Item Value")),
    ]
    rejected: dict[str, int] = {}
    good = df
    for cond, reason, detail in order_problems:
        rejected[reason] = imp.reject("rows", "orders", good.filter(cond), reason, detail)
        good = good.filter(~cond)
    origin = pl.col("site_country").fill_null("US")
    order_lines = good.select(
        pl.col("PO / SO #").alias("order_id"),
        "line_number",
        pl.col("Project Code").alias("customer_id"),
        pl.col("Fulfill Via").str.to_uppercase().str.replace(" ", "_").alias("channel"),
        _day_start(created).alias("created_at"),
        _day_end(pl.col("scheduled")).alias("promised_delivery_end"),
        "incoterm",
        origin.alias("origin_country"),
        pl.col("dest").alias("destination_country"),
        pl.lit("USD").alias("currency"),
        pl.col("Item Description").alias("sku"),
        pl.col("qty").alias("quantity"),
        (pl.col("value") / pl.col("qty")).round(6).alias("unit_price"),
        pl.col("weight").alias("weight_kg"),
    )
    imp.write_feed("orders", order_lines)
    imp.mapping("rows", "orders", df.height, order_lines.height, rejected)
    imp.default(
        "orders",
        "origin_country",
        "US",
        good.filter(pl.col("site_country").is_null()).height,
        "the ship-from country is not a column and Manufacturing Site names no country; "
        "US = the managing office (PMO - US)",
    )
    imp.count(
        "order lines created from PQ First Sent to Client Date (no PO date)",
        good.filter(pl.col("po_date").is_null()).height,
    )

    # ------------------------------------------------------------------ shipments
    per_asn = df.group_by("ASN/DN #").agg(
        asn_weight=pl.col("weight").sum().round(3),
        asn_weight_known=pl.col("weight").is_not_null().any(),
    )
    df = df.join(per_asn, on="ASN/DN #", how="left").with_columns(
        mode=pl.col("Shipment Mode").replace_strict(
            {k: v[0] for k, v in MODES.items()}, default=None, return_dtype=pl.String
        ),
        service_level=pl.col("Shipment Mode").replace_strict(
            {k: v[1] for k, v in MODES.items()}, default=None, return_dtype=pl.String
        ),
        carrier_code=("SCMS-" + pl.col("Shipment Mode").str.to_uppercase().str.replace(" ", "-")),
    )
    ship_problems = [
        (
            pl.col("mode").is_null(),
            "Shipment Mode is 'N/A' (or unknown): the shipments feed needs "
            "one of PARCEL, LTL, FTL, AIR, OCEAN",
            pl.col("Shipment Mode"),
        ),
        (
            pl.col("scheduled").is_null(),
            "Scheduled Delivery Date not a d-Mon-yy date",
            pl.col("Scheduled Delivery Date"),
        ),
        (pl.col("dest").is_null(), "Country not resolvable to ISO 3166-1", pl.col("Country")),
        (
            pl.col("qty").is_null() | (pl.col("qty") < 0),
            "Line Item Quantity not a whole number",
            pl.col("Line Item Quantity"),
        ),
    ]
    ship_rejected: dict[str, int] = {}
    ships = df
    for cond, reason, detail in ship_problems:
        ship_rejected[reason] = imp.reject("rows", "shipments", ships.filter(cond), reason, detail)
        ships = ships.filter(~cond)
    shipment_lines = ships.select(
        pl.col("ASN/DN #").alias("shipment_id"),
        pl.col("PO / SO #").alias("order_id"),
        "line_number",
        pl.col("qty").alias("quantity_shipped"),
        "carrier_code",
        "mode",
        "service_level",
        pl.col("ASN/DN #").alias("tracking_number"),
        origin.alias("origin_locode"),
        pl.col("dest").alias("destination_locode"),
        _day_end(pl.col("scheduled")).alias("planned_pickup_end"),
        _day_end(pl.col("scheduled")).alias("planned_delivery_end"),
        pl.col("asn_weight").fill_null(0).alias("gross_weight_kg"),
    )
    imp.write_feed("shipments", shipment_lines)
    imp.mapping("rows", "shipments", df.height, shipment_lines.height, ship_rejected)
    imp.default(
        "shipments",
        "planned_pickup_end",
        "= scheduled delivery day end",
        shipment_lines.height,
        "SCMS has no pickup plan or pickup date; pickup KPIs stay empty (no pickup event)",
    )
    imp.default(
        "shipments",
        "gross_weight_kg",
        "0",
        ships.filter(~pl.col("asn_weight_known")).height,
        "no numeric weight on any line of the ASN/DN ('Weight Captured Separately')",
    )
    imp.default(
        "shipments",
        "origin_locode",
        "ISO country code, not a UN/LOCODE",
        shipment_lines.height,
        "SCMS has countries only; the locode fields carry the country so lanes are country lanes",
    )

    wt = pl.col("Weight (Kilograms)")
    imp.count("weight numeric", df.filter(pl.col("weight").is_not_null()).height)
    imp.count(
        "weight 'See ASN-… (ID#:…)': recorded on the referenced row of the same ASN/DN",
        df.filter(wt.str.starts_with("See")).height,
    )
    imp.count(
        "weight 'Weight Captured Separately' (unknown)",
        df.filter(wt == "Weight Captured Separately").height,
    )
    fr = pl.col("Freight Cost (USD)")
    imp.count(
        "freight numeric (FRT invoice line)", df.filter(pl.col("freight").is_not_null()).height
    )
    imp.count(
        "freight 'See ASN-… (ID#:…)': on the referenced row's line",
        df.filter(fr.str.starts_with("See")).height,
    )
    imp.count(
        "freight 'Freight Included in Commodity Cost' (no line)",
        df.filter(fr == "Freight Included in Commodity Cost").height,
    )
    imp.count(
        "freight 'Invoiced Separately' (no amount in the data)",
        df.filter(fr == "Invoiced Separately").height,
    )
    other = df.filter(
        pl.col("freight").is_null()
        & ~fr.str.starts_with("See")
        & ~fr.is_in(["Freight Included in Commodity Cost", "Invoiced Separately"])
    )
    imp.count("freight other text (rejected)", other.height)
    imp.reject(
        "rows",
        "carrier_invoices_csv",
        other,
        "Freight Cost (USD) neither a number nor a known text",
        fr,
    )
    imp.count("insurance blank (no INS line)", df.filter(pl.col("insurance").is_null()).height)

    # ------------------------------------------------------------------ events
    delivered = ships.filter(pl.col("delivered").is_not_null()).unique("ASN/DN #", keep="first")
    ev = delivered.select(
        (pl.col("ASN/DN #") + ":DLV").alias("event_id"),
        pl.col("ASN/DN #").alias("shipment_id"),
        "carrier_code",
        pl.lit("DLV").alias("event_code"),
        _day_start(pl.col("delivered")).alias("event_time"),
        _day_start(pl.col("recorded")).alias("received_at"),
    )
    imp.write_feed("csv_events", ev)
    imp.count(
        "ASN/DN rows whose dates differ from the first row of the same ASN/DN (first kept)",
        ships.join(
            delivered.select(
                "ASN/DN #", pl.col("delivered").alias("_d"), pl.col("scheduled").alias("_s")
            ),
            on="ASN/DN #",
        )
        .filter((pl.col("_d") != pl.col("delivered")) | (pl.col("_s") != pl.col("scheduled")))
        .height,
    )

    # ------------------------------------------------------------------ carrier invoices
    inv_rows = ships.filter(pl.col("freight").is_not_null() | pl.col("insurance").is_not_null())
    inv = (
        pl.concat(
            [
                inv_rows.filter(pl.col("freight").is_not_null()).select(
                    "ASN/DN #",
                    "carrier_code",
                    "delivered",
                    "ID",
                    pl.lit("FRT").alias("charge_code"),
                    pl.lit("Freight Cost (USD)").alias("charge_description"),
                    pl.col("weight").alias("quantity"),
                    pl.col("freight").alias("amount"),
                ),
                inv_rows.filter(pl.col("insurance").is_not_null()).select(
                    "ASN/DN #",
                    "carrier_code",
                    "delivered",
                    "ID",
                    pl.lit("INS").alias("charge_code"),
                    pl.lit("Line Item Insurance (USD)").alias("charge_description"),
                    pl.lit(None, dtype=pl.Float64).alias("quantity"),
                    pl.col("insurance").alias("amount"),
                ),
            ]
        )
        .with_columns(pl.col("ID").cast(pl.Int64))
        .sort("ASN/DN #", "charge_code", "ID")
    )
    inv = inv.with_columns(
        pl.int_range(1, pl.len() + 1).over("ASN/DN #").alias("line_number")
    ).select(
        ("SCMS-" + pl.col("ASN/DN #")).alias("invoice_number"),
        "carrier_code",
        pl.col("ASN/DN #").alias("shipment_id"),
        pl.col("delivered").dt.strftime("%Y-%m-%d").alias("invoice_date"),
        pl.lit("USD").alias("currency"),
        "line_number",
        "charge_code",
        "charge_description",
        "quantity",
        "amount",
    )
    imp.write_feed("carrier_invoices_csv", inv)
    # USD throughout, but the marts convert through the ECB rates (USD per EUR) on every date
    first, last = date_span(
        order_lines["created_at"], shipment_lines["planned_pickup_end"], inv["invoice_date"]
    )
    write_ecb_rates(imp, {"USD"}, first, last)
    imp.default(
        "carrier_invoices_csv",
        "invoice_date",
        "= Delivered to Client Date",
        inv.height,
        "SCMS has no invoice dates",
    )

    carriers = pl.DataFrame(
        {
            "carrier_code": ["SCMS-" + m.upper().replace(" ", "-") for m in MODES],
            "carrier_name": [f"SCMS {m} (carrier not named in the data set)" for m in MODES],
            "modes": [v[0] for v in MODES.values()],
        }
    )
    imp.write_feed("carriers", carriers)
    return imp.finish()
