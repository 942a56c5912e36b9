"""CLI: ``sync`` (the main job), ``runs``, ``runs show ID``, ``drift``, ``clean``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from ..backend import BACKENDS
from ..logs import quiet_library_warnings
from ..model.names import PREDICTORS
from ._group import connection_options, json_option, main

#: The choices of run.only and run.drift_action (declared with the settings; repeated here so that
#: the CLI starts without importing them; a test keeps both equal).
RUN_ONLY = ("all", "score", "predict")
DRIFT_ACTIONS = ("warn", "fail")

_EXIT_CODES = """\b
Exit codes (for cron, systemd, Kubernetes, Airflow):
  0 ok, 1 unexpected error, 2 usage error, 3 bad input or selection (unknown label,
  empty selection, bad config), 4 Neo4j unreachable, 5 authentication failed,
  6 write not allowed, 7 backend unavailable, 8 local server error,
  9 memory budget exceeded, 10 another sync holds the lock (see --wait),
  11 drift threshold crossed (run recorded), 12 --max-runtime reached (run recorded
  as failed), 130 interrupted (SIGINT/SIGTERM; run recorded as failed)."""


def _config_option(func):
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        envvar="TOPO_SYNC_CONFIG",
        default=None,
        help="TOML settings file (env TOPO_SYNC_CONFIG); see examples/sync.toml.",
    )(func)


def _load(config_path: str | None, overrides: dict[str, Any], sets: tuple[str, ...] = ()) -> Any:
    from ..config import load_config  # noqa: PLC0415
    from ..errors import InputError  # noqa: PLC0415

    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise InputError(f"--set must look like section.key=value; got {item!r}")
        overrides[key.strip()] = (value, f"--set {key.strip()}")
    return load_config(config_path, overrides=overrides)


def _stderr_phases(quiet: bool):
    start: dict[str, float] = {}

    def on_phase(phase: str, state: str, seconds: float | None) -> None:
        if quiet:
            return
        if state == "start":
            start[phase] = time.perf_counter()
            click.echo(f"[{phase}] ...", err=True)
        else:
            click.echo(f"[{phase}] done in {seconds:.1f} s", err=True)

    last = {"t": 0.0}

    def on_progress(step: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if quiet or (now - last["t"] < 1.0 and done < total):
            return
        last["t"] = now
        click.echo(f"  {step}: {done:,}/{max(total, done):,}", err=True)

    def on_message(text: str) -> None:
        if not quiet:
            click.echo(f"  {text}", err=True)

    return on_phase, on_progress, on_message


# --------------------------------------------------------------------------- sync
#: The sync options that each set one setting: (flags, setting, click arguments). An option given
#: on the command line beats the file and the environment, and errors name it (``--hops must be ...``).
_SETTING_OPTIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("--label", "selection.labels", {"multiple": True, "help": "Node label to analyse, repeatable"}),
    ("--rel-type", "selection.rel_types", {"multiple": True, "help": "Relationship type, repeatable"}),
    ("--key-property", "selection.key_property", {"help": "Unique node id property"}),
    ("--timestamp-property", "selection.timestamp_property", {"help": "Relationship time property, for --since and drift"}),
    ("--hops", "score.hops", {"type": int, "help": "TC hops K, 1..4, default 2"}),
    ("--beta", "score.beta", {"help": "TC decay beta > 0 or 'auto'"}),
    ("--atc/--no-atc", "score.atc", {"help": "Compute approximate TC, default on"}),
    ("--model", "predict.model", {"help": f"Link predictor: {', '.join(PREDICTORS)}"}),
    ("--epochs", "predict.epochs", {"type": int, "help": "Maximum training epochs"}),
    ("--top-k", "predict.top_k", {"type": int, "help": "Predicted links per node, default 10"}),
    ("--seed", "score.seed", {"type": int, "help": "Seed of ATC and the model"}),
    ("--backend", "run.backend", {"type": click.Choice(BACKENDS), "help": "TC backend"}),
    ("--only", "run.only", {"type": click.Choice(RUN_ONLY), "help": "score: TC/ATC only; predict: link prediction only"}),
    ("--since", "run.since", {"metavar": "last|TIMESTAMP",
                              "help": "Incremental: re-score only nodes whose K-hop neighbourhood gained relationships"}),
    ("--full-every", "run.full_every", {"type": int, "help": "With --since: force a full run every N runs"}),
    ("--max-runtime", "run.max_runtime", {"metavar": "DURATION", "help": "Stop cleanly after e.g. 45m; exit 12"}),
    ("--wait/--no-wait", "run.wait", {"help": "Wait for another sync on the same selection instead of exit 10"}),
    ("--wait-timeout", "run.wait_timeout", {"metavar": "DURATION", "help": "Longest wait with --wait"}),
    ("--lock-ttl", "run.lock_ttl", {"metavar": "DURATION", "help": "Lock expiry without heartbeat"}),
    ("--drift-threshold", "run.drift_threshold", {"type": float, "help": "Alert when mean TC^New / TC^Train < this"}),
    ("--drift-action", "run.drift_action", {"type": click.Choice(DRIFT_ACTIONS), "help": "fail: exit 11 on a drift alert"}),
    ("--scheduler", "compute.scheduler", {"envvar": "TOPO_DASK_SCHEDULER", "metavar": "local[:N]|ADDRESS",
                                          "help": "TC, ATC and pair TC on a Dask cluster (env TOPO_DASK_SCHEDULER; the dask extra)"}),
)


def _param(flags: str) -> str:
    """The parameter click names after an option (``--top-k`` -> ``top_k``, ``--atc/--no-atc`` -> ``atc``)."""
    return flags.split("/")[0].lstrip("-").replace("-", "_")


def _setting_options(func):
    """The options of :data:`_SETTING_OPTIONS`, in its order; each help names its setting."""
    for flags, setting, attrs in reversed(_SETTING_OPTIONS):
        extra = {k: v for k, v in attrs.items() if k != "help"}
        func = click.option(flags, default=None, help=f"{attrs['help']} ({setting}).", **extra)(func)
    return func


def _overrides(params: dict[str, Any]) -> dict[str, Any]:
    """``{"section.key": (value, "--option")}`` for the setting options given on the command line."""
    out = {}
    for flags, setting, _ in _SETTING_OPTIONS:
        value = params[_param(flags)]
        if value is not None and value != ():
            on, _, off = flags.partition("/")
            out[setting] = (value, off if value is False and off else on)
    return out


@main.command(epilog=_EXIT_CODES)
@_config_option
@_setting_options
@click.option("--set", "sets", multiple=True, metavar="SECTION.KEY=VALUE", help="Override any setting (repeatable).")
@click.option("--dry-run", is_flag=True, help="Compute everything, write nothing (no ledger entry); show what would be written.")
@click.option("-q", "--quiet", is_flag=True, help="Nothing on stderr but errors and warnings.")
@json_option
@connection_options
def sync(config_path, sets, dry_run, quiet, as_json, conn, **settings):
    """Enrich the database: export -> TC/ATC -> train and predict -> write back -> record the run.

    Writes topo_tc, topo_atc, topo_expected_precision, topo_degree (with topo_tc_hops, topo_tc_beta,
    topo_run_id) on every selected node and (a)-[:PREDICTED_LINK {score, rank, probability, tc, ...}]->(b),
    records the run as (:TopoRun) and holds a lock so that two syncs on the same selection
    never overlap. Settings: --config FILE, then TOPO_SYNC_<SECTION>_<KEY>, then options.

    \b
    Examples:
      topo-graphdb sync --config examples/sync.toml
      topo-graphdb sync --label Paper --rel-type CITES --key-property id --json
      topo-graphdb sync --config sync.toml --since last --full-every 7 --max-runtime 45m
    """
    from ..pipeline import check_drift, run_sync  # noqa: PLC0415

    quiet_library_warnings()
    cfg = _load(config_path, _overrides(settings), sets)
    on_phase, on_progress, on_message = _stderr_phases(quiet)
    if not quiet:
        click.echo(f"sync {conn.describe()} (settings: {cfg.source})", err=True)
    report = run_sync(conn, cfg, dry_run=dry_run, on_phase=on_phase, on_progress=on_progress, on_message=on_message)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        click.echo(report.summary())
    check_drift(report, cfg)


# --------------------------------------------------------------------------- runs
_LIST_COLUMNS = ("run_id", "status", "mode", "started_at", "seconds", "nodes", "edges", "rescored", "tc_mean", "error")


def _without_blobs(run: dict[str, Any]) -> dict[str, Any]:
    """The run with its stored figures (PNG bytes) described instead of dumped."""
    return {k: (f"{len(v):,} bytes of PNG (runs show RUN --figures DIR)" if isinstance(v, (bytes, bytearray)) else v)
            for k, v in run.items()}


def _cell(v: Any, width: int = 0) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    text = str(v)
    if width and len(text) > width:
        text = text[: width - 1] + "…"
    return text


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...], widths: dict[str, int] | None = None) -> str:
    widths = widths or {}
    cells = [[_cell(r.get(c), widths.get(c, 0)) for c in columns] for r in rows]
    w = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w[i]) for i, c in enumerate(columns)).rstrip()]
    lines += ["  ".join(row[i].ljust(w[i]) for i in range(len(columns))).rstrip() for row in cells]
    return "\n".join(lines)


def _scope_of(config_path: str | None, conn: Any) -> str | None:
    if not config_path:
        return None
    return _load(config_path, {}).scope(conn.database)


@main.group(invoke_without_command=True)
@click.option("--limit", type=int, default=20, show_default=True, help="Newest N runs.")
@click.option("--status", type=click.Choice(["running", "succeeded", "failed"]), default=None, help="Only runs with this status.")
@_config_option
@json_option
@connection_options
@click.pass_context
def runs(ctx, limit, status, config_path, as_json, conn):
    """List sync runs recorded in the database, newest first (`runs show ID` for one).

    With --config only the runs of that configuration's selection are listed.
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"conn": conn, "as_json": as_json}
        return
    from ..ledger import list_runs  # noqa: PLC0415

    rows = [_without_blobs(r) for r in list_runs(conn, scope=_scope_of(config_path, conn), status=status, limit=limit)]
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    elif not rows:
        click.echo("no runs recorded (run `topo-graphdb sync` first)")
    else:
        click.echo(_table(rows, _LIST_COLUMNS, {"error": 60, "started_at": 23}))


