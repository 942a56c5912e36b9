"""`topo-graphdb sync` against the real server: what it writes, the ledger, the lock, crashes,
incremental runs, drift, errors and the run-management commands.

The graph is the bundled tortoise contact network (787 nodes, 1,197 undirected edges, the year
of each contact on the relationship), loaded under a fresh label. Expected TC values come from
the naive oracle (``kernels.oracle.naive_tc``) on edges read back with a plain Cypher query.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from topo_graphdb._cypher import quote_identifier
from topo_graphdb.kernels.oracle import naive_tc
from topo_graphdb.loader import dataset_path, load_edges

REL = "MEETS"
SPLIT_YEAR = 2011


# --------------------------------------------------------------------------- helpers
def write_config(tmp_path: Path, label: str, **sections: dict[str, Any]) -> Path:
    base: dict[str, dict[str, Any]] = {
        "selection": {"labels": [label], "rel_types": [REL], "key_property": "id", "timestamp_property": "t"},
        "score": {"hops": 2, "atc_dim": 32, "seed": 0},
        "predict": {"epochs": 2, "hidden": 32, "top_k": 5, "device": "cpu"},
        "write": {"batch_size": 2000},
        "run": {"backend": "cpu", "lock_ttl": 30},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    lines = []
    for name, values in base.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path = tmp_path / f"sync-{label}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def load_reptile(conn: Any, label: str, tmp_path: Path, *, until: int | None = None, after: int | None = None) -> None:
    with open(dataset_path("reptile") / "edges.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if (until is None or int(r["t"]) <= until) and (after is None or int(r["t"]) > after)]
    path = tmp_path / f"reptile-{until}-{after}.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["src", "dst", "t"])
        w.writeheader()
        w.writerows(keep)
    load_edges(conn, path, label=label, rel_type=REL, time_col="t")


def rows(driver: Any, conn: Any, query: str, **params: Any) -> list[dict[str, Any]]:
    with driver.session(database=conn.database) as s:
        return [r.data() for r in s.run(query, **params)]


def graph(driver: Any, conn: Any, label: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node ids (sorted), undirected edges as dense indices, earliest time per edge (plain Cypher)."""
    q = quote_identifier(label)
    ids = np.array(sorted(r["id"] for r in rows(driver, conn, f"MATCH (n:{q}) RETURN n.id AS id")))
    pairs: dict[tuple[int, int], float] = {}
    for r in rows(driver, conn, f"MATCH (a:{q})-[r:{REL}]->(b:{q}) RETURN a.id AS a, b.id AS b, r.t AS t"):
        if r["a"] == r["b"]:
            continue
        key = (min(r["a"], r["b"]), max(r["a"], r["b"]))
        pairs[key] = min(pairs.get(key, float("inf")), float(r["t"]))
    keys = sorted(pairs)
    index = {v: i for i, v in enumerate(ids.tolist())}
    edges = np.array([[index[a] for a, _ in keys], [index[b] for _, b in keys]], dtype=np.int64).reshape(2, -1)
    times = np.array([pairs[k] for k in keys])
    return ids, edges, times


def state(driver: Any, conn: Any, label: str) -> tuple[dict, dict]:
    """Everything sync wrote on the label, apart from run ids and timestamps."""
    q = quote_identifier(label)
    nodes = {
        r["id"]: {k: v for k, v in r["p"].items() if k.startswith("topo_") and k not in ("topo_run_id", "topo_updated_at")}
        for r in rows(driver, conn, f"MATCH (n:{q}) RETURN n.id AS id, properties(n) AS p")
    }
    links = {}
    for r in rows(driver, conn, f"MATCH (a:{q})-[l:PREDICTED_LINK]->(b) RETURN a.id AS a, b.id AS b, l.score AS s, l.rank AS k, "
                                "l.model AS m, l.probability AS p, l.tc AS tc"):
        assert (r["a"], r["b"]) not in links, "duplicate predicted link"
        links[(r["a"], r["b"])] = (r["s"], r["k"], r["m"], r["p"], r["tc"])
    return nodes, links


