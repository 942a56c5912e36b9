"""Other clients during a sync: read latency of eight reader threads with and without a running sync.

The readers, another client in their own process, run a typical application read, a node's predicted links best first
(``MATCH (a:Label {id: $node})-[l:PREDICTED_LINK]->(b) ... ORDER BY l.rank``, through the
key index that sync creates), each thread in its own session, on random nodes, as fast as
they can. Conditions, measured one after the other against one server:

* ``idle``: the readers alone (``--idle-seconds``);
* ``sync``: the readers while ``run_sync`` re-scores the graph and rewrites its links
  (all of the sync, and its ``write`` phase alone);
* ``sync, rate limit R``: the same with ``write.rate_limit = R`` rows/s (``--rate-limit``).

A first, untimed sync writes the links the readers read. Prints a table and JSON
(``--json-out FILE`` also writes it).

    python benchmarks/readers.py --graph soc-slashdot0902 --data-dir DATA --rate-limit 20000
    python benchmarks/readers.py --graph cora
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import data_dir_help, default_data_dir, scratch_dir

from topo_graphdb._cypher import quote_identifier
from topo_graphdb.config import load_config
from topo_graphdb.connection import ConnectionSettings, open_driver

READERS = 8


def _read_loop(conn: ConnectionSettings, query: str, keys: list[int], seed: int, stop: Any, out: list, errors: list) -> None:
    rng = random.Random(seed)
    driver = open_driver(conn)
    try:
        with driver.session(database=conn.database, default_access_mode="READ") as session:
            while not stop.is_set():
                t = time.monotonic()
                try:
                    session.run(query, node=rng.choice(keys)).consume()
                except Exception:  # noqa: BLE001  (counted and reported; a benchmark keeps reading)
                    errors.append(1)
                    continue
                done = time.monotonic()
                out.append((done, done - t))
    finally:
        driver.close()


def _reader_process(conn: ConnectionSettings, query: str, keys: list[int], threads: int, seed: int, stop: Any, results: Any) -> None:
    """The readers as another client: their own process, ``threads`` threads, one session each."""
    samples: list[list[tuple[float, float]]] = [[] for _ in range(threads)]
    errors: list[int] = []
    pool = [threading.Thread(target=_read_loop, args=(conn, query, keys, seed * 1000 + i, stop, samples[i], errors))
            for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    results.put(([s for part in samples for s in part], len(errors)))


class Readers:
    """``threads`` readers in another process querying random nodes' predicted links until stopped.

    Latencies come back with their finishing times on the system's monotonic clock
    (``time.monotonic``, shared by processes), so they can be cut into windows.
    """

    def __init__(self, conn: ConnectionSettings, label: str, keys: list[int], threads: int = READERS, seed: int = 0):
        self.conn, self.keys, self.threads, self.seed = conn, keys, threads, seed
        self.query = (
            f"MATCH (a:{quote_identifier(label)} {{id: $node}})-[l:PREDICTED_LINK]->(b) "
            "RETURN b.id AS predicted, l.rank AS rank, l.score AS score ORDER BY rank"
        )
        self.samples: list[tuple[float, float]] = []  # (finished at, seconds)
        self.errors = 0
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._results = ctx.Queue()
        self._proc = ctx.Process(
            target=_reader_process, args=(conn, self.query, keys, threads, seed, self._stop, self._results), daemon=True
        )

    def __enter__(self) -> Readers:
        self._proc.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self.samples, self.errors = self._results.get()
        self._proc.join()

    def window(self, start: float = -np.inf, end: float = np.inf) -> dict[str, Any]:
        lat = np.array([s for t, s in self.samples if start <= t <= end])
        if lat.size == 0:
            return {"queries": 0, "p50_ms": None, "p99_ms": None, "per_second": 0.0}
        span = (min(end, max(t for t, _ in self.samples)) - max(start, min(t for t, _ in self.samples))) or 1.0
        return {
            "queries": int(lat.size),
            "p50_ms": round(float(np.percentile(lat, 50)) * 1e3, 2),
            "p99_ms": round(float(np.percentile(lat, 99)) * 1e3, 2),
            "per_second": round(lat.size / span, 1),
        }


def load(conn: ConnectionSettings, graph: str, data_dir: Path | None) -> tuple[str, str]:
    from topo_graphdb.loader import load_dataset, load_edges

    if graph == "cora":
        load_dataset(conn, "cora", label="ReadCora", rel_type="READ_CITES")
        return "ReadCora", "READ_CITES"
    path = (data_dir or Path(".")) / graph / "edges.csv"
    if not path.is_file():
        raise SystemExit(f"benchmark: {path} not found (pass --data-dir)")
    load_edges(conn, path, label="ReadGraph", rel_type="READ_LINKS", batch_size=50_000)
    return "ReadGraph", "READ_LINKS"


def sync_config(label: str, rel_type: str, graph: str, rate_limit: float) -> Any:
    settings: dict[str, Any] = {
        "selection.labels": [label],
        "selection.rel_types": [rel_type],
        "selection.key_property": "id",
        "predict.top_k": 10,
        "write.rate_limit": rate_limit,
        "run.backend": "cpu",
    }
    if graph == "cora":
        settings.update({"selection.feature_properties": ["features"], "score.hops": 2, "predict.epochs": 20})
    else:
        settings.update({"score.hops": 1, "predict.epochs": 3, "predict.batch_size": 65536})
    return load_config(None, overrides=settings, environ={})


def node_keys(conn: ConnectionSettings, label: str) -> list[int]:
    driver = open_driver(conn)
    try:
        with driver.session(database=conn.database) as session:
            rows = session.run(f"MATCH (a:{quote_identifier(label)})-[:PREDICTED_LINK]->() RETURN DISTINCT a.id AS id")
            return [r["id"] for r in rows]
    finally:
        driver.close()


def timed_sync(conn: ConnectionSettings, cfg: Any) -> dict[str, Any]:
    """Run one sync; its start and end and those of its write phase (monotonic clock)."""
    from topo_graphdb.pipeline import run_sync

    phases: dict[str, list[float]] = {}

    def on_phase(name: str, state: str, seconds: float | None) -> None:
        phases.setdefault(name, []).append(time.monotonic())

    t0 = time.monotonic()
    report = run_sync(conn, cfg, on_phase=on_phase)
    t1 = time.monotonic()
    write = phases.get("write", [t0, t1])
    return {"start": t0, "end": t1, "write_start": write[0], "write_end": write[-1], "links": report.written.get("links")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graph", default="cora", help="cora (bundled) or a folder name under --data-dir, e.g. soc-slashdot0902.")
    ap.add_argument("--data-dir", type=Path, default=default_data_dir(), help=data_dir_help())
    ap.add_argument("--idle-seconds", type=float, default=20.0)
    ap.add_argument("--rate-limit", type=float, default=0.0, help="Also measure a sync with this write.rate_limit (rows/s; 0 = skip).")
    ap.add_argument("--skip-unlimited", action="store_true", help="Measure only the rate-limited sync (with --rate-limit).")
    ap.add_argument("--uri", default=os.environ.get("NEO4J_URI"), help="Use a running server (default: start one).")
    ap.add_argument("--heap", default="3g")
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args(argv)

    from topo_graphdb import server

    server_dir = None
    if args.uri:
        from topo_graphdb.connection import settings_from

        conn = settings_from(uri=args.uri)
    else:
        server_dir = scratch_dir("bench-readers")
        server.start(data_dir=server_dir, port=server.free_port(), heap=args.heap, pagecache="1g", auth=False, timeout=600)
        local = server.local_connection(server_dir)
        conn = ConnectionSettings(uri=local.uri, user=local.user, password=local.password)
    rows: list[dict[str, Any]] = []
    try:
        label, rel_type = load(conn, args.graph, args.data_dir)
        from topo_graphdb.pipeline import run_sync

        run_sync(conn, sync_config(label, rel_type, args.graph, 0.0))  # the links the readers read
        keys = node_keys(conn, label)
        print(f"{len(keys):,} nodes with predicted links; {READERS} readers", file=sys.stderr)
        with Readers(conn, label, keys) as readers:
            start = time.monotonic()
            time.sleep(args.idle_seconds)  # the readers run meanwhile
        idle = readers.window(start)
        rows.append({"condition": "idle", **idle, "errors": readers.errors})
        for rate in ([] if args.skip_unlimited else [0.0]) + ([args.rate_limit] if args.rate_limit > 0 else []):
            with Readers(conn, label, keys, seed=int(rate) + 1) as readers:
                t = timed_sync(conn, sync_config(label, rel_type, args.graph, rate))
            # the samples come back when the readers stop: cut the windows now
            name = "sync" + (f", rate limit {rate:g}/s" if rate else "")
            extra = {"sync_seconds": round(t["end"] - t["start"], 1), "write_seconds": round(t["write_end"] - t["write_start"], 1),
                     "links": t["links"], "errors": readers.errors}
            rows.append({"condition": f"{name} (whole run)", **readers.window(t["start"], t["end"]), **extra})
            rows.append({"condition": f"{name} (write phase)", **readers.window(t["write_start"], t["write_end"]), **extra})
    finally:
        if server_dir is not None:
            server.stop(data_dir=server_dir)
    base = rows[0]["p99_ms"] or float("nan")
    for row in rows:
        row["p99_vs_idle"] = round(row["p99_ms"] / base, 2) if row["p99_ms"] else None
    head = ["condition", "queries", "per_second", "p50_ms", "p99_ms", "p99_vs_idle", "errors"]
    print(" | ".join(head))
    for row in rows:
        print(" | ".join(str(row.get(h)) for h in head))
    out = {"graph": args.graph, "readers": READERS, "cpus": os.cpu_count(), "loadavg": os.getloadavg(), "rows": rows}
    print(json.dumps(out, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