@runs.command("show")
@click.argument("run_id")
@click.option("--figures", "figures_dir", type=click.Path(file_okay=False), default=None,
              help="Save the run's figures (reliability diagram, lift) as PNG files in this folder.")
@json_option
@click.pass_context
def runs_show(ctx, run_id, figures_dir, as_json):
    """Every recorded property of one run (RUN_ID or a unique prefix of it)."""
    from ..ledger import get_run  # noqa: PLC0415

    obj = ctx.obj or {}
    run = get_run(obj["conn"], run_id)
    if figures_dir is not None:
        folder = Path(figures_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for key, value in sorted(run.items()):
            if isinstance(value, (bytes, bytearray)) and key.startswith("figure_"):
                path = folder / f"{run['run_id']}-{key.removeprefix('figure_').removesuffix('_png')}.png"
                path.write_bytes(bytes(value))
                click.echo(f"saved {path}", err=True)
    run = _without_blobs(run)
    if as_json or obj.get("as_json"):
        click.echo(json.dumps(run, indent=2, default=str, sort_keys=True))
        return
    width = max(len(k) for k in run)
    for key in sorted(run):
        value = run[key]
        if key in ("params", "selection") and isinstance(value, str):
            try:
                value = json.dumps(json.loads(value), sort_keys=True)
            except json.JSONDecodeError:
                pass
        click.echo(f"{key.ljust(width)}  {_cell(value)}")


# --------------------------------------------------------------------------- drift
_DRIFT_COLUMNS = (
    "run_id", "started_at", "drift_since_run", "drift_new_edges", "drift_nodes", "drift_nodes_compared",
    "drift_tc_new", "drift_tc_train", "drift_ratio", "drift_alert",
)  # fmt: skip


@main.command(epilog="Exit code 11 when --threshold is given and the newest ratio is below it.")
@click.option("--limit", type=int, default=50, show_default=True, help="Newest N runs with a drift entry.")
@click.option("--threshold", type=float, default=None, help="Exit 11 when the newest TC^New / TC^Train ratio is below this.")
@_config_option
@json_option
@connection_options
def drift(limit, threshold, config_path, as_json, conn):
    """Drift history: mean TC^New of the nodes that gained relationships vs their TC^Train.

    A ratio well below 1 means new links land where the existing neighbourhood does not
    concentrate: the link predictor serves those nodes worse (the paper's topological
    distribution shift).
    """
    from ..errors import DriftAlert  # noqa: PLC0415
    from ..ledger import list_runs  # noqa: PLC0415

    rows = [r for r in list_runs(conn, scope=_scope_of(config_path, conn), status="succeeded", limit=max(limit * 4, 100))
            if r.get("drift_new_edges") is not None][:limit]
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    elif not rows:
        click.echo("no drift entries (they need selection.timestamp_property and an earlier successful run)")
    else:
        shown = [{k.removeprefix("drift_"): r.get(k) for k in _DRIFT_COLUMNS} for r in rows]
        click.echo(_table(shown, tuple(k.removeprefix("drift_") for k in _DRIFT_COLUMNS), {"started_at": 23}))
    if threshold is not None and rows:
        ratio = rows[0].get("drift_ratio")
        if ratio is not None and ratio < threshold:
            raise DriftAlert(f"run {rows[0]['run_id']}: mean TC^New / TC^Train = {ratio:.3f} is below {threshold:g}")


# --------------------------------------------------------------------------- clean
@main.command()
@click.option("--keep-runs", type=int, default=None, help="Keep the newest N runs per selection; delete older ones and their links.")
@click.option("--all", "everything", is_flag=True, help="Remove everything the tool wrote (properties, links, ledger, indexes).")
@click.option("--dry-run", is_flag=True, help="Count what would be removed.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before --all.")
@_config_option
@json_option
@connection_options
def clean(keep_runs, everything, dry_run, yes, config_path, as_json, conn):
    """Retention: delete old ledger entries and their predicted links, or (--all) everything written.

    The property prefix and the predicted-link type come from --config (default topo_, PREDICTED_LINK).
    """
    from ..errors import InputError  # noqa: PLC0415
    from ..ledger import clean as do_clean  # noqa: PLC0415

    if everything == (keep_runs is not None):
        raise InputError("give either --keep-runs N or --all")
    cfg = _load(config_path, {})
    if everything and not dry_run and not yes and sys.stdin.isatty():
        click.confirm(f"remove every {cfg.write.prefix}* property, {cfg.write.relationship_type} link and ledger entry "
                      f"from {conn.describe()}?", abort=True)
    report = do_clean(conn, keep_runs=keep_runs, everything=everything, prefix=cfg.write.prefix,
                      rel_type=cfg.write.relationship_type, batch_size=cfg.write.batch_size, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, default=str))
        return
    verb = "would remove" if dry_run else "removed"
    text = f"{verb} {report.runs_deleted:,} ledger entries and {report.links_deleted:,} predicted links"
    if report.runs_kept_live:
        text += f" (kept {report.runs_kept_live:,} older runs whose values nodes still carry)"
    if everything:
        props = sum(report.properties_removed.values())
        text += f", {props:,} node properties ({', '.join(report.properties_removed) or 'none'}), {report.locks_deleted} locks"
        if report.constraints_dropped:
            text += f", constraints/indexes {', '.join(report.constraints_dropped)}"
    click.echo(text)
