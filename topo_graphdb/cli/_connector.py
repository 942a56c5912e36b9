"""CLI: export a selection to Parquet; write results back to Neo4j."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import click

from ._group import connection_options, json_option, main
from ._progress import progress_printer

__all__ = ["selection_options"]

_WHERE_HELP = (
    "Node predicate 'PROPERTY OP VALUE' (repeatable, all must hold). OP: =, <>, <, <=, >, >=, IN, "
    "STARTS WITH, CONTAINS, IS NULL, IS NOT NULL. VALUE: JSON (2010, \"text\", [1, 2]) or 'text'; "
    "quote odd names with backticks: `my prop` = 3."
)


def selection_options(func: Callable) -> Callable:
    """The graph selection options; the command receives ``spec`` (a GraphSpec)."""

    @click.option("--label", "labels", multiple=True, help="Node label (repeatable: any of them); default all nodes.")
    @click.option("--rel-type", "rel_types", multiple=True, help="Relationship type (repeatable: any of them); default all.")
    @click.option(
        "--orientation",
        type=click.Choice(["natural", "reverse", "undirected"]),
        default="undirected",
        show_default=True,
        help="Edge direction; undirected drops self-loops and duplicate pairs (counted in the report).",
    )
    @click.option("--where", "where", multiple=True, metavar="'PROP OP VALUE'", help=_WHERE_HELP)
    @click.option("--rel-where", "rel_where", multiple=True, metavar="'PROP OP VALUE'", help="Relationship predicate, as --where.")
    @click.option("--time-property", default=None, help="Relationship property exported as edge time.")
    @click.option("--since", default=None, help="Only relationships with time property >= this number.")
    @click.option("--weight-property", default=None, help="Relationship property exported as edge weight (missing = 1).")
    @click.option("--feature-property", "feature_properties", multiple=True, help="Numeric node property (scalar or list) for x; repeatable.")
    @click.option("--label-property", default=None, help="Node property exported as the class label y.")
    @click.option("--key-property", default=None, help="Unique node id property (node ids are its values; else element ids).")
    @click.option(
        "--projection",
        "projection_file",
        type=click.Path(dir_okay=False, exists=True),
        default=None,
        help="Read-only Cypher file returning source, target[, time, weight] (element ids or keys); replaces the selection.",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..connector import spec_from_options  # noqa: PLC0415

        names = (
            "labels", "rel_types", "orientation", "where", "rel_where", "time_property", "since",
            "weight_property", "feature_properties", "label_property", "key_property", "projection_file",
        )
        kwargs["spec"] = spec_from_options(**{k: kwargs.pop(k) for k in names})
        return func(*args, **kwargs)

    return wrapper


@main.command()
@selection_options
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Snapshot folder (nodes/edges Parquet + meta.json).")
@click.option("--fetch-size", default=1_000_000, show_default=True, type=int, help="About this many nodes per network page.")
@json_option
@connection_options
def export(spec, out, fetch_size, as_json, conn):
    """Export a graph selection from Neo4j to a Parquet snapshot.

    \b
    Examples:
      topo-graphdb export --label Paper --rel-type CITES --key-property id --out cora/
      topo-graphdb export --label Paper --where "year >= 2010" --feature-property features --out s/
    """
    from ..connector import export_graph  # noqa: PLC0415

    snapshot = export_graph(conn, spec, progress=None if as_json else progress_printer(), fetch_size=fetch_size)
    snapshot.to_parquet(out)
    report = snapshot.meta["report"]
    if as_json:
        click.echo(json.dumps({"out": str(out), **report}, indent=2, default=str))
    else:
        click.echo(
            f"exported {report['nodes']:,} nodes and {report['edges']:,} edges ({spec.orientation}; "
            f"{report['self_loops']:,} self-loops, {report['duplicates']:,} duplicates, "
            f"{report['dangling']:,} dangling) to {out} in {report['seconds']['total']:.1f} s"
        )


@main.command()
@click.option("--from", "nodes_csv", type=click.Path(dir_okay=False, exists=True), default=None,
              help="CSV of node values: an id column (--id-column) and one column per property.")
@click.option("--id-column", default="node", show_default=True, help="Id column of --from (key value or element id).")
@click.option("--links", "links_csv", type=click.Path(dir_okay=False, exists=True), default=None,
              help="CSV of predicted links with columns src,dst,score (node ids).")
@click.option("--model", default=None, help="Model name stored on predicted links (required with --links).")
@click.option("--rel-type", default="PREDICTED_LINK", show_default=True, help="Type of the predicted links.")
@click.option("--top-k", type=int, default=None, help="Keep at most K links per source node.")
@click.option("--min-score", type=float, default=None, help="Drop links scoring below this.")
@click.option("--keep-previous", is_flag=True, help="Keep other runs' links of the source nodes (default: replace them).")
@click.option("--label", "labels", multiple=True, help="Label guard / key label of the nodes (repeatable).")
@click.option("--key-property", default=None, help="Match nodes on this unique property (else ids are element ids).")
@click.option("--snapshot", type=click.Path(file_okay=False, exists=True), default=None,
              help="Take --label/--key-property from an exported snapshot's meta.json.")
@click.option("--prefix", default="topo_", show_default=True, help="Prefix of every property written.")
@click.option("--run-id", default=None, help="Run id stored with the values (default: a fresh one).")
@click.option("--batch-size", default=10_000, show_default=True, type=int, help="Rows (links) per write transaction.")
@click.option("--rate-limit", type=float, default=None, help="At most this many rows per second.")
@click.option("--reconnect-timeout", type=float, default=300.0, show_default=True,
              help="Seconds to keep retrying a batch while the server is away.")
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@json_option
@connection_options
def write(nodes_csv, id_column, links_csv, model, rel_type, top_k, min_score, keep_previous, labels, key_property,
          snapshot, prefix, run_id, batch_size, rate_limit, reconnect_timeout, dry_run, as_json, conn):
    """Write node values and/or predicted links from CSV files back to Neo4j.

    Values of --from become properties PREFIX<column> (empty cells remove the
    property) plus PREFIXrun_id and PREFIXupdated_at. Re-running the same
    write is safe (idempotent). Nodes are found by --key-property (with the
    label) or by element id and label; nodes that no longer match are counted.
    """
    from ..writecsv import write_from_csv  # noqa: PLC0415

    reports = write_from_csv(
        conn, nodes_csv=nodes_csv, id_column=id_column, links_csv=links_csv, model=model, rel_type=rel_type,
        top_k=top_k, min_score=min_score, replace_previous=not keep_previous, labels=labels or None,
        key_property=key_property, snapshot=snapshot, prefix=prefix, run_id=run_id, batch_size=batch_size,
        rate_limit=rate_limit, reconnect_timeout=reconnect_timeout, dry_run=dry_run,
        progress=None if as_json else progress_printer(),
    )
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in reports], indent=2, default=str))
        return
    for r in reports:
        click.echo(r.summary())
        if r.dry_run and r.sample is not None:
            click.echo(f"  sample: {json.dumps(r.sample, default=str)}")
        for note in r.notes:
            click.echo(f"  note: {note}")
