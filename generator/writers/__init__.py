"""One writer module per landing format (X12, DCSA/parcel JSON and CSV events, tabular CSV)."""
