"""The ``waybill`` command: generate feeds, run the pipeline, open the dashboard or Dagster UI."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from waybill.settings import PROJECT_ROOT, Settings, SettingsError, load_settings

DEFAULT_DEMO_ORDERS = 2000


def _landing_has_files(settings: Settings) -> bool:
    from ingestion.contracts import FEEDS
    from ingestion.load import landing_files

    return any(landing_files(settings.landing, f) for f in FEEDS.values())


def cmd_generate(args: argparse.Namespace) -> int:
    from generator import generate

    settings = load_settings()
    out = Path(args.out).resolve() if args.out else settings.landing
    if args.increment_of:
        return _generate_increment(args, out)
    args.orders = DEFAULT_DEMO_ORDERS if args.orders is None else args.orders
    args.seed = 1 if args.seed is None else args.seed
    t0 = time.perf_counter()
    manifest = generate(out, orders=args.orders, seed=args.seed, progress=not args.quiet)
    elapsed = time.perf_counter() - t0
    files = sum(len(f.get("files", [])) for f in manifest.get("feeds", {}).values())
    print(
        f"wrote {files} files for {args.orders:,} orders (seed {args.seed}) to {out} "
        f"in {elapsed:.1f} s; ground truth in {out / 'manifest.json'}"
    )
    return 0


def _generate_increment(args: argparse.Namespace, out: Path) -> int:
    """``waybill generate --increment-of BASE_DIR``: the next delivery after a generated base
    (docs/generator.md, Increments); orders and seed come from the base's manifest."""
    import json

    from generator.increment import TAG, generate_increment

    base = Path(args.increment_of).resolve()
    if not (base / "manifest.json").is_file():
        print(
            f"error: {base} has no manifest.json: pass a folder written by `waybill generate`",
            file=sys.stderr,
        )
        return 2
    recorded = json.loads((base / "manifest.json").read_text()).get("parameters", {})
    for name in ("orders", "seed"):
        given = getattr(args, name)
        if given is not None and given != recorded.get(name):
            print(
                f"error: --{name} {given} differs from the base's {recorded.get(name)}: an increment "
                "uses the base's own parameters (leave --orders/--seed out)",
                file=sys.stderr,
            )
            return 2
    t0 = time.perf_counter()
    try:
        manifest = generate_increment(base, out, share=args.share, progress=not args.quiet)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - t0
    files = sum(len(f["files"]) for f in manifest["feeds"].values())
    print(
        f"wrote an increment of {files} files ({manifest['parameters']['orders']:,} new orders, "
        f"as of {manifest['parameters']['as_of']}) after {base} to {out} in {elapsed:.1f} s; "
        f"ground truth of base + increment in {out / f'manifest_{TAG}.json'}"
    )
    return 0


def prepare_run_environment(settings: Settings) -> None:
    """Directories, the Dagster instance file and the dbt manifest, before Dagster is imported."""
    from orchestration.instance import write_instance_yaml
    from waybill.dbt import ensure_manifest

    settings.ensure_dirs()
    # A DAGSTER_HOME the user chose is respected; it gets our instance file if it has none.
    os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home))
    write_instance_yaml(Path(os.environ["DAGSTER_HOME"]))
    # dagster-dbt looks for `dbt` on PATH (e.g. to re-parse under `dagster dev`): make it the dbt
    # installed beside this Python even when the virtual environment is not activated.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    os.environ["WAYBILL_DATA_DIR"] = str(settings.data_dir)
    ensure_manifest(settings)


def run_pipeline(settings: Settings, quiet: bool = False, full_refresh: bool = False) -> bool:
    """Run the whole pipeline once, in this process, through Dagster. True if it succeeded.
    With nothing new since the last published snapshot, only ingestion and the raw-feed checks
    run (waybill/build_state.py); ``full_refresh`` rebuilds everything regardless."""
    prepare_run_environment(settings)
    import dagster as dg

    from orchestration.definitions import defs
    from waybill.build_state import FULL_REFRESH_TAG
    from waybill.recovery import CLI_TAGS, cli_run_lock, release_dead_cli_runs

    job = defs.resolve_job_def("pipeline")
    level = "WARNING" if quiet else "INFO"
    with cli_run_lock(Path(os.environ["DAGSTER_HOME"])):
        instance = dg.DagsterInstance.get()
        for run_id in release_dead_cli_runs(instance):
            print(f"run {run_id} died earlier (killed or crashed): marked failed, pool freed")
        result = job.execute_in_process(
            instance=instance,
            run_config={"loggers": {"console": {"config": {"log_level": level}}}},
            raise_on_error=False,
            tags=CLI_TAGS | ({FULL_REFRESH_TAG: "true"} if full_refresh else {}),
        )
    print_summary(settings, result.success, result.run_id)
    from waybill.checks import print_check_summary
    from waybill.notify import notify_operator

    blocked = print_check_summary(settings, result.run_id)
    if not result.success or blocked:
        failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        event = "publication_blocked" if blocked else "run_failed"
        notify_operator(
            settings.alert_webhook_url,
            event,
            f"pipeline run {result.run_id} "
            + (
                "stopped publication: blocking data-quality check(s) failed"
                if blocked
                else "failed"
            )
            + "; the last good snapshot stays published",
            {"run_id": result.run_id, "data_dir": settings.data_dir, "failed_steps": failed},
        )
    return result.success and not blocked


