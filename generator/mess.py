"""File-level mess: exactly one malformed file per feed, and one byte-identical re-send.

Malformed files only hold copies of rows that also arrive in good files, so losing them never
changes the truth; the loader must report them and carry on.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ingestion.contracts import FEEDS


def _smallest(out_dir: Path, recs: list[dict], suffix: str) -> Path | None:
    cands = [r for r in recs if r["name"].endswith(suffix)]
    if not cands:
        return None
    return out_dir / min(cands, key=lambda r: (r["rows"], r["name"]))["name"]


def plant_bad_files(out_dir: Path, files: dict[str, list[dict]]) -> tuple[list[dict], dict]:
    bad: list[dict] = []
    for name, feed in FEEDS.items():
        folder = out_dir / feed.folder
        folder.mkdir(parents=True, exist_ok=True)
        recs = files[name]
        if feed.format in ("x12_214", "x12_210"):
            src = _smallest(out_dir, recs, ".edi")
            text = src.read_text() if src else ""
            cut = text.rfind("IEA")
            target = folder / f"{src.stem if src else name}_NO_IEA.edi"
            target.write_text(text[:cut] if cut > 0 else "ISA*00")
            problem = "interchange has no IEA trailer (file cut off after GE)"
        elif feed.format in ("dcsa_json", "parcel_json"):
            src = _smallest(out_dir, recs, ".json")
            data = src.read_bytes() if src else b"[{"
            prefix = src.name.split("_")[0] if src else name
            target = folder / f"{prefix}_truncated_response.json"
            target.write_bytes(data[: max(2, len(data) * 3 // 5)])
            problem = "JSON is truncated (transfer cut off): not valid JSON"
        elif name == "customs":
            target = folder / "customs_entries_scan.csv"
            target.write_bytes(bytes(range(256)) * 4)
            problem = "binary content, not UTF-8 CSV text"
        elif feed.format == "ecb_fx_csv":
            target = folder / "eurofxref-hist-partial.csv"
            target.write_text("USD,JPY,GBP,\n1.0923,161.20,0.8551,\n")
            problem = "header lacks the Date column"
        else:
            src = _smallest(out_dir, recs, ".csv")
            lines = src.read_text().splitlines() if src else [",".join(feed.field_names)]
            required = next(f.name for f in feed.fields if f.required)
            header = lines[0].split(",")
            drop = header.index(required)
            body = []
            for line in lines[:3]:
                cells = line.split(",")
                body.append(",".join(c for i, c in enumerate(cells) if i != drop))
            stem = src.stem if src else name
            target = folder / f"{stem}_NO_{required.upper()}.csv"
            target.write_text("\n".join(body) + "\n")
            problem = f"header lacks the required column {required}"
        bad.append(
            {"feed": name, "name": target.relative_to(out_dir).as_posix(), "problem": problem}
        )
    # one byte-identical re-send of a good file under another name (skipped by SHA-256)
    src_rec = files["csv_events"][0] if files["csv_events"] else files["shipments"][0]
    src = out_dir / src_rec["name"]
    dup = src.with_name(src.stem + "_resend" + src.suffix)
    shutil.copyfile(src, dup)
    feed = "csv_events" if files["csv_events"] else "shipments"
    return bad, {
        "feed": feed,
        "name": dup.relative_to(out_dir).as_posix(),
        "copy_of": src_rec["name"],
        "rows_counted": 0,
    }
