"""Reference code lists the contracts check against (ISO 4217, ISO 3166-1)."""

from __future__ import annotations

from functools import cache

import pycountry

#: Currencies the ECB published before they were replaced by the euro or redenominated.
#: They appear as (mostly N/A) columns in eurofxref-hist.csv and are valid there.
ECB_HISTORIC_CURRENCIES = frozenset(
    {"CYP", "EEK", "LTL", "LVL", "MTL", "SIT", "SKK", "ROL", "TRL", "HRK", "RUB", "BGN"}
)


@cache
def currencies() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies) | ECB_HISTORIC_CURRENCIES


@cache
def countries() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def reference_values(name: str) -> frozenset[str]:
    return {"currency": currencies, "country": countries}[name]()