def print_summary(settings: Settings, success: bool, run_id: str | None = None) -> None:
    import duckdb

    from ingestion.load import LOAD_SUMMARY_SQL
    from waybill.build_state import published_by

    if not settings.warehouse.exists():
        print("no warehouse yet")
        return
    try:
        con = duckdb.connect(str(settings.warehouse), read_only=True)
    except duckdb.IOException as exc:
        # e.g. a dbt process of a failed step still holds the file: report, don't crash
        print(f"\npipeline {'succeeded' if success else 'FAILED'}; no summary: {exc}")
        return
    try:
        rows = con.execute(LOAD_SUMMARY_SQL).fetchall()
        failed = con.execute(
            "select source_file, error from meta.load_log where status = 'FAILED' order by 1"
        ).fetchall()
        published = run_id is None or published_by(con, run_id)
    finally:
        con.close()
    print(
        f"\n{'feed':<22}{'files':>7}{'failed':>8}{'rows read':>12}{'loaded':>12}{'quarantined':>13}"
    )
    for feed, files, nfail, read, loaded, quarantined, _ in rows:
        print(f"{feed:<22}{files:>7}{nfail:>8}{read:>12,}{loaded:>12,}{quarantined:>13,}")
    if failed:
        print("\nfiles skipped as unreadable (see `meta.quarantine`):")
        for source, error in failed:
            print(f"  {source}: {error}")
    state = "succeeded" if success else "FAILED (see the log above; the last good snapshot is kept)"
    if success and not published:
        print(
            "\nnothing new since the last published snapshot: files and raw-feed checks "
            "(freshness included) ran; dbt build, publish and exports were skipped "
            "(`waybill run --full-refresh` rebuilds everything)"
        )
    print(f"\npipeline {state}")
    print(f"warehouse: {settings.warehouse}")
    print(f"published snapshot: {settings.snapshot}")


def cmd_run(args: argparse.Namespace) -> int:
    ok = run_pipeline(load_settings(), quiet=args.quiet, full_refresh=args.full_refresh)
    return 0 if ok else 1


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def dashboard_command(settings: Settings, port: int, host: str = "127.0.0.1") -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PROJECT_ROOT / "dashboards" / "app.py"),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
        # Exceptions show a generic message in the browser; details go to the server log only.
        "--client.showErrorDetails",
        "none",
    ]


def check_dashboard_access(settings: Settings, host: str, no_auth: bool) -> str | None:
    """Why the dashboard must not start this way, or None. Prints the warnings it implies."""
    from waybill.users import load_users

    try:
        users = load_users(settings.users_file)
    except (ValueError, OSError) as exc:
        return f"the users file cannot be read: {exc}"
    if no_auth and host not in LOOPBACK:
        return (
            f"--no-auth serves every customer's data without sign-in, so it is allowed on "
            f"localhost only, not on {host}; add a user (waybill users add NAME --role internal)"
        )
    if no_auth:
        print(
            "WARNING: --no-auth: anyone who can reach this machine's localhost sees all data "
            "as an internal user, without signing in",
            file=sys.stderr,
        )
    elif not users:
        print(
            f"no dashboard users in {settings.users_file}: the dashboard serves no data until "
            "one is added (waybill users add NAME --role internal), or start it with --no-auth "
            "on localhost",
            file=sys.stderr,
        )
    return None


def cmd_dashboard(args: argparse.Namespace) -> int:
    settings = load_settings()
    problem = check_dashboard_access(settings, args.host, args.no_auth)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    env = os.environ | {
        "WAYBILL_DATA_DIR": str(settings.data_dir),
        "WAYBILL_DASHBOARD_NO_AUTH": "1" if args.no_auth else "0",
    }
    shown = "localhost" if args.host in LOOPBACK else args.host
    print(f"dashboard: http://{shown}:{args.port}  (reading {settings.snapshot}; Ctrl+C stops)")
    sys.stdout.flush()
    # Replace this process with Streamlit (same pid): a signal to `waybill dashboard` reaches
    # Streamlit itself and stopping it leaves no orphan behind.
    command = dashboard_command(settings, args.port, args.host)
    os.execve(command[0], command, env)


