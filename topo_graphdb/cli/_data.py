"""CLI: run Cypher queries and load graphs into Neo4j."""

from __future__ import annotations

import json

import click

from ..errors import InputError
from ._group import connection_options, json_option, main
from ._progress import progress_printer


@main.command()
@click.argument("cypher", required=False)
@click.option("-f", "--file", "file_", type=click.Path(dir_okay=False), help="Read the query from a .cypher file.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Query parameter (JSON values allowed); repeatable.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--write", is_flag=True, help="Allow the query to write (default: read-only).")
@connection_options
def query(cypher, file_, params, fmt, write, conn):
    """Run a Cypher query (read-only unless --write) and print the result."""
    from ..query import parse_params, read_query_file, render_result, run_query  # noqa: PLC0415

    if bool(cypher) == bool(file_):
        raise InputError("give either a CYPHER argument or -f FILE, not both or neither")
    text = cypher if cypher else read_query_file(file_)
    keys, rows = run_query(conn, text, parse_params(params), write=write)
    click.echo(render_result(keys, rows, fmt))


def _print_report(report, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(
            f"loaded {report.nodes:,} (:{report.label}) nodes and {report.relationships:,} [:{report.rel_type}] "
            f"relationships in {report.seconds:.1f} s ({report.mode}; {report.duplicates_skipped:,} duplicate rows skipped)"
        )


@main.command("load-edges")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--label", required=True, help="Node label.")
@click.option("--rel-type", required=True, help="Relationship type.")
@click.option("--src-col", default="src", show_default=True, help="Source id column.")
@click.option("--dst-col", default="dst", show_default=True, help="Target id column.")
@click.option("--time-col", default=None, help="Optional time column, stored on relationships under its own name.")
@click.option("--id-property", default="id", show_default=True, help="Node property holding the id (unique).")
@click.option("--batch-size", default=20_000, show_default=True, type=int, help="Rows per write transaction.")
@json_option
@connection_options
def load_edges_cmd(file, label, rel_type, src_col, dst_col, time_col, id_property, batch_size, as_json, conn):
    """Load an edge CSV (header, integer ids) as (:LABEL {id})-[:REL_TYPE]->(:LABEL {id})."""
    from ..loader import load_edges  # noqa: PLC0415

    report = load_edges(
        conn, file, label=label, rel_type=rel_type, src_col=src_col, dst_col=dst_col, time_col=time_col,
        id_property=id_property, batch_size=batch_size, progress=progress_printer(),
    )
    _print_report(report, as_json)


def _dataset_names() -> list[str]:
    from ..loader import DATASETS  # noqa: PLC0415

    return sorted(DATASETS)


@main.command("load-dataset")
@click.argument("name", metavar="NAME", type=click.Choice(_dataset_names()))
@click.option("--label", default=None, help="Override the dataset's node label.")
@click.option("--rel-type", default=None, help="Override the dataset's relationship type.")
@click.option("--batch-size", default=20_000, show_default=True, type=int, help="Rows per write transaction.")
@json_option
@connection_options
def load_dataset_cmd(name, label, rel_type, batch_size, as_json, conn):
    """Load a bundled dataset (cora, citeseer, ca-grqc, reptile, collegemsg).

    Cora becomes (:Paper {id, features, label})-[:CITES]->(:Paper).
    """
    from ..loader import load_dataset  # noqa: PLC0415

    report = load_dataset(conn, name, label=label, rel_type=rel_type, batch_size=batch_size, progress=progress_printer())
    _print_report(report, as_json)
