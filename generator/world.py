"""The fixed cast of the synthetic world: calendar, places, carriers, customers, SKUs.

Everything random is drawn in ``generator.model``; this module only holds the configuration
those draws use, so a reader can see every true probability in one place (docs/generator.md
explains the choices).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

#: Orders are created over the ORDER_DAYS days ending on AS_OF's date; nothing happens after
#: AS_OF (later milestones are "still in transit").
AS_OF = datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)
ORDER_DAYS = 120
ORDER_START = datetime(2026, 7, 4, tzinfo=UTC)  # AS_OF's date minus 119 days
FX_START = date(2026, 1, 1)
RATE_VALID_FROM = date(2026, 1, 1)

REF_LOCATIONS_CSV = (
    Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "ref_locations.csv"
)


def load_locations() -> pl.DataFrame:
    """The reference places (the dbt seed), with a synthetic postcode per place."""
    df = pl.read_csv(REF_LOCATIONS_CSV, infer_schema=False)
    postcodes = {
        "US": "{:05d}",
        "CA": "M{:d}A 1B1",
        "MX": "{:05d}",
        "DE": "{:05d}",
        "NL": "{:04d} AB",
        "FR": "{:05d}",
        "GB": "E{:d} 1AA",
        "ES": "{:05d}",
        "IT": "{:05d}",
        "PL": "{:05d}",
        "CN": "{:06d}",
        "JP": "{:07d}",
        "KR": "{:05d}",
        "SG": "{:06d}",
        "IN": "{:06d}",
        "BR": "{:08d}",
        "AU": "{:04d}",
        "ZA": "{:04d}",
    }
    codes = []
    for i, (loc, ctry) in enumerate(zip(df["locode"], df["country"])):
        n = (sum(map(ord, loc)) * 7919 + i * 104729) % 9000 + 1000
        codes.append(postcodes[ctry].format(n % 9 + 1 if ctry in ("CA", "GB") else n))
    return df.with_columns(pl.Series("postcode", codes)).with_row_index("loc_idx")


COUNTRY_CURRENCY = {
    "US": "USD",
    "CA": "CAD",
    "MX": "MXN",
    "DE": "EUR",
    "NL": "EUR",
    "FR": "EUR",
    "GB": "GBP",
    "ES": "EUR",
    "IT": "EUR",
    "PL": "PLN",
    "CN": "CNY",
    "JP": "JPY",
    "KR": "KRW",
    "SG": "SGD",
    "IN": "INR",
    "BR": "BRL",
    "AU": "AUD",
    "ZA": "ZAR",
}
REGION = {
    "US": "NA",
    "CA": "NA",
    "MX": "NA",
    "DE": "EU",
    "NL": "EU",
    "FR": "EU",
    "GB": "EU",
    "ES": "EU",
    "IT": "EU",
    "PL": "EU",
    "CN": "AS",
    "JP": "AS",
    "KR": "AS",
    "SG": "AS",
    "IN": "AS",
    "BR": "SA",
    "AU": "OC",
    "ZA": "AF",
}
#: Rough units of currency per EUR around 2026, the start of the ECB random walk and the
#: rate used to price goods in each customer's currency.
EUR_RATES = {
    "USD": 1.09,
    "JPY": 162.0,
    "CZK": 25.1,
    "DKK": 7.46,
    "GBP": 0.855,
    "HUF": 395.0,
    "PLN": 4.32,
    "RON": 4.97,
    "SEK": 11.45,
    "CHF": 0.955,
    "ISK": 150.0,
    "NOK": 11.6,
    "TRY": 38.5,
    "AUD": 1.66,
    "BRL": 6.05,
    "CAD": 1.49,
    "CNY": 7.85,
    "HKD": 8.5,
    "IDR": 17600.0,
    "ILS": 4.05,
    "INR": 91.5,
    "KRW": 1480.0,
    "MXN": 20.3,
    "MYR": 5.05,
    "NZD": 1.82,
    "PHP": 62.0,
    "SGD": 1.46,
    "THB": 38.9,
    "ZAR": 20.4,
    "EUR": 1.0,
}
#: Column order of the real eurofxref-hist.csv (historic currencies are N/A in 2026; BGN too,
#: as Bulgaria adopted the euro on 2026-01-01).
ECB_COLUMNS = (
    "USD",
    "JPY",
    "BGN",
    "CYP",
    "CZK",
    "DKK",
    "EEK",
    "GBP",
    "HUF",
    "LTL",
    "LVL",
    "MTL",
    "PLN",
    "ROL",
    "RON",
    "SEK",
    "SIT",
    "SKK",
    "CHF",
    "ISK",
    "NOK",
    "HRK",
    "RUB",
    "TRL",
    "TRY",
    "AUD",
    "BRL",
    "CAD",
    "CNY",
    "HKD",
    "IDR",
    "ILS",
    "INR",
    "KRW",
    "MXN",
    "MYR",
    "NZD",
    "PHP",
    "SGD",
    "THB",
    "ZAR",
)
ECB_DISCONTINUED = frozenset(
    {"BGN", "CYP", "EEK", "LTL", "LVL", "MTL", "ROL", "SIT", "SKK", "HRK", "RUB", "TRL"}
)


@dataclass(frozen=True)
class Carrier:
    code: str
    name: str
    scac: str
    mode: str  # primary mode
    country: str
    event_format: str  # x12_214 | dcsa | parcel | csv_events
    invoice_format: str  # x12_210 | csv
    currency: str
    p_on_time: float  # TRUE probability that delivery is <= planned_delivery_end
    late_mean_hours: float  # mean of the exponential delay when late
    p_damage: float
    p_invoice_error: float
    p_exception: float  # extra (non-delay) exceptions
    dcsa_version: str = ""


CARRIERS: tuple[Carrier, ...] = (
    Carrier(
        "UPS",
        "United Parcel Service",
        "UPSN",
        "PARCEL",
        "US",
        "parcel",
        "csv",
        "USD",
        0.93,
        20,
        0.004,
        0.03,
        0.03,
    ),
    Carrier(
        "FEDEX",
        "FedEx",
        "FDEG",
        "PARCEL",
        "US",
        "parcel",
        "csv",
        "USD",
        0.90,
        26,
        0.006,
        0.05,
        0.04,
    ),
    Carrier(
        "DHL",
        "DHL Express",
        "DHLC",
        "PARCEL",
        "DE",
        "parcel",
        "csv",
        "EUR",
        0.88,
        30,
        0.005,
        0.04,
        0.05,
    ),
    Carrier(
        "ODFL",
        "Old Dominion Freight Line",
        "ODFL",
        "LTL",
        "US",
        "x12_214",
        "x12_210",
        "USD",
        0.96,
        24,
        0.003,
        0.02,
        0.03,
    ),
    Carrier(
        "SAIA",
        "Saia LTL Freight",
        "SAIA",
        "LTL",
        "US",
        "x12_214",
        "x12_210",
        "USD",
        0.84,
        36,
        0.010,
        0.09,
        0.06,
    ),
    Carrier(
        "JBHT",
        "J.B. Hunt Transport",
        "JBHT",
        "FTL",
        "US",
        "x12_214",
        "x12_210",
        "USD",
        0.91,
        18,
        0.002,
        0.04,
        0.03,
    ),
    Carrier(
        "SNDR",
        "Schneider National",
        "SNDR",
        "FTL",
        "US",
        "csv_events",
        "x12_210",
        "USD",
        0.87,
        22,
        0.003,
        0.06,
        0.04,
    ),
    Carrier(
        "MAEU",
        "Maersk",
        "MAEU",
        "OCEAN",
        "DK",
        "dcsa",
        "csv",
        "USD",
        0.78,
        96,
        0.004,
        0.05,
        0.06,
        "3.0",
    ),
    Carrier(
        "MSCU",
        "Mediterranean Shipping Company",
        "MSCU",
        "OCEAN",
        "CH",
        "dcsa",
        "csv",
        "USD",
        0.70,
        120,
        0.006,
        0.08,
        0.07,
        "2.2",
    ),
    Carrier(
        "HLCU",
        "Hapag-Lloyd",
        "HLCU",
        "OCEAN",
        "DE",
        "dcsa",
        "csv",
        "EUR",
        0.82,
        84,
        0.004,
        0.04,
        0.05,
        "3.0",
    ),
    Carrier(
        "EXDO",
        "Expeditors Air Freight",
        "EXDO",
        "AIR",
        "US",
        "csv_events",
        "csv",
        "USD",
        0.89,
        30,
        0.003,
        0.05,
        0.05,
    ),
)
CARRIER_INDEX = {c.code: i for i, c in enumerate(CARRIERS)}

#: Of late deliveries, the share whose delay the shipper or consignee caused (so the carrier's
#: controllable on-time rate is higher than its gross one).
P_LATE_SHIPPER = 0.10
P_LATE_CONSIGNEE = 0.15

#: service level and nominal door-to-door transit days per mode and lane class
#: (domestic = same country, regional = same region, intercontinental otherwise)
SERVICE = {
    ("PARCEL", 0): ("GROUND", 3),
    ("PARCEL", 1): ("EXPRESS", 3),
    ("PARCEL", 2): ("EXPRESS", 4),
    ("LTL", 0): ("STANDARD", 4),
    ("LTL", 1): ("STANDARD", 6),
    ("LTL", 2): ("STANDARD", 6),
    ("FTL", 0): ("DEDICATED", 3),
    ("FTL", 1): ("DEDICATED", 5),
    ("FTL", 2): ("DEDICATED", 5),
    ("AIR", 0): ("AIR_STD", 3),
    ("AIR", 1): ("AIR_STD", 4),
    ("AIR", 2): ("AIR_STD", 6),
    ("OCEAN", 0): ("FCL", 30),
    ("OCEAN", 1): ("FCL", 30),
    ("OCEAN", 2): ("FCL", 32),
}

#: warehouses we ship from, by customer region
WAREHOUSES = {
    "NA": ("USATL", "USCHI", "USLAX", "USDAL"),
    "EU": ("NLRTM", "DEHAM"),
    "AS": ("CNSHA", "SGSIN"),
}
#: sea ports per country for ocean legs (port of loading / discharge)
PORTS = {
    "US": ("USLAX", "USLGB", "USNYC", "USSAV", "USHOU", "USSEA"),
    "CA": ("CAVAN", "CAMTR"),
    "MX": ("MXMTY",),
    "DE": ("DEHAM",),
    "NL": ("NLRTM",),
    "FR": ("FRLEH",),
    "GB": ("GBFXT",),
    "ES": ("ESVLC",),
    "IT": ("ITGOA",),
    "PL": ("PLGDN",),
    "CN": ("CNSHA", "CNNGB", "CNSZX"),
    "JP": ("JPYOK",),
    "KR": ("KRPUS",),
    "SG": ("SGSIN",),
    "IN": ("INBOM",),
    "BR": ("BRSSZ",),
    "AU": ("AUSYD", "AUMEL"),
    "ZA": ("ZADUR",),
}

CHANNELS = ("ECOM", "B2B", "EDI", "MARKETPLACE")
N_CUSTOMERS = 36
N_SKUS = 400

ACCESSORIALS = (
    # charge_code, description, basis, amount USD, free_time_hours
    ("RDL", "Redelivery", "PER_SHIPMENT", 18.0, None),
    ("DET", "Detention", "PER_HOUR", 75.0, 2.0),
    ("LFT", "Liftgate service", "PER_SHIPMENT", 65.0, None),
    ("RES", "Residential delivery", "PER_SHIPMENT", 5.5, None),
)
