"""Olist (Brazilian marketplace orders) -> orders, shipments, carrier CSV events, customer invoices.

Reads either Olist folder of ../shared/datasets/olist_brazilian_ecommerce: ``subset_2017_10k``
(orders.csv, order_items.csv, customers.csv, products.csv; sellers from ``../full_tables``) or
``sample_8k_status_stratified`` (the original ``olist_*_dataset.csv`` names, sellers included).

Mapping (docs/real-data.md, "Olist"):

- order line = one ``order_items`` row (Olist has one row per unit: quantity 1, its price);
  orders without items cannot become order lines (no SKU, quantity, price) and are rejected;
- shipment = one order x seller (an order's items from one seller travel together; Olist records
  one carrier handover per order, so every seller's shipment of an order gets the same events);
  lane = seller state -> customer state, written as ISO 3166-2 codes (``BR-SP``) in the locode
  fields (Olist has no UN/LOCODEs);
- events (carrier CSV): approval -> ``BKD`` (BOOKED), carrier handover -> ``PUP`` (PICKED_UP),
  customer delivery -> ``DLV`` (DELIVERED), estimated delivery -> ``ETA`` (estimate);
  an empty timestamp writes no event (counted in the report);
- planned pickup end = the seller's ``shipping_limit_date`` (latest over the shipment's items);
  promised / planned delivery end = the end of the estimated delivery day (23:59:59 local):
  calendar-day lateness, since Olist's estimate is a date (always 00:00:00);
- customer invoices: one document per order, a GOODS and a FREIGHT line per item (``price`` and
  ``freight_value``, which the customer paid); freight per order = sum of ``freight_value``;
- times are local Brazilian time without zone: read as ``America/Sao_Paulo``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ingestion.importers.base import Importer, ImportReport, local_to_iso
from ingestion.importers.fx import date_span, write_ecb_rates

TZ = "America/Sao_Paulo"
CARRIER = "OLIST"
TS = "%Y-%m-%d %H:%M:%S"


def _find(folder: Path, *names: str) -> Path:
    for name in names:
        for base in (folder, folder.parent / "full_tables"):
            if (base / name).is_file():
                return base / name
    raise FileNotFoundError(f"none of {names} in {folder} (or ../full_tables)")


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def _ts(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().str.to_datetime(TS, strict=False)


def run(source: Path, landing: Path, dataset: str = "olist") -> ImportReport:
    imp = Importer(dataset, source, landing)
    orders = imp.read("orders", _read(_find(source, "orders.csv", "olist_orders_dataset.csv")))
    items = imp.read(
        "order_items", _read(_find(source, "order_items.csv", "olist_order_items_dataset.csv"))
    )
    customers = _read(_find(source, "customers.csv", "olist_customers_dataset.csv"))
    products = _read(_find(source, "products.csv", "olist_products_dataset.csv"))
    sellers = _read(_find(source, "olist_sellers_dataset.csv"))
    imp.report.sources.update(
        customers=customers.height, products=products.height, sellers=sellers.height
    )

    orders = orders.with_columns(
        purchase=_ts("order_purchase_timestamp"),
        approved=_ts("order_approved_at"),
        carrier=_ts("order_delivered_carrier_date"),
        delivered=_ts("order_delivered_customer_date"),
        estimated=_ts("order_estimated_delivery_date"),
    ).join(
        customers.select(
            "customer_id",
            "customer_unique_id",
            # the re-serialised subset lost the zip prefixes' leading zeros
            pl.col("customer_zip_code_prefix").str.zfill(5).alias("customer_zip"),
            pl.col("customer_state").alias("customer_state"),
        ),
        on="customer_id",
        how="left",
    )
    items = items.join(
        sellers.select(
            "seller_id",
            pl.col("seller_zip_code_prefix").str.zfill(5).alias("seller_zip"),
            "seller_state",
        ),
        on="seller_id",
        how="left",
    ).join(
        products.select(
            "product_id",
            pl.col("product_weight_g").cast(pl.Float64, strict=False).alias("weight_g"),
        ),
        on="product_id",
        how="left",
    )

    # ------------------------------------------------------------------ order lines
    # An item row needs its order (and the order its purchase time, estimate and customer).
    items = items.join(
        orders.select(
            "order_id",
            pl.col("_src_row").alias("_order_row"),
            "customer_unique_id",
            "customer_zip",
            "customer_state",
            "purchase",
            "approved",
            "carrier",
            "delivered",
            "estimated",
        ),
        on="order_id",
        how="left",
    )
    item_problems = [
        (pl.col("_order_row").is_null(), "order_id not in the orders table"),
        (pl.col("purchase").is_null(), "order_purchase_timestamp empty or not a date-time"),
        (pl.col("estimated").is_null(), "order_estimated_delivery_date empty or not a date-time"),
        (pl.col("customer_state").is_null(), "order's customer not in the customers table"),
        (pl.col("seller_state").is_null(), "seller_id not in the sellers table"),
        (pl.col("price").cast(pl.Float64, strict=False).is_null(), "price not a number"),
    ]
    rejected: dict[str, int] = {}
    good = items
    for cond, reason in item_problems:
        bad = good.filter(cond)
        rejected[reason] = imp.reject("order_items", "orders", bad, reason, pl.col("order_id"))
        good = good.filter(~cond)
    items = good

    promise_end = pl.col("estimated") + pl.duration(hours=23, minutes=59, seconds=59)
    order_lines = items.select(
        "order_id",
        pl.col("order_item_id").alias("line_number"),
        pl.col("customer_unique_id").alias("customer_id"),
        pl.lit("MARKETPLACE").alias("channel"),
        local_to_iso(pl.col("purchase"), TZ).alias("created_at"),
        local_to_iso(promise_end, TZ).alias("promised_delivery_end"),
        pl.lit("DAP").alias("incoterm"),
        pl.lit("BR").alias("origin_country"),
        pl.col("seller_zip").alias("origin_postcode"),
        ("BR-" + pl.col("seller_state")).alias("origin_locode"),
        pl.lit("BR").alias("destination_country"),
        pl.col("customer_zip").alias("destination_postcode"),
        ("BR-" + pl.col("customer_state")).alias("destination_locode"),
        pl.lit("BRL").alias("currency"),
        pl.col("product_id").alias("sku"),
        pl.lit("1").alias("quantity"),
        pl.col("price").alias("unit_price"),
        (pl.col("weight_g") / 1000).round(3).alias("weight_kg"),
    )
    imp.write_feed("orders", order_lines)
    imp.mapping(
        "order_items", "orders", imp.report.sources["order_items"], order_lines.height, rejected
    )
    imp.default(
        "orders",
        "incoterm",
        "DAP",
        order_lines.height,
        "Olist has no Incoterm; the marketplace delivers to the customer's address (delivered at place)",
    )
    imp.default("orders", "quantity", "1", order_lines.height, "one order_items row per unit")

    # Orders: each becomes order lines through its items; one without items has nothing to write.
    with_items = orders.join(items.select("order_id").unique(), on="order_id", how="semi")
    no_items = orders.join(items.select("order_id").unique(), on="order_id", how="anti")
    orders_rejected = {
        "order has no (mappable) order_items rows: no line (SKU, quantity, price) to write": imp.reject(
            "orders",
            "orders",
            no_items,
            "order has no (mappable) order_items rows: no line (SKU, quantity, price) to write",
            pl.concat_str([pl.col("order_id"), pl.lit(" status="), pl.col("order_status")]),
        )
    }
    imp.mapping(
        "orders",
        "orders",
        orders.height,
        with_items.height,
        orders_rejected,
        "an order is written when at least one of its item rows is (as order lines)",
    )

    # ------------------------------------------------------------------ shipments
    seller_rank = (
        items.group_by("order_id", "seller_id")
        .agg(pl.col("_src_row").min().alias("_first"))
        .with_columns(
            pl.col("_first").rank("dense").over("order_id").cast(pl.Int64).alias("_seller_no")
        )
    )
    items = items.join(seller_rank, on=["order_id", "seller_id"], how="left").with_columns(
        (pl.col("order_id") + "-" + pl.col("_seller_no").cast(pl.String)).alias("shipment_id")
    )
    per_shipment = items.group_by("shipment_id").agg(
        _limit=pl.col("shipping_limit_date").str.to_datetime(TS, strict=False).max(),
        _weight_kg=(pl.col("weight_g").fill_null(0).sum() / 1000).round(3),
        _weight_unknown=pl.col("weight_g").is_null().sum(),
        _freight=pl.col("freight_value").cast(pl.Float64, strict=False).sum().round(2),
    )
    items = items.join(per_shipment, on="shipment_id", how="left")
    no_limit = items.filter(pl.col("_limit").is_null())
    ship_rejected = {
        "shipping_limit_date empty: no planned pickup": imp.reject(
            "order_items",
            "shipments",
            no_limit,
            "shipping_limit_date empty: no planned pickup",
            pl.col("order_id"),
        )
    }
    ship_items = items.filter(pl.col("_limit").is_not_null())
    shipment_lines = ship_items.select(
        "shipment_id",
        "order_id",
        pl.col("order_item_id").alias("line_number"),
        pl.lit("1").alias("quantity_shipped"),
        pl.lit(CARRIER).alias("carrier_code"),
        pl.lit("PARCEL").alias("mode"),
        pl.lit("STANDARD").alias("service_level"),
        pl.col("shipment_id").alias("tracking_number"),
        ("BR-" + pl.col("seller_state")).alias("origin_locode"),
        ("BR-" + pl.col("customer_state")).alias("destination_locode"),
        local_to_iso(pl.col("_limit"), TZ).alias("planned_pickup_end"),
        local_to_iso(promise_end, TZ).alias("planned_delivery_end"),
        pl.col("_weight_kg").alias("gross_weight_kg"),
        pl.col("_freight").alias("quoted_cost"),
        pl.lit("BRL").alias("quoted_currency"),
        local_to_iso(pl.col("carrier"), TZ).alias("shipped_at"),
    )
    imp.write_feed("shipments", shipment_lines)
    imp.mapping(
        "order_items",
        "shipments",
        imp.report.sources["order_items"],
        shipment_lines.height,
        rejected | ship_rejected,
        "rows rejected for the orders feed are not written as shipment lines either",
    )
    imp.default(
        "shipments",
        "carrier_code",
        CARRIER,
        shipment_lines.height,
        "Olist does not name the carrier: one code for Olist's logistics partners",
    )
    imp.default("shipments", "mode", "PARCEL", shipment_lines.height, "marketplace parcels")
    unknown_w = ship_items.filter(pl.col("weight_g").is_null()).height
    imp.default(
        "shipments",
        "gross_weight_kg",
        "0 for the unknown item",
        unknown_w,
        "product_weight_g empty: the item adds 0 kg to its shipment's weight",
    )

    # ------------------------------------------------------------------ events
    shipments = ship_items.select(
        "shipment_id", "approved", "carrier", "delivered", "estimated"
    ).unique("shipment_id")
    event_specs = [
        ("BKD", "approved", "order_approved_at"),
        ("PUP", "carrier", "order_delivered_carrier_date"),
        ("DLV", "delivered", "order_delivered_customer_date"),
        ("ETA", "estimated", "order_estimated_delivery_date"),
    ]
    frames = []
    for code, col, raw in event_specs:
        present = shipments.filter(pl.col(col).is_not_null())
        imp.count(f"shipments without {raw} (no {code} event)", shipments.height - present.height)
        frames.append(
            present.select(
                (pl.col("shipment_id") + ":" + code).alias("event_id"),
                "shipment_id",
                pl.lit(CARRIER).alias("carrier_code"),
                pl.lit(code).alias("event_code"),
                local_to_iso(pl.col(col), TZ).alias("event_time"),
            )
        )
    events = pl.concat(frames)
    imp.write_feed("csv_events", events)
    imp.count("shipments", shipments.height)

    # ------------------------------------------------------------------ customer invoices
    inv = ship_items.sort("order_id", "order_item_id").select(
        ("INV-" + pl.col("order_id")).alias("document_number"),
        pl.lit("INVOICE").alias("document_type"),
        pl.col("customer_unique_id").alias("customer_id"),
        "order_id",
        "shipment_id",
        pl.coalesce("approved", "purchase").dt.strftime("%Y-%m-%d").alias("document_date"),
        pl.lit("BRL").alias("currency"),
        pl.col("price").alias("goods"),
        pl.col("freight_value").alias("freight"),
    )
    inv_lines = (
        inv.unpivot(
            index=[
                "document_number",
                "document_type",
                "customer_id",
                "order_id",
                "shipment_id",
                "document_date",
                "currency",
            ],
            on=["goods", "freight"],
            variable_name="charge_type",
            value_name="amount",
        )
        .with_columns(pl.col("charge_type").str.to_uppercase())
        .sort("document_number", "charge_type", "shipment_id")
        .with_columns(pl.int_range(1, pl.len() + 1).over("document_number").alias("line_number"))
    )
    imp.write_feed("customer_invoices", inv_lines)
    # the finance marts convert BRL at the order date and landed cost at the receipt date
    first, last = date_span(
        shipment_lines["planned_pickup_end"],
        inv_lines["document_date"],
        events["event_time"],
        order_lines["created_at"],
    )
    write_ecb_rates(imp, {"BRL"}, first, last)

    carriers = pl.DataFrame(
        {
            "carrier_code": [CARRIER],
            "carrier_name": ["Olist logistics partners (not named in the data set)"],
            "modes": ["PARCEL"],
            "country": ["BR"],
        }
    )
    imp.write_feed("carriers", carriers)
    return imp.finish()
