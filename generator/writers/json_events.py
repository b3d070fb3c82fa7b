"""DCSA Track & Trace (v2.2 and v3.0) and parcel tracking JSON (UPS/FedEx/DHL shapes), and
the generic carrier CSV events.

JSON text is assembled with polars string expressions (all values are generated, so none needs
escaping) and joined per file: no Python loop per event.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from generator.events import ensure_files
from generator.timefmt import with_local
from generator.writers.common import add_loc, record, write_csv

J = pl.lit


def q(expr: pl.Expr | str) -> pl.Expr:
    """A JSON string value."""
    e = pl.col(expr) if isinstance(expr, str) else expr
    return pl.concat_str(J('"'), e, J('"'))


def _prepare(ev: pl.DataFrame, refs: pl.DataFrame, locs: pl.DataFrame, target: int) -> pl.DataFrame:
    ev = ev.join(
        refs.select("shipment_idx", "shipment_id", "tracking_number", "container"),
        on="shipment_idx",
        how="left",
    )
    unk = pl.col("mess") == "unknown_shipment"
    ev = ev.with_columns(
        pl.when(unk)
        .then(pl.concat_str(J("SHPX"), pl.col("ev_no").cast(pl.Utf8)))
        .otherwise("shipment_id")
        .alias("shipment_id"),
        pl.when(unk)
        .then(
            pl.concat_str(
                pl.col("tracking_number").str.slice(0, 4),
                J("99"),
                pl.col("ev_no").cast(pl.Utf8).str.zfill(8),
            )
        )
        .otherwise("tracking_number")
        .alias("tracking_number"),
    )
    ev = add_loc(ev, locs, "loc_idx", "l_")
    ev = with_local(ev, "t", "l_time_zone", "tl")
    return ensure_files(ev, "carrier_code", target)


def _write_json_files(
    out_dir: Path,
    folder: str,
    ev: pl.DataFrame,
    name_expr: pl.Expr,
    body: pl.Expr,
    head: str,
    tail: str,
    sep: str,
    bad_rule: str,
) -> list[dict]:
    """ev must be in final document order with an ``obj`` column (one record = one event)."""
    ev = ev.with_columns(name_expr.alias("fname"))
    ev = ev.with_columns(pl.int_range(1, pl.len() + 1).over("fname").alias("rec"))
    files = ev.group_by("fname", maintain_order=True).agg(
        body.alias("text"),
        pl.len().alias("rows"),
        pl.col("rec").filter(pl.col("mess") == "bad").alias("bad"),
    )
    recs = []
    for name, text, rows, bad in files.sort("fname").iter_rows():
        path = out_dir / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((head + text + tail).encode())
        recs.append(
            record(out_dir, path, rows, [{"row_number": int(b), "rule": bad_rule} for b in bad])
        )
    return recs


# ---------------------------------------------------------------- DCSA
DCSA_MAP = {  # kind -> (eventType, code, facilityTypeCode, emptyIndicator)
    "BOOKED": ("SHIPMENT", "CONF", "", ""),
    "PICKED_UP": ("EQUIPMENT", "GTIN", "POTE", "LADEN"),
    "LOAD": ("EQUIPMENT", "LOAD", "POL", "LADEN"),
    "DEPARTED": ("TRANSPORT", "DEPA", "POL", ""),
    "ARRIVED": ("TRANSPORT", "ARRI", "POD", ""),
    "DISC": ("EQUIPMENT", "DISC", "POD", "LADEN"),
    "CUSTOMS_CLEARED": ("EQUIPMENT", "CUSR", "POD", "LADEN"),
    "OUT_FOR_DELIVERY": ("EQUIPMENT", "GTOT", "POTE", "LADEN"),
    "DELIVERED": ("EQUIPMENT", "DROP", "CLOC", "LADEN"),
    "ETA": ("EQUIPMENT", "DROP", "CLOC", "LADEN"),
    "EXC_CUSTOMS_HOLD": ("SHIPMENT", "HOLD", "", ""),
    "EXC_DAMAGED": ("EQUIPMENT", "INSP", "POD", "LADEN"),
    "EXC_DELAY_CARRIER": ("TRANSPORT", "ARRI", "POD", ""),
    "EXC_DELAY_WEATHER": ("TRANSPORT", "ARRI", "POD", ""),
    "EXC_DELAY_SHIPPER": ("TRANSPORT", "DEPA", "POL", ""),
    "EXC_ATTEMPT": ("SHIPMENT", "HOLD", "", ""),
    "EXC_REFUSED": ("SHIPMENT", "HOLD", "", ""),
    "SPURIOUS_ARRIVAL": ("TRANSPORT", "ARRI", "POD", ""),
    "RETURNED": ("SHIPMENT", "CMPL", "", ""),
}
#: event mess tags written as a DCSA v3 retraction (``isRetracted: true``)
RETRACTIONS = ("retraction", "retraction_of_base")
DELAY_REASON = {"EXC_DELAY_CARRIER": "MEC", "EXC_DELAY_WEATHER": "WEA", "EXC_DELAY_SHIPPER": "DOC"}
REMARK = {
    "EXC_DAMAGED": "Container damage found at inspection",
    "EXC_ATTEMPT": "Delivery attempt failed",
    "EXC_REFUSED": "Consignee refused cargo",
    "EXC_CUSTOMS_HOLD": "Customs hold",
    "EXC_DELAY_CARRIER": "Vessel delayed",
    "EXC_DELAY_WEATHER": "Bad weather",
    "EXC_DELAY_SHIPPER": "Late documentation from shipper",
}


def write_dcsa(
    out_dir: Path,
    ev: pl.DataFrame,
    refs: pl.DataFrame,
    locs: pl.DataFrame,
    folder: str,
    target: int,
    version: dict[str, str],
) -> list[dict]:
    # equipment LOAD before departure and DISC after arrival complete the ocean picture
    extra = [
        ev.filter((pl.col("kind") == "DEPARTED") & (pl.col("mess") == "")).with_columns(
            J("LOAD").alias("kind"),
            (pl.col("t") - pl.duration(hours=8)).alias("t"),
            (pl.col("ev_no") * 10 + 1).alias("ev_no"),
        ),
        ev.filter((pl.col("kind") == "ARRIVED") & (pl.col("mess") == "")).with_columns(
            J("DISC").alias("kind"),
            (pl.col("t") + pl.duration(hours=6)).alias("t"),
            (pl.col("received") + pl.duration(hours=6)).alias("received"),
            (pl.col("ev_no") * 10 + 2).alias("ev_no"),
        ),
    ]
    # PLN: the schedule the carrier published at booking (vessel departure and arrival)
    for kind, k in (("DEPARTED", 3), ("ARRIVED", 4)):
        extra.append(
            ev.filter((pl.col("kind") == kind) & (pl.col("mess") == "")).with_columns(
                J("PLN").alias("classifier"),
                (pl.col("ev_no") * 10 + k).alias("ev_no"),
                (pl.col("t").dt.truncate("1d") + pl.duration(hours=12)).alias("t"),
                (pl.col("received") - pl.duration(days=3)).alias("received"),
            )
        )
    ev = pl.concat([ev.with_columns(pl.col("ev_no") * 10), *extra])
    ev = _prepare(ev, refs, locs, target)
    ev = ev.with_columns(pl.col("carrier_code").replace_strict(version).alias("ver"))
    m = {
        k: pl.col("kind").replace_strict({a: b[i] for a, b in DCSA_MAP.items()}, default="")
        for i, k in enumerate(("etype", "code", "fac", "empty"))
    }
    code = pl.when(pl.col("mess") == "unknown_code").then(J("SWAP")).otherwise(m["code"])
    etype = pl.when(pl.col("mess") == "unknown_code").then(J("EQUIPMENT")).otherwise(m["etype"])
    ev = ev.with_columns(
        etype.alias("etype"), code.alias("code"), m["fac"].alias("fac"), m["empty"].alias("empty")
    )
    ev = ev.with_columns(
        pl.when(pl.col("kind").str.starts_with("EXC_DELAY"))
        .then(J("EST"))
        .otherwise("classifier")
        .alias("cls"),
        pl.when(pl.col("mess") == "bad")
        .then(pl.col("tl").dt.strftime("%Y-%m-%dT%H:%M:%S"))
        .otherwise(
            pl.concat_str(pl.col("tl").dt.strftime("%Y-%m-%dT%H:%M:%S"), pl.col("tl_offset"))
        )
        .alias("edt"),
        pl.col("received").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("upd"),
        pl.concat_str(
            J("5e0c"),
            pl.col("carrier_code")
            .str.slice(0, 4)
            .str.to_lowercase()
            .str.replace_all("[^a-f0-9]", "0"),
            J("-0000-4000-8000-"),
            pl.col("ev_no").cast(pl.Utf8).str.zfill(12),
        ).alias("eid"),
        pl.col("kind").replace_strict(DELAY_REASON, default="").alias("delay"),
        pl.col("kind").replace_strict(REMARK, default="").alias("remark"),
    )
    code_field = pl.concat_str(pl.col("etype").str.to_lowercase(), J("EventTypeCode"))
    opt = lambda cond, expr: pl.when(cond).then(expr).otherwise(J(""))  # noqa: E731
    # v2.2: flat events, location in transportCall (TRANSPORT) or eventLocation (EQUIPMENT)
    v22 = pl.concat_str(
        J('{"eventID": '),
        q("eid"),
        J(', "eventCreatedDateTime": '),
        q("upd"),
        J(', "eventType": '),
        q("etype"),
        J(', "eventClassifierCode": '),
        q("cls"),
        J(', "eventDateTime": '),
        q("edt"),
        J(', "'),
        code_field,
        J('": '),
        q("code"),
        opt(pl.col("delay") != "", pl.concat_str(J(', "delayReasonCode": '), q("delay"))),
        opt(pl.col("remark") != "", pl.concat_str(J(', "changeRemark": '), q("remark"))),
        opt(
            pl.col("etype") == "SHIPMENT",
            pl.concat_str(
                J(', "documentID": '), q("tracking_number"), J(', "documentTypeCode": "BKG"')
            ),
        ),
        opt(
            pl.col("etype") == "EQUIPMENT",
            pl.concat_str(
                J(', "equipmentReference": '),
                q("container"),
                J(', "emptyIndicatorCode": '),
                q("empty"),
                J(', "eventLocation": {"UNLocationCode": '),
                q("l_locode"),
                J(', "facilityTypeCode": '),
                q("fac"),
                J("}"),
            ),
        ),
        opt(
            pl.col("etype") != "SHIPMENT",
            pl.concat_str(
                J(', "transportCall": {"UNLocationCode": '),
                q("l_locode"),
                J(', "facilityTypeCode": '),
                q("fac"),
                J(', "modeOfTransport": "VESSEL"}'),
            ),
        ),
        J(', "documentReferences": [{"documentReferenceType": "BKG", "documentReferenceValue": '),
        q("tracking_number"),
        J("}]}"),
    )
    v30 = pl.concat_str(
        J('{"eventRouting": {"originatingParty": {"partyCode": '),
        q("carrier_code"),
        J(
            ', "codeListProvider": "SMDG", "codeListName": "LCL", "partyFunction": "CA"}}, "eventID": '
        ),
        q("eid"),
        J(', "eventDateTime": '),
        q("edt"),
        J(', "eventUpdatedDateTime": '),
        q("upd"),
        opt(pl.col("mess").is_in(RETRACTIONS), J(', "isRetracted": true')),
        opt(
            pl.col("etype") != "SHIPMENT",
            pl.concat_str(
                J(', "eventLocation": {"UNLocationCode": '),
                q("l_locode"),
                J(', "facilityTypeCode": '),
                q("fac"),
                J("}"),
            ),
        ),
        J(', "eventClassification": {"eventTypeCode": '),
        q("etype"),
        J(', "eventClassifierCode": '),
        q("cls"),
        J(', "'),
        code_field,
        J('": '),
        q("code"),
        J("}"),
        # TNT v3.0: delays are a list under transportDetails (v2.2 has a flat delayReasonCode).
        opt(
            pl.col("delay") != "",
            pl.concat_str(J(', "transportDetails": {"delayReasonCodes": ['), q("delay"), J("]}")),
        ),
        opt(pl.col("remark") != "", pl.concat_str(J(', "changeRemark": '), q("remark"))),
        J(', "shipmentDetails": {"documentReference": {"typeCode": "BKG", "reference": '),
        q("tracking_number"),
        J("}}"),
        opt(
            pl.col("etype") == "EQUIPMENT",
            pl.concat_str(
                J(', "equipmentDetails": {"equipmentReference": '),
                q("container"),
                J(', "emptyIndicatorCode": '),
                q("empty"),
                J("}"),
            ),
        ),
        J("}"),
    )
    ev = ev.with_columns(pl.when(pl.col("ver") == "3.0").then(v30).otherwise(v22).alias("obj"))
    ev = ev.sort(["carrier_code", "file_no", "received", "ev_no", "mess"])
    name = pl.concat_str(
        pl.col("carrier_code"),
        J("_tnt_v"),
        pl.col("ver").str.replace(".", "", literal=True),
        J("_"),
        pl.col("file_no").cast(pl.Utf8).str.zfill(4),
        J(".json"),
    )
    recs = []
    for ver, head, tail in (("2.2", "[\n", "\n]\n"), ("3.0", '{"events": [\n', "\n]}\n")):
        sub = ev.filter(pl.col("ver") == ver)
        if sub.height:
            recs += _write_json_files(
                out_dir,
                folder,
                sub,
                name,
                pl.col("obj").str.join(",\n"),
                head,
                tail,
                ",\n",
                "eventDateTime has no UTC offset",
            )
    return recs


# ---------------------------------------------------------------- parcel
UPS = {
    "BOOKED": ("M", "MP", "Shipper created a label, UPS has not received the package yet"),
    "PICKED_UP": ("P", "PU", "Pickup Scan"),
    "DEPARTED": ("I", "DP", "Departed from Facility"),
    "IN_TRANSIT": ("I", "AR", "Arrived at Facility"),
    "ARRIVED": ("I", "AR", "Arrived at Facility"),
    "CUSTOMS_CLEARED": ("I", "CC", "Import Scan: cleared customs"),
    "OUT_FOR_DELIVERY": ("O", "OT", "Out For Delivery Today"),
    "DELIVERED": ("D", "FS", "Delivered"),
    "RETURNED": ("RS", "RS", "Returned to shipper"),
    "EXC_ATTEMPT": ("X", "48", "The receiver was not available for delivery"),
    "EXC_REFUSED": ("X", "RF", "The receiver refused the delivery"),
    "EXC_DELAY_CARRIER": ("X", "DL", "A mechanical failure has delayed delivery"),
    "EXC_DELAY_SHIPPER": ("X", "SH", "Shipper requested a delay"),
    "EXC_DELAY_WEATHER": ("X", "WE", "Severe weather conditions have delayed delivery"),
    "EXC_DAMAGED": ("X", "DM", "The package was damaged"),
    "EXC_CUSTOMS_HOLD": ("X", "CH", "Held for customs clearance"),
}
FEDEX = {
    "BOOKED": ("OC", "", "Shipment information sent to FedEx"),
    "PICKED_UP": ("PU", "", "Picked up"),
    "DEPARTED": ("DP", "", "Left FedEx origin facility"),
    "IN_TRANSIT": ("IT", "", "In transit"),
    "ARRIVED": ("AR", "", "Arrived at FedEx location"),
    "CUSTOMS_CLEARED": ("CC", "", "International shipment release - Import"),
    "OUT_FOR_DELIVERY": ("OD", "", "On FedEx vehicle for delivery"),
    "DELIVERED": ("DL", "", "Delivered"),
    "RETURNED": ("RS", "", "Return to shipper"),
    "EXC_ATTEMPT": ("DE", "08", "Customer not available or business closed"),
    "EXC_REFUSED": ("DE", "07", "Refused by recipient"),
    "EXC_DELAY_CARRIER": ("SE", "A2", "Delay beyond our control"),
    "EXC_DELAY_SHIPPER": ("SE", "SH", "Shipper requested delay"),
    "EXC_DELAY_WEATHER": ("SE", "71", "Weather delay"),
    "EXC_DAMAGED": ("SE", "DM", "Package damaged"),
    "EXC_CUSTOMS_HOLD": ("SE", "CD", "Clearance delay"),
}
DHL = {
    "BOOKED": ("SA", "Shipment information received"),
    "PICKED_UP": ("PU", "Shipment picked up"),
    "DEPARTED": ("DF", "Departed Facility"),
    "IN_TRANSIT": ("PL", "Processed at location"),
    "ARRIVED": ("AF", "Arrived at Delivery Facility"),
    "CUSTOMS_CLEARED": ("CR", "Clearance processing complete"),
    "OUT_FOR_DELIVERY": ("WC", "With delivery courier"),
    "DELIVERED": ("OK", "Delivered"),
    "RETURNED": ("RT", "Returned to shipper"),
    "EXC_ATTEMPT": ("NH", "Delivery attempted; recipient not home"),
    "EXC_REFUSED": ("RD", "Refused delivery"),
    "EXC_DELAY_CARRIER": ("OH", "Shipment on hold"),
    "EXC_DELAY_SHIPPER": ("OH", "Shipment on hold at shipper request"),
    "EXC_DELAY_WEATHER": ("OH", "Delayed by weather"),
    "EXC_DAMAGED": ("DM", "Shipment damaged"),
    "EXC_CUSTOMS_HOLD": ("CH", "Customs status updated: on hold"),
}


def write_parcel(
    out_dir: Path,
    ev: pl.DataFrame,
    refs: pl.DataFrame,
    locs: pl.DataFrame,
    folder: str,
    target: int,
) -> list[dict]:
    ev = ev.filter(pl.col("kind") != "ETA")  # tracking APIs give ETAs outside the event list
    ev = _prepare(ev, refs, locs, target)
    unknown = pl.col("mess") == "unknown_code"
    bad = pl.col("mess") == "bad"
    recs = []
    loc_ups = pl.concat_str(
        J('{"address": {"city": '),
        q("l_city"),
        J(', "countryCode": '),
        q("l_country"),
        J(', "postalCode": '),
        q("l_postcode"),
        J("}}"),
    )
    for carrier in ("UPS", "FEDEX", "DHL"):
        sub = ev.filter(pl.col("carrier_code") == carrier)
        if not sub.height:
            continue
        table = {"UPS": UPS, "FEDEX": FEDEX, "DHL": DHL}[carrier]

        def col(i: int, t: dict = table) -> pl.Expr:
            return pl.col("kind").replace_strict({k: v[i] for k, v in t.items()}, default="")

        if carrier == "UPS":
            sub = sub.with_columns(
                pl.when(unknown).then(J("I")).otherwise(col(0)).alias("c0"),
                pl.when(unknown).then(J("ZQ")).otherwise(col(1)).alias("c1"),
                col(2).alias("c2"),
            )
            obj = pl.concat_str(
                J('{"date": '),
                q(pl.when(bad).then(J("2026XX01")).otherwise(pl.col("tl").dt.strftime("%Y%m%d"))),
                J(', "time": '),
                q(pl.col("tl").dt.strftime("%H%M%S")),
                J(', "status": {"type": '),
                q("c0"),
                J(', "code": '),
                q("c1"),
                J(', "description": '),
                q("c2"),
                J('}, "location": '),
                loc_ups,
                J("}"),
            )
            # UPS lists activity newest first
            newest_first = True  # UPS lists a package's activity newest first
            doc_head, doc_tail = '{"trackResponse": {"shipment": [\n', "\n]}}\n"
            wrap = pl.concat_str(
                J('{"package": [{"trackingNumber": '),
                q("tracking_number"),
                J(', "activity": ['),
                pl.col("obj"),
                J("]}]}"),
            )
        elif carrier == "FEDEX":
            sub = sub.with_columns(
                pl.when(unknown).then(J("ZZ")).otherwise(col(0)).alias("c0"),
                col(1).alias("c1"),
                col(2).alias("c2"),
            )
            date = (
                pl.when(bad)
                .then(pl.col("tl").dt.strftime("%Y/%m/%d %H:%M"))
                .otherwise(
                    pl.concat_str(
                        pl.col("tl").dt.strftime("%Y-%m-%dT%H:%M:%S"), pl.col("tl_offset")
                    )
                )
            )
            obj = pl.concat_str(
                J('{"date": '),
                q(date),
                J(', "eventType": '),
                q("c0"),
                J(', "eventDescription": '),
                q("c2"),
                J(', "exceptionCode": '),
                q("c1"),
                J(', "scanLocation": {"city": '),
                q("l_city"),
                J(', "countryCode": '),
                q("l_country"),
                J(', "postalCode": '),
                q("l_postcode"),
                J("}}"),
            )
            newest_first = False
            doc_head, doc_tail = '{"output": {"completeTrackResults": [\n', "\n]}}\n"
            wrap = pl.concat_str(
                J('{"trackingNumber": '),
                q("tracking_number"),
                J(', "trackResults": [{"scanEvents": ['),
                pl.col("obj"),
                J("]}]}"),
            )
        else:
            sub = sub.with_columns(
                pl.when(unknown).then(J("ZX")).otherwise(col(0)).alias("c0"), col(1).alias("c2")
            )
            obj = pl.concat_str(
                J('{"date": '),
                q(
                    pl.when(bad)
                    .then(pl.col("tl").dt.strftime("%d.%m.%Y"))
                    .otherwise(pl.col("tl").dt.strftime("%Y-%m-%d"))
                ),
                J(', "time": '),
                q(pl.col("tl").dt.strftime("%H:%M:%S")),
                J(', "GMTOffset": '),
                q("tl_offset"),
                J(', "typeCode": '),
                q("c0"),
                J(', "description": '),
                q("c2"),
                J(', "location": {"address": {"addressLocality": '),
                q("l_city"),
                J(', "countryCode": '),
                q("l_country"),
                J(', "postalCode": '),
                q("l_postcode"),
                J("}}}"),
            )
            newest_first = False
            doc_head, doc_tail = '{"shipments": [\n', "\n]}\n"
            wrap = pl.concat_str(
                J('{"shipmentTrackingNumber": '),
                q("tracking_number"),
                J(', "events": ['),
                pl.col("obj"),
                J("]}"),
            )
        sub = sub.with_columns(obj.alias("obj")).sort(
            ["file_no", "tracking_number", "t", "ev_no"],
            descending=[False, False, newest_first, newest_first],
        )
        pkg = sub.group_by(["file_no", "tracking_number"], maintain_order=True).agg(
            pl.col("obj").str.join(", "), pl.col("mess"), pl.len().alias("n")
        )
        # record numbers: 1-based event position in document order
        pkg = pkg.with_columns(wrap.alias("obj"))
        fname = pl.concat_str(
            J(carrier.lower() + "_track_"), pl.col("file_no").cast(pl.Utf8).str.zfill(4), J(".json")
        )
        pkg = pkg.with_columns(fname.alias("fname"))
        recs += _parcel_files(out_dir, folder, pkg, doc_head, doc_tail)
    return recs


def _parcel_files(
    out_dir: Path, folder: str, pkg: pl.DataFrame, head: str, tail: str
) -> list[dict]:
    recs = []
    pkg = pkg.with_columns((pl.col("n").cum_sum().over("fname") - pl.col("n")).alias("before"))
    files = pkg.group_by("fname", maintain_order=True).agg(
        pl.col("obj").str.join(",\n").alias("text"), pl.col("n").sum().alias("rows")
    )
    bad = (
        pkg.explode("mess")
        .with_columns(
            (
                pl.col("before") + pl.int_range(1, pl.len() + 1).over(["fname", "tracking_number"])
            ).alias("rec")
        )
        .filter(pl.col("mess") == "bad")
    )
    for name, text, rows in files.sort("fname").iter_rows():
        path = out_dir / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((head + text + tail).encode())
        b = bad.filter(pl.col("fname") == name)["rec"].to_list()
        recs.append(
            record(
                out_dir,
                path,
                rows,
                [{"row_number": int(x), "rule": "event date is not an ISO 8601 date"} for x in b],
            )
        )
    return recs


# ---------------------------------------------------------------- generic CSV events
CSV_CODES = {
    "BOOKED": ("BKD", ""),
    "PICKUP_ARRIVED": ("APU", ""),
    "PICKED_UP": ("PUP", ""),
    "DEPARTED": ("DEP", ""),
    "IN_TRANSIT": ("ITR", ""),
    "ARRIVED": ("ARR", ""),
    "CUSTOMS_CLEARED": ("CLR", ""),
    "OUT_FOR_DELIVERY": ("OFD", ""),
    "DELIVERED": ("DLV", ""),
    "RETURNED": ("RTS", ""),
    "ETA": ("ETA", ""),
    "EXC_ATTEMPT": ("EXC", "NOT_HOME"),
    "EXC_REFUSED": ("EXC", "REFUSED"),
    "EXC_DELAY_CARRIER": ("EXC", "CARRIER_DELAY"),
    "EXC_DELAY_SHIPPER": ("EXC", "SHIPPER_DELAY"),
    "EXC_DELAY_WEATHER": ("EXC", "WEATHER"),
    "EXC_DAMAGED": ("EXC", "DAMAGED"),
    "EXC_CUSTOMS_HOLD": ("EXC", "CUSTOMS_HOLD"),
}
CSV_LOCAL_SHARE = {"SNDR": 20, "EXDO": 80}  # percent of rows with local time, no offset


def write_csv_events(
    out_dir: Path,
    ev: pl.DataFrame,
    refs: pl.DataFrame,
    locs: pl.DataFrame,
    folder: str,
    target: int,
    fields: list[str],
) -> list[dict]:
    ev = _prepare(ev, refs, locs, target)
    local = (pl.col("ev_no") * 7919 % 100) < pl.col("carrier_code").replace_strict(
        CSV_LOCAL_SHARE, default=0
    )
    naive = pl.col("tl").dt.strftime("%Y-%m-%dT%H:%M:%S")
    ev = ev.with_columns(
        pl.concat_str(
            pl.col("carrier_code"), J("-E"), pl.col("ev_no").cast(pl.Utf8).str.zfill(10)
        ).alias("event_id"),
        pl.when(pl.col("mess") == "unknown_code")
        .then(J("XYZ"))
        .otherwise(
            pl.col("kind").replace_strict({k: v[0] for k, v in CSV_CODES.items()}, default="XYZ")
        )
        .alias("event_code"),
        pl.col("kind")
        .replace_strict({k: v[1] for k, v in CSV_CODES.items()}, default="")
        .alias("reason_code"),
        pl.when(pl.col("mess") == "bad")
        .then(pl.col("tl").dt.strftime("%d/%m/%Y %H:%M"))
        .when(local)
        .then(naive)
        .otherwise(pl.concat_str(naive, pl.col("tl_offset")))
        .alias("event_time"),
        pl.col("l_locode").alias("location_locode"),
        pl.col("received").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("received_at"),
    ).sort(["carrier_code", "file_no", "received", "ev_no", "mess"])
    recs = []
    for (carrier, file_no), sub in ev.group_by(["carrier_code", "file_no"], maintain_order=True):
        when = sub["received"].max()
        path = out_dir / folder / f"{carrier.lower()}_events_{when:%Y%m%d}_{file_no:04d}.csv"
        bad_idx = sub.with_row_index("_i").filter(pl.col("mess") == "bad")["_i"].to_list()
        write_csv(path, sub.select(fields))
        recs.append(
            record(
                out_dir,
                path,
                sub.height,
                [{"row_number": int(i) + 2, "rule": "event_time is not ISO 8601"} for i in bad_idx],
            )
        )
    return recs
