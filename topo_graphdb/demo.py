"""The demo behind ``make demo``: load Cora, run ``sync`` with its defaults, show what it wrote.

Uses the server named by ``NEO4J_URI`` or, without it, the local server
started by ``topo-graphdb neo4j start``. Steps: load the bundled Cora graph
(``(:Paper {id, features, label})-[:CITES]->(:Paper)``; loading twice adds
nothing), run the main job (TC with K = 2, ATC, a GCN link predictor, its
top-10 predictions per paper with a calibrated probability each, and every
paper's expected precision written back; the run recorded in the ledger),
then print the run summary, the held-out check of the probabilities (its
reliability diagram and lift figure saved as PNG files in ``demo-figures/``),
and the output of queries of the Cypher library in ``cypher/``: the papers
with the lowest TC, those whose predictions are least reliable, the most
probable predicted links, and the predicted links of the most cited paper.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from .config import load_config
from .connection import settings_from
from .errors import TopoGraphError
from .loader import load_dataset
from .logs import quiet_library_warnings
from .query import render_result, run_query
from .server import local_connection

LIBRARY = Path(__file__).resolve().parent.parent / "cypher"

#: The demo's selection; every other setting is the default (see examples/sync.toml).
SELECTION = {
    "selection.labels": ["Paper"],
    "selection.rel_types": ["CITES"],
    "selection.key_property": "id",
    "selection.feature_properties": ["features"],
}


def _library(name: str, params: dict) -> None:
    path = LIBRARY / f"{name}.cypher"
    text = path.read_text("utf-8")
    comment = next((line[2:].strip() for line in text.splitlines() if line.startswith("//")), "")
    click.echo(f"\n== cypher/{name}.cypher: {comment}")
    keys, rows = run_query(settings_from(local=local_connection), text, params)
    click.echo(render_result(keys, rows))


def _trust(result) -> None:
    """The held-out check of the link probabilities, and its figures as PNG files."""
    m = result.metrics
    if "trust_ece" not in m:
        return
    click.echo(
        f"\n== trust: on {m.get('trust_heldout_edges', 0):,} held-out links, link AUC {m.get('trust_link_auc') or float('nan'):.3f}, "
        f"calibration error (ECE) {m.get('trust_ece') or float('nan'):.4f}; Spearman with measured Precision@10 on "
        f"{m.get('trust_nodes') or 0:,} nodes: expected precision {m.get('trust_spearman_expected_precision') or float('nan'):.3f}, "
        f"degree {m.get('trust_spearman_degree') or float('nan'):.3f}, TC^Train K=2 {m.get('trust_spearman_tc_train_k2') or float('nan'):.3f}"
    )
    folder = Path("demo-figures")
    for name, png in result.figures.items():
        folder.mkdir(exist_ok=True)
        path = folder / f"{result.run_id}-{name}.png"
        path.write_bytes(png)
        click.echo(f"   saved {path}")


def main() -> int:
    from .pipeline import run_sync  # noqa: PLC0415

    quiet_library_warnings()
    t0 = time.perf_counter()
    try:
        conn = settings_from(local=local_connection)
        click.echo(f"== loading Cora into {conn.describe()}", err=True)
        report = load_dataset(conn, "cora")
        click.echo(f"   {report.nodes:,} nodes, {report.relationships:,} relationships in {report.seconds:.1f} s", err=True)

        config = load_config(None, overrides=SELECTION)
        click.echo("== topo-graphdb sync (default settings, selection :Paper-[:CITES]-:Paper)", err=True)

        def phase(name: str, state: str, seconds: float | None) -> None:
            if state == "done":
                click.echo(f"   {name:<10} {seconds:6.1f} s", err=True)

        result = run_sync(conn, config, on_phase=phase, on_message=lambda text: click.echo(f"   {text}", err=True))
        click.echo("\n== run summary")
        click.echo(result.summary())
        _trust(result)
        _library("lowest_tc", {"label": "Paper", "key_property": "id", "limit": 10})
        _library("unreliable_nodes", {"label": "Paper", "key_property": "id", "limit": 10})
        _library("trusted_links", {"label": "Paper", "key_property": "id", "min_probability": 0.3, "limit": 10})
        keys, rows = run_query(conn, "MATCH (p:Paper) RETURN p.id AS id ORDER BY p.topo_degree DESC, p.id LIMIT 1")
        _library("predicted_links", {"node": rows[0][0], "key_property": "id", "label": "Paper"})
    except TopoGraphError as err:
        click.echo(f"error: {err}", err=True)
        return err.exit_code
    click.echo(f"\n(demo finished in {time.perf_counter() - t0:.0f} s; list runs with `topo-graphdb runs`)", err=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