def runs_of(driver: Any, conn: Any, label: str) -> list[dict[str, Any]]:
    return [
        r["r"]
        for r in rows(
            driver, conn, "MATCH (r:TopoRun) WHERE r.selection CONTAINS $l RETURN r {.*} AS r ORDER BY r.started_at", l=f'"{label}"'
        )
    ]


def lock_of(driver: Any, conn: Any, label: str) -> dict[str, Any] | None:
    runs = runs_of(driver, conn, label)
    if not runs:
        return None
    found = rows(driver, conn, "MATCH (l:TopoLock {scope: $s}) RETURN l {.*} AS l", s=runs[0]["scope"])
    return found[0]["l"] if found else None


def popen(neo4j_conn: Any, *args: Any, env: dict[str, str] | None = None) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "TOPO_SYNC_"))}
    full.update(NEO4J_URI=neo4j_conn.uri, NEO4J_USER=neo4j_conn.user, NEO4J_DATABASE=neo4j_conn.database)
    if neo4j_conn.password is not None:
        full["NEO4J_PASSWORD"] = neo4j_conn.password
    full.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "topo_graphdb", *map(str, args)],
        env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def sync_json(cli: Any, *args: Any, env: dict[str, str] | None = None) -> dict[str, Any]:
    res = cli("sync", *args, "--json", "-q", env=env)
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def wait_for(cond: Any, what: str, proc: subprocess.Popen, timeout: float = 600) -> None:
    """Poll ``cond()`` until it holds; fail when ``proc`` ends first or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"the sync ended before {what}: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def assert_no_running(driver: Any, conn: Any, label: str) -> None:
    assert [r["run_id"] for r in runs_of(driver, conn, label) if r["status"] == "running"] == []


# --------------------------------------------------------------------------- tests
def test_sync_writes_scores_links_and_ledger(neo4j_conn, neo4j_driver, unique_label, cli, tmp_path):
    load_reptile(neo4j_conn, unique_label, tmp_path)
    cfg = write_config(tmp_path, unique_label)

    dry = sync_json(cli, "--config", cfg, "--dry-run", "--only", "score")
    assert dry["dry_run"] and dry["written"]["nodes"] == 787
    assert state(neo4j_driver, neo4j_conn, unique_label) == ({i: {} for i in range(1, 788)}, {})
    assert runs_of(neo4j_driver, neo4j_conn, unique_label) == []

    cache_env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}  # the trained-model cache of this test only
    res = cli("sync", "--config", cfg, "--json", env=cache_env)
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)  # stdout holds only the JSON summary; progress went to stderr
    assert report["metrics"]["model_cache"] == report["metrics"]["trust_cache"] == "miss"
    assert "[export]" in res.stderr and "[write] done" in res.stderr
    assert report["status"] == "succeeded" and report["mode"] == "full"
    ids, edges, _ = graph(neo4j_driver, neo4j_conn, unique_label)
    n = ids.size
    degree = np.bincount(edges.reshape(-1), minlength=n)
    beta = n / degree.sum()
    assert (report["nodes"], report["edges"]) == (n, edges.shape[1]) == (787, 1197)
    assert report["beta"] == pytest.approx(beta, rel=1e-12)
    assert set(report["timings"]) >= {"export", "score", "train", "predict", "write"}

    expected = naive_tc(edges, hops=2, beta=beta, num_nodes=n)
    nodes, links = state(neo4j_driver, neo4j_conn, unique_label)
    for i, node_id in enumerate(ids.tolist()):
        p = nodes[node_id]
        if np.isnan(expected[i]):
            assert "topo_tc" not in p  # undefined: the property is absent, never 0
        else:
            assert p["topo_tc"] == pytest.approx(expected[i], rel=1e-12)
        assert p["topo_degree"] == degree[i]
        assert p["topo_tc_hops"] == 2 and p["topo_tc_beta"] == pytest.approx(beta, rel=1e-12)
    run_ids = {r["id"] for r in rows(neo4j_driver, neo4j_conn, f"MATCH (n:{unique_label}) RETURN DISTINCT n.topo_run_id AS id")}
    assert run_ids == {report["run_id"]}

    # predicted links: at most top_k per node, never to itself or an existing neighbour, ranked by score
    neighbours = {(int(ids[a]), int(ids[b])) for a, b in edges.T} | {(int(ids[b]), int(ids[a])) for a, b in edges.T}
    assert links and not any(a == b or (a, b) in neighbours for a, b in links)
    per_source: dict[int, list[tuple[int, float]]] = {}
    for (a, _b), (score, rank, model, _p, _tc) in links.items():
        per_source.setdefault(a, []).append((rank, score))
        assert model == "gcn"
    for ranked in per_source.values():
        ranked.sort()
        assert [r for r, _ in ranked] == list(range(1, len(ranked) + 1)) and len(ranked) <= 5
        assert all(ranked[k][1] >= ranked[k + 1][1] for k in range(len(ranked) - 1))

    # trust: a probability in [0, 1] and the pair's TC on every link; a node's expected precision is
    # the sum of its links' probabilities over top_k; the check ran on the most recent edges
    probs: dict[int, list[float]] = {}
    for (a, _b), (_s, _r, _m, prob, tc) in links.items():
        assert 0.0 <= prob <= 1.0 and tc is not None and tc >= 0.0
        probs.setdefault(a, []).append(prob)
    assert set(probs) == {i for i in nodes if "topo_expected_precision" in nodes[i]}
    for a, ps in probs.items():
        assert nodes[a]["topo_expected_precision"] == pytest.approx(sum(ps) / 5, rel=1e-9)
    m = report["metrics"]
    assert m["trust_split"] == "temporal" and m["trust_heldout_edges"] == pytest.approx(0.1 * 1197, abs=2)
    assert 0.0 <= m["trust_ece"] <= 1.0 and 0.0 <= m["trust_brier"] <= 1.0 and m["trust_nodes"] > 0

    # the ledger: one finished run, the lock free
    [run] = runs_of(neo4j_driver, neo4j_conn, unique_label)
    assert run["run_id"] == report["run_id"] and run["status"] == "succeeded"
    assert (run["nodes"], run["edges"], run["mode"], run["hops"]) == (787, 1197, "full", 2)
    assert run["params_hash"] and run["version_topo_graphdb"] and run["seconds"] > 0
    assert run["watermark"] == 2013 and run["finished_at"] >= run["started_at"]
    assert bytes(run["figure_reliability_png"]).startswith(b"\x89PNG") and bytes(run["figure_lift_png"]).startswith(b"\x89PNG")
    assert json.loads(run["trust_report"])["nodes"]["evaluated"] == m["trust_nodes"]
    # the relationships have times: the calibrator read how recently each end was active
    assert {"age_src", "age_dst", "log_recent_src", "log_recent_dst", "path2_age"} <= set(json.loads(run["trust_report"])["features"])
    assert lock_of(neo4j_driver, neo4j_conn, unique_label).get("owner") is None

    # runs / runs show / drift / clean --keep-runs
    listed = json.loads(cli("runs", "--json", "--config", cfg).stdout)
    assert [r["run_id"] for r in listed] == [report["run_id"]]
    shown = cli("runs", "show", report["run_id"][:22])
    assert shown.exit_code == 0 and report["run_id"] in shown.stdout and "params_hash" in shown.stdout
    assert cli("runs", "show", "no-such-run").exit_code == 3

    # a re-run with the same settings writes the same values: trained again, from the model cache,
    # and with TC, ATC and pair TC on a local Dask cluster of two processes
    for args, cache in ((["--set", "compute.model_cache=false"], "off"), ([], "hit"), (["--scheduler", "local:2"], "hit")):
        again = sync_json(cli, "--config", cfg, *args, env=cache_env)
        assert again["status"] == "succeeded" and again["metrics"]["model_cache"] == again["metrics"]["trust_cache"] == cache
        assert state(neo4j_driver, neo4j_conn, unique_label) == (nodes, links)


def test_sigkill_during_write_back_then_rerun_converges(neo4j_conn, neo4j_driver, unique_label, cli, tmp_path):
    load_reptile(neo4j_conn, unique_label, tmp_path)
    cfg = write_config(tmp_path, unique_label, write={"batch_size": 100, "rate_limit": 200})
    proc = popen(neo4j_conn, "sync", "--config", cfg, "-q")
    q = quote_identifier(unique_label)

    def written() -> int:
        return rows(neo4j_driver, neo4j_conn, f"MATCH (n:{q}) WHERE n.topo_run_id IS NOT NULL RETURN count(n) AS c")[0]["c"]

    wait_for(lambda: written() >= 200, "200 nodes written", proc)
    proc.send_signal(signal.SIGSTOP)  # frozen mid-write: it cannot finish before the kill
    proc.send_signal(signal.SIGKILL)
    proc.communicate()  # reaps it and closes its pipes
    assert 200 <= written() < 787  # killed in the middle of the write-back
    [dead] = runs_of(neo4j_driver, neo4j_conn, unique_label)
    assert dead["status"] == "running" and dead["phase"] == "write"
    assert lock_of(neo4j_driver, neo4j_conn, unique_label)["run_id"] == dead["run_id"]

    # the next run takes over the dead process's lock at once and marks its run failed
    res = cli("sync", "--config", cfg, "--set", "write.rate_limit=0", "--set", "write.batch_size=2000")
    assert res.exit_code == 0, res.stderr
    assert f"marked run {dead['run_id']} failed" in res.stderr
    first, second = runs_of(neo4j_driver, neo4j_conn, unique_label)
    assert first["run_id"] == dead["run_id"] and first["status"] == "failed" and "no longer running" in first["error"]
    assert second["status"] == "succeeded"
    assert lock_of(neo4j_driver, neo4j_conn, unique_label).get("owner") is None
    recovered = state(neo4j_driver, neo4j_conn, unique_label)

    # the same final state as a clean, uninterrupted run (same seed, CPU)
    removed = cli("query", "--write", "-f", Path(__file__).parents[2] / "cypher" / "remove_all.cypher", "--param", f"label={unique_label}")
    assert removed.exit_code == 0, removed.stderr
    assert state(neo4j_driver, neo4j_conn, unique_label) == ({i: {} for i in range(1, 788)}, {})
    res = cli("sync", "--config", cfg, "--set", "write.rate_limit=0")
    assert res.exit_code == 0, res.stderr
    clean = state(neo4j_driver, neo4j_conn, unique_label)
    assert clean[0] == recovered[0]
    assert clean[1] == recovered[1]


def test_two_syncs_at_once_exactly_one_runs(neo4j_conn, neo4j_driver, unique_label, cli, tmp_path):
    load_reptile(neo4j_conn, unique_label, tmp_path)
    cfg = write_config(tmp_path, unique_label, run={"only": "score", "lock_ttl": 600},
                       write={"batch_size": 100, "rate_limit": 100})
    procs = [popen(neo4j_conn, "sync", "--config", cfg, "-q") for _ in range(2)]
    # once one of them holds the lock (its run is recorded), it is frozen until the other has
    # given up: the loser cannot arrive after the winner finished
    running = lambda: [r for r in runs_of(neo4j_driver, neo4j_conn, unique_label) if r["status"] == "running"]  # noqa: E731
    deadline = time.monotonic() + 600
    while not running() and time.monotonic() < deadline and all(p.poll() is None for p in procs):
        time.sleep(0.2)
    holder = lock_of(neo4j_driver, neo4j_conn, unique_label)
    assert running() and holder and holder.get("owner"), [p.communicate() for p in procs]
    [winner] = [p for p in procs if p.pid == holder["pid"]]
    [loser] = [p for p in procs if p is not winner]
    winner.send_signal(signal.SIGSTOP)
    try:
        loser.communicate(timeout=900)
    finally:
        winner.send_signal(signal.SIGCONT)
    outs = [p.communicate(timeout=900) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 10], outs
    loser = outs[[p.returncode for p in procs].index(10)][1]
    assert "error: another sync is running on this database and selection" in loser
    assert len(loser.strip().splitlines()) == 1
    runs = runs_of(neo4j_driver, neo4j_conn, unique_label)
    assert [r["status"] for r in runs] == ["succeeded"]

    # with --wait the second one waits for the first and then runs
    procs = [popen(neo4j_conn, "sync", "--config", cfg, "-q", "--wait") for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    runs = runs_of(neo4j_driver, neo4j_conn, unique_label)[1:]
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    assert runs[0]["finished_at"] <= runs[1]["started_at"]


def test_incremental_run_rescores_only_affected_nodes_and_records_drift(neo4j_conn, neo4j_driver, unique_label, cli, tmp_path):
    load_reptile(neo4j_conn, unique_label, tmp_path, until=SPLIT_YEAR)
    cfg = write_config(tmp_path, unique_label, run={"drift_threshold": 0.99, "drift_action": "warn"})
    first = sync_json(cli, "--config", cfg)
    assert first["mode"] == "full" and first["drift"] == {}
    old_ids, old_edges, _ = graph(neo4j_driver, neo4j_conn, unique_label)

    load_reptile(neo4j_conn, unique_label, tmp_path, after=SPLIT_YEAR)  # new relationships with later years
    res = cli("sync", "--config", cfg, "--since", "last", "--json", "-q")
    assert res.exit_code == 0, res.stderr  # warn only
    second = json.loads(res.stdout)
    assert second["mode"] == "incremental" and second["beta"] == first["beta"]

    ids, edges, times = graph(neo4j_driver, neo4j_conn, unique_label)
    n = ids.size
    new = edges[:, times > SPLIT_YEAR]
    assert new.shape[1] > 0 and second["metrics"]["new_edges"] == new.shape[1]
    # affected, from the definition: both ends of a new edge within 2 hops (plain BFS)
    adj = [set() for _ in range(n)]
    for a, b in edges.T.tolist():
        adj[a].add(b)
        adj[b].add(a)

    def within(src: int, k: int) -> set[int]:
        seen, frontier = {src}, {src}
        for _ in range(k):
            frontier = {v for u in frontier for v in adj[u]} - seen
            seen |= frontier
        return seen

    affected: set[int] = set()
    for a, b in new.T.tolist():
        affected |= within(a, 2) & within(b, 2)
    assert second["rescored"] == len(affected) < n

    # the result equals a full re-score with the pinned beta ...
    expected = naive_tc(edges, hops=2, beta=first["beta"], num_nodes=n)
    nodes, links = state(neo4j_driver, neo4j_conn, unique_label)
    for i, node_id in enumerate(ids.tolist()):
        if np.isnan(expected[i]):
            assert "topo_tc" not in nodes[node_id]
        else:
            assert nodes[node_id]["topo_tc"] == pytest.approx(expected[i], rel=1e-12)
    # ... and only the affected nodes were written (and got new predicted links)
    q = quote_identifier(unique_label)
    by_run = {r["id"]: r["run"] for r in rows(neo4j_driver, neo4j_conn, f"MATCH (n:{q}) RETURN n.id AS id, n.topo_run_id AS run")}
    rewritten = {int(ids[i]) for i in affected}
    assert {i for i, r in by_run.items() if r == second["run_id"]} == rewritten
    assert {r for i, r in by_run.items() if i not in rewritten} <= {first["run_id"], None}
    link_runs = rows(neo4j_driver, neo4j_conn, f"MATCH (a:{q})-[l:PREDICTED_LINK]->() RETURN a.id AS a, l.run_id AS r")
    assert {x["a"] for x in link_runs if x["r"] == second["run_id"]} <= rewritten

    # drift: the new edges against the graph as of the first run, with its beta
    index = {v: i for i, v in enumerate(ids.tolist())}
    old = np.array([[index[int(old_ids[a])] for a in old_edges[0]], [index[int(old_ids[b])] for b in old_edges[1]]])
    gained = np.unique(new)
    tc_new = naive_tc(old, new, hops=2, beta=first["beta"], num_nodes=n)[gained]
    tc_train = naive_tc(old, hops=2, beta=first["beta"], num_nodes=n)[gained]
    both = ~np.isnan(tc_new) & ~np.isnan(tc_train)
    [_, run] = runs_of(neo4j_driver, neo4j_conn, unique_label)
    assert run["drift_new_edges"] == new.shape[1] and run["drift_nodes"] == gained.size
    assert run["drift_nodes_compared"] == both.sum()
    assert run["drift_tc_new"] == pytest.approx(tc_new[both].mean(), rel=1e-9)
    assert run["drift_tc_train"] == pytest.approx(tc_train[both].mean(), rel=1e-9)
    assert run["drift_since_run"] == first["run_id"] and run["drift_alert"] is True
    assert "drift:" in " ".join(second["warnings"])
    history = cli("drift", "--config", cfg)
    assert history.exit_code == 0 and second["run_id"] in history.stdout
    assert cli("drift", "--config", cfg, "--threshold", "0.99").exit_code == 11

    # nothing new since: an incremental run that re-scores, trains and writes nothing
    idle = sync_json(cli, "--config", cfg, "--since", "last")
    assert idle["mode"] == "incremental" and idle["rescored"] == 0
    assert "train" not in idle["timings"] and "write" not in idle["timings"] and idle["drift"]["drift_new_edges"] == 0

    # a deleted relationship cannot be seen by a watermark: full run. A new relationship between two
    # nodes whose 2-hop neighbourhoods do not meet has TC^New = 0: with drift action "fail", exit 11.
    # the only relationship between its two nodes, so that the undirected graph loses an edge (deleting one
    # of two parallel relationships may leave the graph, and so TC, unchanged: an incremental run is right then)
    rows(neo4j_driver, neo4j_conn, f"MATCH (x:{q})-[r:{REL}]->(y:{q}) WHERE NOT EXISTS {{ (x)-[s:{REL}]-(y) WHERE s <> r }} "
         "WITH r LIMIT 1 DELETE r")
    deg = np.bincount(edges.reshape(-1), minlength=n)
    a = next(i for i in range(n) if deg[i] >= 2)
    b = next(j for j in range(n) if deg[j] >= 2 and not within(a, 2) & within(j, 2))
    rows(neo4j_driver, neo4j_conn, f"MATCH (x:{q} {{id: $a}}), (y:{q} {{id: $b}}) CREATE (x)-[:{REL} {{t: 2014}}]->(y)",
         a=int(ids[a]), b=int(ids[b]))
    res = cli("sync", "--config", cfg, "--since", "last", "--drift-action", "fail", "--json", "-q")
    assert res.exit_code == 11 and "error: new relationships are much less concentrated" in res.stderr
    third = json.loads(res.stdout)  # the summary is still printed
    assert third["mode"] == "full" and "cannot see" in third["mode_reason"]
    assert third["drift"]["drift_new_edges"] == 1 and third["drift"]["drift_ratio"] == 0.0
    assert runs_of(neo4j_driver, neo4j_conn, unique_label)[-1]["status"] == "succeeded"  # recorded before the alert


def test_errors_are_one_line_with_documented_codes_and_leave_no_running_run(neo4j_conn, neo4j_driver, unique_label, cli, tmp_path):
    cfg = write_config(tmp_path, unique_label, run={"only": "score"})
    bad = cli("sync", "--config", cfg, "-q", env={"NEO4J_PASSWORD": "not-the-password"})
    assert bad.exit_code == 5 and bad.stderr.startswith("error: authentication failed")
    assert len(bad.stderr.strip().splitlines()) == 1 and "not-the-password" not in bad.stderr
    assert runs_of(neo4j_driver, neo4j_conn, unique_label) == []

    unknown = cli("sync", "--config", cfg, "-q")  # nothing carries the label yet
    assert unknown.exit_code == 3 and unknown.stderr.startswith("error: unknown label")
    assert len(unknown.stderr.strip().splitlines()) == 1
    [run] = runs_of(neo4j_driver, neo4j_conn, unique_label)
    assert run["status"] == "failed" and "unknown label" in run["error"]

    rows(neo4j_driver, neo4j_conn, f"CREATE (:{quote_identifier(unique_label)} {{id: 1}})")
    # the relationship type and its time property exist elsewhere (between other nodes), so only
    # the selection is empty
    other = quote_identifier(unique_label + "_other")
    rows(neo4j_driver, neo4j_conn, f"CREATE (:{other})-[:MEETS {{t: 2000}}]->(:{other})")
    try:
        empty = cli("sync", "--config", cfg, "-q")
    finally:
        rows(neo4j_driver, neo4j_conn, f"MATCH (n:{other}) DETACH DELETE n")
    assert empty.exit_code == 3 and empty.stderr.startswith("error: the selection holds 1 nodes but no relationships")
    assert len(empty.stderr.strip().splitlines()) == 1
    assert_no_running(neo4j_driver, neo4j_conn, unique_label)
    assert lock_of(neo4j_driver, neo4j_conn, unique_label).get("owner") is None

    usage = cli("sync", "--config", cfg, "--hops", "9")
    assert usage.exit_code == 3 and usage.stderr.strip() == "error: --hops must be an integer in 1..4; got 9"


def test_max_runtime_stops_the_run_cleanly(neo4j_conn, neo4j_driver, unique_label, cli, tmp_path):
    load_reptile(neo4j_conn, unique_label, tmp_path)
    cfg = write_config(tmp_path, unique_label, run={"only": "score"}, write={"batch_size": 50, "rate_limit": 100})
    res = cli("sync", "--config", cfg, "--max-runtime", "4s", "-q")
    assert res.exit_code == 12, res.stderr
    assert "--max-runtime 4 s reached" in res.stderr
    [run] = runs_of(neo4j_driver, neo4j_conn, unique_label)
    assert run["status"] == "failed" and "max-runtime" in run["error"]
    assert lock_of(neo4j_driver, neo4j_conn, unique_label).get("owner") is None


def test_sigterm_records_the_run_as_failed_and_releases_the_lock(neo4j_conn, neo4j_driver, unique_label, tmp_path):
    load_reptile(neo4j_conn, unique_label, tmp_path)
    cfg = write_config(tmp_path, unique_label, run={"only": "score"}, write={"batch_size": 50, "rate_limit": 100})
    proc = popen(neo4j_conn, "sync", "--config", cfg, "-q")

    def phase() -> str | None:
        runs = runs_of(neo4j_driver, neo4j_conn, unique_label)
        return runs[0].get("phase") if runs else None

    wait_for(lambda: phase() == "write", "the write phase", proc)
    proc.send_signal(signal.SIGSTOP)  # frozen in the write phase until the signal is queued
    assert phase() == "write" and runs_of(neo4j_driver, neo4j_conn, unique_label)[0]["status"] == "running"
    proc.send_signal(signal.SIGTERM)  # what Kubernetes, systemd and Airflow send
    proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().splitlines()[-1].startswith("error: interrupted"), (proc.returncode, err)
    [run] = runs_of(neo4j_driver, neo4j_conn, unique_label)
    assert run["status"] == "failed" and "interrupted" in run["error"] and run["phase"] == "write"
    assert lock_of(neo4j_driver, neo4j_conn, unique_label).get("owner") is None


def test_lock_left_by_another_host_expires(neo4j_conn, neo4j_driver, unique_label, cli, tmp_path):
    load_reptile(neo4j_conn, unique_label, tmp_path)
    cfg = write_config(tmp_path, unique_label, run={"only": "score", "lock_ttl": 10})
    first = sync_json(cli, "--config", cfg)
    scope = first["scope"]
    # a run on another machine that died: its lock is only renewed until it stops
    rows(
        neo4j_driver, neo4j_conn,
        "CREATE (:TopoRun {run_id: 'ghost-' + $s, scope: $s, status: 'running', started_at: datetime(), selection: $sel}) "
        "WITH 1 AS x MATCH (l:TopoLock {scope: $s}) "
        "SET l.owner = 'ghost', l.run_id = 'ghost-' + $s, l.host = 'elsewhere', l.pid = 1, "
        "    l.heartbeat_at = timestamp(), l.expires_at = timestamp() + 6000",
        s=scope, sel=f'["{unique_label}"]',
    )
    held = cli("sync", "--config", cfg, "-q")
    assert held.exit_code == 10 and "run ghost-" in held.stderr and "elsewhere" in held.stderr
    waited = cli("sync", "--config", cfg, "-q", "--wait", "--wait-timeout", "60s")
    assert waited.exit_code == 0, waited.stderr
    ghost = rows(neo4j_driver, neo4j_conn, "MATCH (r:TopoRun {run_id: 'ghost-' + $s}) RETURN r {.*} AS r", s=scope)[0]["r"]
    assert ghost["status"] == "failed" and "stopped renewing its lock" in ghost["error"]


def test_clean_keep_runs_and_all(neo4j_conn, neo4j_driver, unique_label, cli, tmp_path):
    load_reptile(neo4j_conn, unique_label, tmp_path)
    cfg = write_config(tmp_path, unique_label, run={"only": "score"})
    a, b, c = (sync_json(cli, "--config", cfg) for _ in range(3))
    q = quote_identifier(unique_label)
    # run a left a stale link behind; node 2 still carries run b's values (as after an incremental run)
    rows(neo4j_driver, neo4j_conn, f"MATCH (x:{q} {{id: 1}}), (y:{q} {{id: 700}}) CREATE (x)-[:PREDICTED_LINK {{run_id: $r}}]->(y)", r=a["run_id"])
    rows(neo4j_driver, neo4j_conn, f"MATCH (x:{q} {{id: 2}}) SET x.topo_run_id = $r", r=b["run_id"])
    res = cli("clean", "--keep-runs", "1", "--config", cfg, "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["links_deleted"] >= 1 and report["runs_kept_live"] >= 1
    assert [r["run_id"] for r in runs_of(neo4j_driver, neo4j_conn, unique_label)] == [b["run_id"], c["run_id"]]
    assert rows(neo4j_driver, neo4j_conn, "MATCH ()-[l:PREDICTED_LINK {run_id: $r}]->() RETURN count(l) AS c", r=a["run_id"])[0]["c"] == 0

    rows(neo4j_driver, neo4j_conn, f"MATCH (x:{q} {{id: 1}}), (y:{q} {{id: 700}}) CREATE (x)-[:PREDICTED_LINK {{run_id: $r}}]->(y)", r=c["run_id"])
    dry = json.loads(cli("clean", "--all", "--dry-run", "--json", "--config", cfg).stdout)
    assert dry["links_deleted"] >= 1 and dry["properties_removed"]["topo_tc"] > 0
    assert state(neo4j_driver, neo4j_conn, unique_label)[1]  # a dry run removes nothing
    res = cli("clean", "--all", "--yes", "--config", cfg)
    assert res.exit_code == 0, res.stderr
    assert state(neo4j_driver, neo4j_conn, unique_label) == ({i: {} for i in range(1, 788)}, {})
    assert rows(neo4j_driver, neo4j_conn, "MATCH (r) WHERE r:TopoRun OR r:TopoLock RETURN count(r) AS c")[0]["c"] == 0
    names = [r["name"] for r in rows(neo4j_driver, neo4j_conn, "SHOW CONSTRAINTS YIELD name RETURN name")]
    assert not [x for x in names if x.startswith("topo_")]