def cmd_demo(args: argparse.Namespace) -> int:
    settings = load_settings()
    settings.ensure_dirs()
    if _landing_has_files(settings):
        print(f"landing zone {settings.landing} has files: using them")
    else:
        print(
            f"landing zone {settings.landing} is empty: generating {args.orders:,} orders of "
            "sample feeds"
        )
        from generator import generate

        generate(settings.landing, orders=args.orders, seed=args.seed, progress=True)
        print(
            "the sample feeds contain deliberate mess (bad rows, one unreadable file per feed) "
            "to show the quarantine at work: see docs/generator.md"
        )
    ok = run_pipeline(settings)
    if args.no_dashboard:
        return 0 if ok else 1
    print("\nstarting the dashboard; open the address below in a browser")
    from waybill.users import load_users

    try:
        has_users = bool(load_users(settings.users_file))
    except (ValueError, OSError):
        has_users = True  # cmd_dashboard reports the broken file
    # The demo is the README's first command: with nobody set up yet it serves the sample data
    # on localhost without sign-in (and says so); once users exist, they sign in as usual.
    args.host, args.no_auth = "127.0.0.1", not has_users
    return cmd_dashboard(args)


def cmd_import(args: argparse.Namespace) -> int:
    from ingestion.importers import ImportContractError, run_import

    settings = load_settings(args.into)
    settings.ensure_dirs()
    try:
        report = run_import(args.dataset, settings.landing, args.source, args.allow_quarantine)
    except ImportContractError as exc:
        print(exc.report.summary())
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(report.summary())
    print(f"report: {settings.landing / '_import' / (args.dataset + '_report.json')}")
    print("next: waybill run (with the same WAYBILL_DATA_DIR / --into folder)")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    settings = load_settings()
    prepare_run_environment(settings)
    print(f"Dagster UI on http://localhost:{args.port} (DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
    return subprocess.call(
        [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-m",
            "orchestration.definitions",
            "-p",
            str(args.port),
        ],
        cwd=PROJECT_ROOT,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        from waybill.bench import main as bench_main

        return bench_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="waybill",
        description="Open analytics for logistics order management. Data lives in "
        "$WAYBILL_DATA_DIR (default: data/ in the checkout).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("generate", help="write synthetic feeds with a ground-truth manifest")
    p.add_argument("--orders", type=int, help=f"default {DEFAULT_DEMO_ORDERS}")
    p.add_argument("--seed", type=int, help="default 1")
    p.add_argument("--out", help="output folder (default: the landing zone)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--increment-of",
        metavar="BASE_DIR",
        help="write the next delivery (about --share new data) after the data set generated in "
        "BASE_DIR, with its orders and seed; file names sort after the base's",
    )
    p.add_argument(
        "--share",
        type=float,
        default=0.01,
        help="with --increment-of: new orders as a share of the base's, and the same share of "
        "its order period passes (default 0.01)",
    )
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("run", help="run the whole pipeline once (ingest, dbt build, publish)")
    p.add_argument("--quiet", action="store_true", help="only warnings and the summary")
    p.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild and republish even when nothing changed since the last published snapshot",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("dashboard", help="start the Streamlit dashboard")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 opens it to "
        "the network, with sign-in)",
    )
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="serve all data without sign-in (localhost only; for a single-user machine)",
    )
    p.set_defaults(func=cmd_dashboard)

    p = sub.add_parser("demo", help="generate sample feeds if none, run, start the dashboard")
    p.add_argument("--orders", type=int, default=DEFAULT_DEMO_ORDERS)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--no-dashboard", action="store_true", help="stop after the pipeline run")
    p.set_defaults(func=cmd_demo)

    from ingestion.importers import DATASETS

    p = sub.add_parser("import", help="map a public data set onto our feeds (docs/real-data.md)")
    p.add_argument("dataset", choices=sorted(DATASETS))
    p.add_argument("--source", help="the data set's folder (default: ../shared/datasets/...)")
    p.add_argument("--into", help="data directory to import into (default: WAYBILL_DATA_DIR)")
    p.add_argument(
        "--allow-quarantine",
        action="store_true",
        help="keep the files even if the contract check finds rows the loader will quarantine",
    )
    p.set_defaults(func=cmd_import)

    from waybill import users

    users.add_parser(sub)

    p = sub.add_parser("ui", help="open the Dagster UI (dagster dev) on this data directory")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_ui)

    # Listed here for --help; `waybill bench ...` is handed to waybill/bench.py before parsing.
    sub.add_parser(
        "bench",
        help="time full, nothing-new and incremental runs, the dashboard queries and the floor "
        "(waybill bench --help)",
    )

    from waybill.exports import add_export_parser

    add_export_parser(sub)

    from waybill.quarantine import register as register_quarantine

    register_quarantine(sub)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
