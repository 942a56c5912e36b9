"""Loading edge lists and bundled datasets into Neo4j.

Nodes are ``(:Label {id})`` with a uniqueness constraint on ``id`` (created
first); relationships ``(a)-[:TYPE {t}]->(b)`` in the direction of the file.
Everything goes in batched ``UNWIND`` write transactions. Loading the same
data twice adds nothing: nodes are ``MERGE``d on the constrained id, and
relationships are ``CREATE``d only when the database holds none of that type
between nodes of that label yet (de-duplicated first), ``MERGE``d otherwise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ._cypher import quote_identifier, render
from .batches import spans
from .connection import ConnectionSettings
from .db import Database, connect
from .edgefile import EdgeTable, read_edge_csv
from .errors import InputError
from .progress import Progress

__all__ = ["DATASETS", "LoadReport", "load_edges", "load_dataset", "dataset_path"]


@dataclass(frozen=True)
class DatasetInfo:
    label: str
    rel_type: str
    time_col: str | None = None
    features: bool = False


#: Datasets shipped in ``topo_graphdb/datasets`` (provenance in each ``meta.json``).
DATASETS: dict[str, DatasetInfo] = {
    "cora": DatasetInfo("Paper", "CITES", features=True),
    "citeseer": DatasetInfo("CiteseerPaper", "CITES", features=True),
    "ca-grqc": DatasetInfo("Author", "COAUTHOR"),
    "reptile": DatasetInfo("Tortoise", "MEETS", time_col="t"),
    "collegemsg": DatasetInfo("Student", "MESSAGED", time_col="t"),
}


@dataclass
class LoadReport:
    label: str
    rel_type: str
    rows: int
    nodes: int
    relationships: int
    duplicates_skipped: int
    mode: str
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def dataset_path(name: str) -> Path:
    """Folder of a bundled dataset (``edges.csv``, ``meta.json``, maybe features)."""
    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r}; bundled: {', '.join(sorted(DATASETS))}")
    return Path(str(resources.files("topo_graphdb.datasets").joinpath(name)))


def _distinct_rows(table: EdgeTable) -> Any:
    """Distinct ``(src, dst[, t])`` rows, sorted; ids stay int64 (never mixed into a float array with the times)."""
    import pandas as pd  # noqa: PLC0415

    cols = {"src": table.src, "dst": table.dst}
    if table.time is not None:
        cols["t"] = table.time
    return pd.DataFrame(cols).drop_duplicates().sort_values(list(cols), kind="stable").reset_index(drop=True)


def _write_batches(db: Database, query: str, rows: list, batch_size: int, phase: str, progress: Progress | None) -> None:
    for start, stop in spans(len(rows), batch_size):
        chunk = rows[start:stop]
        db.write(lambda tx, c=chunk: tx.run(query, rows=c).consume())
        if progress:
            progress(phase, stop, len(rows))


def load_edges(
    conn: ConnectionSettings | Database,
    path: str | Path,
    *,
    label: str,
    rel_type: str,
    src_col: str = "src",
    dst_col: str = "dst",
    time_col: str | None = None,
    id_property: str = "id",
    batch_size: int = 20_000,
    node_properties: dict[int, dict[str, Any]] | None = None,
    progress: Progress | None = None,
) -> LoadReport:
    """Load an edge CSV into Neo4j (see the module docstring for the model).

    Parameters
    ----------
    conn : connection settings, or an open :class:`~topo_graphdb.db.Database`.
    path : CSV with a header; ``src_col``/``dst_col`` integer ids, optional ``time_col``.
    label, rel_type, id_property : names in the graph (validated and quoted).
    batch_size : rows per write transaction (1..1,000,000).
    node_properties : optional extra properties per node id (e.g. features, label).
    progress : optional callback ``(phase, done, total)``.
    """
    if not 1 <= batch_size <= 1_000_000:
        raise InputError(f"batch size must be in 1..1000000; got {batch_size}")
    q = {
        "label": quote_identifier(label, what="label"),
        "rel_type": quote_identifier(rel_type, what="relationship type"),
        "key": quote_identifier(id_property, what="id property"),
    }
    time_prop = quote_identifier(time_col, what="time column") if time_col else None
    q["rel_props"] = f"{{ {time_prop}: row[2] }}" if time_prop else ""
    t0 = time.perf_counter()
    table = read_edge_csv(path, src_col=src_col, dst_col=dst_col, time_col=time_col)
    unique_rows = _distinct_rows(table)
    duplicates = len(table) - len(unique_rows)
    extra = np.fromiter(node_properties or (), dtype=np.int64)
    node_ids = np.unique(np.concatenate([table.src, table.dst, extra]))
    timings = {"read": time.perf_counter() - t0}

    node_rows = [
        {"id": int(i), "props": (node_properties or {}).get(int(i), {})} for i in node_ids
    ]
    if time_col:
        time_values = unique_rows["t"].to_numpy()
        as_int = bool(np.all(time_values == np.round(time_values)) and np.all(np.abs(time_values) < 2**63))
        rel_rows = [[int(a), int(b), int(t) if as_int else float(t)] for a, b, t in unique_rows.itertuples(index=False)]
    else:
        rel_rows = unique_rows.to_numpy(dtype=np.int64).tolist()

    with connect(conn) as db:
        t = time.perf_counter()
        db.run(render("ensure_unique_constraint", **q))
        db.run("CALL db.awaitIndexes(300)")
        node_batch = max(1, batch_size // 10) if node_properties else batch_size
        _write_batches(db, render("load_nodes", **q), node_rows, node_batch, "nodes", progress)
        timings["nodes"] = time.perf_counter() - t
        t = time.perf_counter()
        [existing] = db.run(render("count_rels_between", **q)).records
        mode = "create" if existing["n"] == 0 else "merge"
        _write_batches(db, render(f"{mode}_rels", **q), rel_rows, batch_size, "relationships", progress)
        timings["relationships"] = time.perf_counter() - t
    return LoadReport(
        label=label,
        rel_type=rel_type,
        rows=len(table),
        nodes=len(node_rows),
        relationships=len(rel_rows),
        duplicates_skipped=int(duplicates),
        mode=mode,
        seconds=time.perf_counter() - t0,
        timings=timings,
    )


def load_dataset(
    conn: ConnectionSettings,
    name: str,
    *,
    label: str | None = None,
    rel_type: str | None = None,
    batch_size: int = 20_000,
    progress: Progress | None = None,
) -> LoadReport:
    """Load a bundled dataset; Cora becomes ``(:Paper {id, features, label})-[:CITES]->(:Paper)``.

    ``features`` is the float list of the node's feature vector and ``label``
    its integer class (absent where the source has none, e.g. Citeseer's
    padding nodes).
    """
    folder = dataset_path(name)
    info = DATASETS[name]
    props: dict[int, dict[str, Any]] | None = None
    if info.features:
        import scipy.sparse as sp  # noqa: PLC0415

        x = sp.load_npz(folder / "features.npz").toarray().astype(float)
        y = np.load(folder / "labels.npy")
        props = {}
        for i in range(x.shape[0]):
            p: dict[str, Any] = {"features": x[i].tolist()}
            if y[i] >= 0:
                p["label"] = int(y[i])
            props[i] = p
    report = load_edges(
        conn,
        folder / "edges.csv",
        label=label or info.label,
        rel_type=rel_type or info.rel_type,
        time_col=info.time_col,
        batch_size=batch_size,
        node_properties=props,
        progress=progress,
    )
    return report
