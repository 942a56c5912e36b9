"""The demo behind ``make demo``: load the bundled Cora graph and summarise it.

Uses the server named by ``NEO4J_URI`` or, without it, the local server
started by ``topo-graphdb neo4j start``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .connection import settings_from
from .errors import TopoGraphError
from .loader import load_dataset
from .query import render_result, run_query


def _summary(conn) -> None:
    text = (Path(__file__).resolve().parent.parent / "cypher" / "graph_summary.cypher")
    query = text.read_text() if text.is_file() else (
        "MATCH (n:Paper) WITH count(n) AS nodes OPTIONAL MATCH (:Paper)-[r:CITES]->(:Paper) "
        "RETURN 'Paper' AS label, nodes, 'CITES' AS rel_type, count(r) AS relationships"
    )
    keys, rows = run_query(conn, query, {"label": "Paper", "rel_type": "CITES"})
    click.echo(render_result(keys, rows))


def main() -> int:
    try:
        conn = settings_from()
        click.echo(f"== loading Cora into {conn.describe()}", err=True)
        report = load_dataset(conn, "cora")
        click.echo(f"   {report.nodes:,} nodes, {report.relationships:,} relationships in {report.seconds:.1f} s", err=True)
        click.echo("== summary")
        _summary(conn)
    except TopoGraphError as err:
        click.echo(f"error: {err}", err=True)
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
