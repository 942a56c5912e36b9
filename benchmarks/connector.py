"""Benchmark of the Neo4j connector: load, export, write-back, against GDS on the same server.

Measures, on soc-slashdot0902 (82,168 nodes, 870,161 directed relationships) by default:

* ``topo-graphdb load-edges``: relationships per second;
* :func:`topo_graphdb.connector.export_graph` (element ids and key property, natural and
  undirected), its relationship pass through the ``topo.export.relationships`` procedure and
  through Cypher alternately: relationships per second, client and server CPU seconds, and
  ``CALL gds.graph.project`` of the same graph in the same run;
* peak Python memory of an export (tracemalloc) against the bytes of the arrays produced;
* :func:`topo_graphdb.writeback.write_node_properties` (one float per node) and
  :func:`topo_graphdb.writeback.write_predicted_links` (10 links per node), each through the
  ``topo.write`` procedures and through Cypher statements side by side, against GDS
  writing a node property (``gds.degree.write``; and ``gds.degree.mutate`` +
  ``gds.graph.nodeProperties.write``) and relationships (``gds.knn.write``, ``writeMillis``).

By default a dedicated server is started (``--server-dir``, ``--port``, heap 4g) and
stopped at the end; ``--uri`` uses a running one instead. Prints a table and JSON
(``--json-out FILE`` also writes it).

    python benchmarks/connector.py --data-dir DATA
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import data_dir_help, default_data_dir, portable_words, scratch_dir

from topo_graphdb.connection import ConnectionSettings
from topo_graphdb.connector import GraphSpec, export_graph
from topo_graphdb.writeback import write_node_properties, write_predicted_links

LABEL = "BenchUser"
REL = "BENCH_LINKS"


class CpuMeter:
    """Wall seconds, this process's CPU seconds and (if known) the server process's CPU seconds."""

    def __init__(self, server_pid: int | None):
        import psutil

        self.server = psutil.Process(server_pid) if server_pid else None

    def _server_cpu(self) -> float:
        if self.server is None:
            return float("nan")
        t = self.server.cpu_times()
        return t.user + t.system + getattr(t, "children_user", 0) + getattr(t, "children_system", 0)

    def measure(self, fn: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
        w0, c0, s0 = time.perf_counter(), time.process_time(), self._server_cpu()
        out = fn()
        return out, {
            "wall_s": time.perf_counter() - w0,
            "client_cpu_s": time.process_time() - c0,
            "server_cpu_s": self._server_cpu() - s0,
        }


def run_cypher(conn: ConnectionSettings, text: str, **params: Any) -> list[dict[str, Any]]:
    """Run ``text`` as an auto-commit query (``CALL {} IN TRANSACTIONS`` allowed)."""
    import neo4j

    with neo4j.GraphDatabase.driver(conn.uri, auth=conn.auth) as driver, driver.session(database=conn.database) as s:
        return [r.data() for r in s.run(text, params)]


def gds_version(conn: ConnectionSettings) -> str | None:
    try:
        return str(run_cypher(conn, "RETURN gds.version() AS v")[0]["v"])
    except Exception as err:  # noqa: BLE001
        print(f"GDS is not available: {str(err).splitlines()[0][:200]}", file=sys.stderr)
        return None


def array_bytes(snap: Any) -> int:
    """Bytes of the arrays an export produces (strings of object id arrays included)."""
    total = 0
    for arr in (snap.node_ids, snap.edge_index, snap.edge_time, snap.edge_weight, snap.x, snap.y):
        if arr is None:
            continue
        total += arr.nbytes
        if arr.dtype == object:
            total += sum(sys.getsizeof(v) for v in arr.tolist())
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=default_data_dir(), help=data_dir_help("<dataset>/edges.csv"))
    ap.add_argument("--dataset", default="soc-slashdot0902")
    ap.add_argument("--uri", default=None, help="Use this server instead of starting one (no auth or NEO4J_* env).")
    ap.add_argument("--server-dir", default=None, help="Data dir of the dedicated server (default: a new temporary folder, removed at exit unless --keep-server).")
    ap.add_argument("--port", type=int, default=17911)
    ap.add_argument("--heap", default="4g")
    ap.add_argument("--pagecache", default="1g")
    ap.add_argument("--keep-server", action="store_true", help="Leave the dedicated server running (and loaded).")
    ap.add_argument("--repeat", type=int, default=2, help="Timed repetitions of each export.")
    ap.add_argument("--links-per-node", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=10_000)
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args()
    import logging

    logging.getLogger("neo4j").setLevel(logging.ERROR)  # "unknown label" notices before the load
    if not args.data_dir:
        ap.error("--data-dir is required (no default data folder here)")
    edges_csv = Path(args.data_dir) / args.dataset / "edges.csv"
    if not edges_csv.is_file():
        ap.error(f"no {edges_csv}")

    from topo_graphdb import server

    started_here = False
    if args.uri:
        from topo_graphdb.connection import settings_from

        conn = settings_from(uri=args.uri)
        server_pid = None
    else:
        if args.server_dir is None:
            args.server_dir = scratch_dir("bench-connector", keep=args.keep_server)
        st = server.status(data_dir=args.server_dir)
        if not st["running"]:
            server.start(data_dir=args.server_dir, port=args.port, heap=args.heap, pagecache=args.pagecache, auth=False,
                         timeout=900, progress=lambda m: print(m, file=sys.stderr))
            started_here = True
        st = server.status(data_dir=args.server_dir)
        conn = ConnectionSettings(uri=st["uri"])
        server_pid = st["pid"]
    meter = CpuMeter(server_pid)
    results: dict[str, Any] = {
        "dataset": args.dataset, "uri": conn.uri, "heap": args.heap, "cpu_count": os.cpu_count(),
        "load_average_start": os.getloadavg(),
    }
    class Rows(list):
        def append(self, row: tuple[str, str, str]) -> None:  # show progress as it comes
            print("  " + "  ".join(row), file=sys.stderr, flush=True)
            super().append(row)

    rows = Rows()
    try:
        # ------------------------------------------------------------------ load
        have = run_cypher(conn, f"MATCH (:{LABEL})-[r:{REL}]->() RETURN count(r) AS c")[0]["c"]
        if have == 0:
            env = dict(os.environ, NEO4J_URI=conn.uri)
            cmd = [sys.executable, "-m", "topo_graphdb", "load-edges", str(edges_csv), "--label", LABEL,
                   "--rel-type", REL, "--json"]
            (proc, load_t) = meter.measure(lambda: subprocess.run(cmd, env=env, capture_output=True, text=True, check=False))
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            rep = json.loads(proc.stdout)
            results["load"] = {**load_t, **rep, "command": " ".join(portable_words(cmd[1:], args.data_dir)),
                               "rels_per_s": rep["relationships"] / load_t["wall_s"],
                               "rels_per_s_relationship_phase": rep["relationships"] / rep["timings"]["relationships"]}
            rows.append(("load-edges", f"{rep['relationships']:,} rels in {load_t['wall_s']:.1f} s",
                         f"{results['load']['rels_per_s']:,.0f} rels/s (rel phase {results['load']['rels_per_s_relationship_phase']:,.0f}/s)"))
        else:
            results["load"] = {"skipped": f"already loaded ({have:,} relationships)"}
            rows.append(("load-edges", "skipped", f"already loaded ({have:,})"))

        # ------------------------------------------------------------------ export
        variants = {
            "elementId natural": GraphSpec(labels=LABEL, rel_types=REL, orientation="natural"),
            "key natural": GraphSpec(labels=LABEL, rel_types=REL, orientation="natural", key_property="id"),
            "elementId undirected": GraphSpec(labels=LABEL, rel_types=REL),
        }
        for use in (True, False):  # warm the page cache, query plans and the procedure
            export_graph(conn, variants["elementId natural"], use_procedures=use)
        results["export"] = {}
        snap = None
        for name, spec in variants.items():
            # the relationship pass through topo.export.relationships (when the server has it) and through
            # Cypher, alternately in each repetition
            runs: dict[str, list] = {name: [], f"{name} (cypher)": []}
            for _ in range(args.repeat):
                for way, use in ((name, True), (f"{name} (cypher)", False)):
                    snap, t = meter.measure(lambda spec=spec, use=use: export_graph(conn, spec, use_procedures=use))
                    read = snap.meta["report"]["relationships_read"]
                    runs[way].append({**t, "relationships": read, "edges": snap.num_edges, "rels_per_s": read / t["wall_s"],
                                      "rels_per_cpu_s": read / (t["client_cpu_s"] + t["server_cpu_s"]),
                                      "via": snap.meta["report"]["relationships_via"]})
            for way, way_runs in runs.items():
                best = max(way_runs, key=lambda r: r["rels_per_s"])
                results["export"][way] = {"runs": way_runs, "best": best}
                rows.append((f"export {way}", f"{best['relationships']:,} rels in {best['wall_s']:.2f} s (via {best['via']})",
                             f"{best['rels_per_s']:,.0f} rels/s (client {best['client_cpu_s']:.2f} + server {best['server_cpu_s']:.2f} CPU s)"))

        # GDS projection of the same graph
        gv = gds_version(conn)
        results["gds_version"] = gv
        if gv:
            runs = []
            for i in range(args.repeat):
                name = f"bench_{os.getpid()}_{i}"

                def project(name: str = name) -> dict[str, Any]:
                    return run_cypher(conn, "CALL gds.graph.project($g, $l, $t) YIELD relationshipCount, projectMillis "
                                      "RETURN relationshipCount, projectMillis", g=name, l=LABEL, t=REL)[0]

                out, t = meter.measure(project)
                run_cypher(conn, "CALL gds.graph.drop($g) YIELD graphName RETURN graphName", g=name)
                runs.append({**t, **out, "rels_per_s": out["relationshipCount"] / t["wall_s"]})
            best = max(runs, key=lambda r: r["rels_per_s"])
            results["gds_project"] = {"runs": runs, "best": best}
            ours = results["export"]["elementId natural"]["best"]["wall_s"]
            results["export_vs_gds_project"] = ours / best["wall_s"]
            mine = results["export"]["elementId natural"]["best"]
            results["export_vs_gds_project_cpu"] = (mine["client_cpu_s"] + mine["server_cpu_s"]) / max(best["server_cpu_s"], 1e-3)
            results["export_cypher_vs_gds_project"] = results["export"]["elementId natural (cypher)"]["best"]["wall_s"] / best["wall_s"]
            rows.append(("gds.graph.project", f"{best['relationshipCount']:,} rels in {best['wall_s']:.2f} s "
                         f"(projectMillis {best['projectMillis']})", f"{best['rels_per_s']:,.0f} rels/s; export/GDS = "
                         f"{results['export_vs_gds_project']:.2f}x wall ({results['export_cypher_vs_gds_project']:.2f}x through Cypher), "
                         f"{results['export_vs_gds_project_cpu']:.1f}x CPU"))
        else:
            rows.append(("gds.graph.project", "GDS not loaded in this server", "-"))

        # ------------------------------------------------------------------ memory
        tracemalloc.start()
        msnap = export_graph(conn, variants["elementId natural"])
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        produced = array_bytes(msnap)
        results["memory"] = {"peak_bytes": peak, "array_bytes": produced, "ratio": peak / produced}
        rows.append(("export peak memory", f"{peak / 2**20:,.1f} MiB vs arrays {produced / 2**20:,.1f} MiB",
                     f"{peak / produced:.2f}x"))
        del msnap

        # ------------------------------------------------------------------ write-back
        snap = export_graph(conn, GraphSpec(labels=LABEL, rel_types=REL, orientation="natural"))
        n = snap.num_nodes
        rng = np.random.default_rng(0)
        k = args.links_per_node
        src = np.repeat(np.arange(n), k)
        dst = (src + rng.integers(1, n, src.size)) % n
        # start from nodes without earlier results (a kept server may hold them)
        run_cypher(conn, "MATCH ()-[r:PREDICTED_LINK|PREDICTED_LINK_CYPHER|BENCH_WARM_LINK|GDS_KNN]->() "
                   "CALL (r) { DELETE r } IN TRANSACTIONS OF 50000 ROWS")
        run_cypher(conn, f"MATCH (n:{LABEL}) CALL (n) {{ REMOVE n.topo_bench_score, n.topo_bench_score_cypher, n.topo_bench_warm, "
                   "n.topo_run_id, n.topo_updated_at, n.topo_predicted, n.topo_predicted_scores, n.gds_degree, n.gds_warm, n.deg "
                   "} IN TRANSACTIONS OF 50000 ROWS")
        # the two ways of writing, side by side: the topo.write procedures (when the server has them) and Cypher
        # (Cypher first: a store that held and lost links is slower, so the order favours Cypher; each way starts
        # from nodes without links of the other, whose extra relationships would slow its lookups)
        ways = {"cypher": ("bench_score_cypher", "PREDICTED_LINK_CYPHER", False), "procedures": ("bench_score", "PREDICTED_LINK", True)}
        # warm-up of the server's JIT and query plans (a long-running server is warm), on other names
        few = src < 10_000
        for use in (True, False):
            for i in range(2):
                write_node_properties(conn, snap, {"bench_warm": rng.random(n)}, run_id=f"warm{i}", use_procedures=use)
            write_predicted_links(conn, snap, src[few], dst[few], rng.random(few.sum()), model="warm", run_id="warm",
                                  rel_type="BENCH_WARM_LINK", use_procedures=use)
        for way, (prop, _, use) in ways.items():
            for step, name in (("first", "new property"), ("again", "update")):
                rep, t = meter.measure(lambda step=step, prop=prop, use=use: write_node_properties(
                    conn, snap, {prop: rng.random(n)}, run_id=f"bench-{step}", batch_size=args.batch_size, use_procedures=use))
                key = f"write_nodes_{step}" + ("" if use else "_cypher")
                results[key] = {**t, "nodes": rep.matched, "nodes_per_s": rep.matched / t["wall_s"], "via": rep.via,
                                "nodes_per_server_cpu_s": rep.matched / t["server_cpu_s"]}
                rows.append((f"write 1 float / node ({name}, {way})", f"{rep.matched:,} nodes in {t['wall_s']:.2f} s",
                             f"{results[key]['nodes_per_s']:,.0f} nodes/s (client {t['client_cpu_s']:.2f} + server {t['server_cpu_s']:.2f} CPU s)"))
        for way, (_, rel_type, use) in ways.items():
            run_cypher(conn, "MATCH ()-[r:PREDICTED_LINK|PREDICTED_LINK_CYPHER|BENCH_WARM_LINK]->() "
                       "CALL (r) { DELETE r } IN TRANSACTIONS OF 50000 ROWS")
            for step, name in (("first", "create"), ("again", "new run, same pairs")):
                rep, t = meter.measure(lambda step=step, rel_type=rel_type, use=use: write_predicted_links(
                    conn, snap, src, dst, rng.random(src.size), model="bench", run_id=f"bench-{step}", batch_size=args.batch_size,
                    rel_type=rel_type, use_procedures=use))
                key = f"write_links_{step}" + ("" if use else "_cypher")
                results[key] = {**t, "relationships": rep.relationships, "deleted": rep.deleted, "via": rep.via,
                                "rels_per_s": rep.relationships / t["wall_s"],
                                "rels_per_server_cpu_s": rep.relationships / t["server_cpu_s"]}
                rows.append((f"write {k} links / node ({name}, {way})", f"{rep.relationships:,} rels in {t['wall_s']:.2f} s",
                             f"{results[key]['rels_per_s']:,.0f} rels/s (client {t['client_cpu_s']:.2f} + server {t['server_cpu_s']:.2f} CPU s)"))

        if gv:
            g = f"bench_w_{os.getpid()}"
            run_cypher(conn, "CALL gds.graph.project($g, $l, $t) YIELD graphName RETURN graphName", g=g, l=LABEL, t=REL)
            try:
                run_cypher(conn, "CALL gds.degree.write($g, {writeProperty: 'gds_warm'}) YIELD writeMillis RETURN 1", g=g)
                out, t = meter.measure(lambda: run_cypher(
                    conn, "CALL gds.degree.write($g, {writeProperty: 'gds_degree'}) "
                    "YIELD nodePropertiesWritten, writeMillis RETURN nodePropertiesWritten, writeMillis", g=g)[0])
                results["gds_degree_write"] = {**t, **out, "nodes_per_s": out["nodePropertiesWritten"] / t["wall_s"],
                                               "nodes_per_server_cpu_s": out["nodePropertiesWritten"] / t["server_cpu_s"],
                                               "nodes_per_s_write_only": out["nodePropertiesWritten"] / max(out["writeMillis"], 1) * 1000}
                rows.append(("gds.degree.write", f"{out['nodePropertiesWritten']:,} nodes in {t['wall_s']:.2f} s "
                             f"(writeMillis {out['writeMillis']})", f"{results['gds_degree_write']['nodes_per_s']:,.0f} nodes/s"))
                run_cypher(conn, "CALL gds.degree.mutate($g, {mutateProperty: 'deg'}) YIELD nodePropertiesWritten RETURN 1", g=g)
                out, t = meter.measure(lambda: run_cypher(
                    conn, "CALL gds.graph.nodeProperties.write($g, ['deg']) YIELD propertiesWritten, writeMillis "
                    "RETURN propertiesWritten, writeMillis", g=g)[0])
                results["gds_nodeproperties_write"] = {**t, **out, "nodes_per_s": out["propertiesWritten"] / t["wall_s"]}
                rows.append(("gds.graph.nodeProperties.write", f"{out['propertiesWritten']:,} nodes in {t['wall_s']:.2f} s",
                             f"{results['gds_nodeproperties_write']['nodes_per_s']:,.0f} nodes/s"))
                out, t = meter.measure(lambda: run_cypher(
                    conn, "CALL gds.knn.write($g, {nodeProperties: ['deg'], topK: $k, writeRelationshipType: 'GDS_KNN', "
                    "writeProperty: 'score', randomSeed: 1, concurrency: 1}) YIELD relationshipsWritten, writeMillis, computeMillis "
                    "RETURN relationshipsWritten, writeMillis, computeMillis", g=g, k=k)[0])
                results["gds_knn_write"] = {**t, **out, "rels_per_s_write_only": out["relationshipsWritten"] / max(out["writeMillis"], 1) * 1000,
                                            "rels_per_server_cpu_s_all": out["relationshipsWritten"] / t["server_cpu_s"]}
                rows.append(("gds.knn.write (relationships)", f"{out['relationshipsWritten']:,} rels, writeMillis {out['writeMillis']}",
                             f"{results['gds_knn_write']['rels_per_s_write_only']:,.0f} rels/s (write phase)"))
            except Exception as err:  # noqa: BLE001
                results["gds_write_error"] = str(err).splitlines()[0][:300]
                rows.append(("GDS write", "failed", results["gds_write_error"][:80]))
            finally:
                run_cypher(conn, "CALL gds.graph.drop($g, false) YIELD graphName RETURN graphName", g=g)
                run_cypher(conn, "MATCH ()-[r:GDS_KNN]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 50000 ROWS")
                run_cypher(conn, "MATCH ()-[r:BENCH_WARM_LINK|PREDICTED_LINK_CYPHER]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 50000 ROWS")
        results["load_average_end"] = os.getloadavg()
    finally:
        if started_here and not args.keep_server:
            server.stop(data_dir=args.server_dir)
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(results, indent=2, default=str))

    width = max(len(r[0]) for r in rows)
    print(f"\nconnector benchmark: {args.dataset} on {conn.uri} (heap {args.heap}; {os.cpu_count()} CPUs; "
          f"load average {results['load_average_start'][0]:.1f} at start)")
    for name, what, rate in rows:
        print(f"  {name:<{width}}  {what:<48}  {rate}")
    text = json.dumps(results, indent=2, default=str)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
