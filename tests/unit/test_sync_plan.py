"""Pure parts of sync: affected nodes, TC of a node subset, drift, run planning, lock states."""

from __future__ import annotations

import numpy as np
import pytest
from graphs import simple, uniform_edges

from topo_graphdb.errors import InputError
from topo_graphdb.kernels.incremental import affected_nodes, drift_stats, tc_for_nodes
from topo_graphdb.kernels.oracle import naive_tc
from topo_graphdb.ledger import lock_state, to_properties
from topo_graphdb.pipeline import plan_run, split_by_time


def random_graph(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    return simple(uniform_edges(n, m, rng), n)


def naive_distances(edges: np.ndarray, n: int, source: int) -> dict[int, int]:
    adj: dict[int, set[int]] = {i: set() for i in range(n)}
    for a, b in edges.T.tolist():
        adj[a].add(b)
        adj[b].add(a)
    dist = {source: 0}
    frontier = [source]
    while frontier:
        nxt = []
        for u in frontier:
            for v in adj[u]:
                if v not in dist:
                    dist[v] = dist[u] + 1
                    nxt.append(v)
        frontier = nxt
    return dist


def naive_affected(edges: np.ndarray, new: np.ndarray, n: int, hops: int) -> set[int]:
    """Straight from the definition: i with both ends of a new edge within `hops` of i."""
    out = set()
    for a, b in new.T.tolist():
        da = naive_distances(edges, n, a)
        db = naive_distances(edges, n, b)
        out |= {i for i in range(n) if da.get(i, 99) <= hops and db.get(i, 99) <= hops}
    return out


def test_affected_nodes_on_a_path():
    path = np.array([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    new = np.array([[4], [5]])
    assert np.flatnonzero(affected_nodes(path, new, 6, hops=1)).tolist() == [4, 5]
    assert np.flatnonzero(affected_nodes(path, new, 6, hops=2)).tolist() == [3, 4, 5]
    assert np.flatnonzero(affected_nodes(path, new, 6, hops=3)).tolist() == [2, 3, 4, 5]
    # a triangle closed by the new edge: the common neighbour is affected at K = 1
    tri = np.array([[0, 1, 0], [1, 2, 2]])
    assert np.flatnonzero(affected_nodes(tri, np.array([[0], [2]]), 4, hops=1)).tolist() == [0, 1, 2]
    assert not affected_nodes(path, np.zeros((2, 0), np.int64), 6, hops=2).any()
    with pytest.raises(InputError, match="hops must be an integer >= 1"):
        affected_nodes(path, new, 6, hops=0)


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_affected_nodes_match_naive_definition_and_cover_every_change(hops):
    rng = np.random.default_rng(hops)
    for _ in range(15):
        n = int(rng.integers(8, 40))
        edges = random_graph(rng, n, int(rng.integers(n, 3 * n)))
        pick = rng.choice(edges.shape[1], size=min(3, edges.shape[1]), replace=False)
        new = edges[:, pick]
        old = np.delete(edges, pick, axis=1)
        got = affected_nodes(edges, new, n, hops=hops, batch=2)
        assert set(np.flatnonzero(got).tolist()) == naive_affected(edges, new, n, hops)
        beta = float(rng.uniform(0.2, 1.0))
        before = naive_tc(old, hops=hops, beta=beta, num_nodes=n)
        after = naive_tc(edges, hops=hops, beta=beta, num_nodes=n)
        changed = ~(np.isclose(before, after, rtol=1e-12, atol=0) | (np.isnan(before) & np.isnan(after)))
        assert not (changed & ~got).any()


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_tc_for_nodes_equals_a_whole_graph_run(hops):
    from topo_graphdb.kernels.tc import topological_concentration

    rng = np.random.default_rng(10 + hops)
    for _ in range(10):
        n = int(rng.integers(20, 80))
        edges = random_graph(rng, n, int(rng.integers(n, 3 * n)))
        beta = float(rng.uniform(0.1, 1.0))
        nodes = np.sort(rng.choice(n, size=5, replace=False))
        full = topological_concentration(edges, hops=hops, beta=beta, num_nodes=n, backend="cpu").tc
        part = tc_for_nodes(edges, nodes, n, hops=hops, beta=beta, backend="cpu", full_share=1.01)
        np.testing.assert_array_equal(part, full[nodes])  # bit for bit, NaN where undefined
        np.testing.assert_allclose(part, naive_tc(edges, hops=hops, beta=beta, num_nodes=n)[nodes], rtol=1e-12)


def test_drift_stats_against_the_naive_definition():
    rng = np.random.default_rng(5)
    n = 30
    edges = random_graph(rng, n, 70)
    new = edges[:, -6:]
    old = edges[:, :-6]
    beta = 0.4
    got = drift_stats(old, new, n, hops=2, beta=beta, backend="cpu")
    gained = np.unique(new)
    tc_new = naive_tc(old, new, hops=2, beta=beta, num_nodes=n)[gained]
    tc_train = naive_tc(old, hops=2, beta=beta, num_nodes=n)[gained]
    both = ~np.isnan(tc_new) & ~np.isnan(tc_train)
    assert got["drift_new_edges"] == 6
    assert got["drift_nodes"] == gained.size
    assert got["drift_nodes_compared"] == int(both.sum()) > 0
    assert got["drift_tc_new"] == pytest.approx(tc_new[both].mean(), rel=1e-12)
    assert got["drift_tc_train"] == pytest.approx(tc_train[both].mean(), rel=1e-12)
    assert got["drift_ratio"] == pytest.approx(tc_new[both].mean() / tc_train[both].mean(), rel=1e-12)
    empty = drift_stats(old, np.zeros((2, 0), np.int64), n, hops=2, beta=beta, backend="cpu")
    assert empty["drift_new_edges"] == 0 and empty["drift_ratio"] is None


def test_split_by_time_treats_missing_times_as_old():
    t = np.array([1.0, 5.0, np.nan, 7.0])
    assert split_by_time(t, after=5.0).tolist() == [False, False, False, True]
    assert split_by_time(t, after=5.0, inclusive=True).tolist() == [False, True, False, True]
    with pytest.raises(InputError, match="timestamp_property"):
        split_by_time(None, after=1.0)


def run(**kw):
    base = {"run_id": "r", "status": "succeeded", "mode": "full", "params_hash": "h", "beta": 0.5,
            "watermark": 10.0, "nodes": 4, "edges": 3, "started_at": "2025-01-01T00:00:00Z"}
    return {**base, **kw}


T = np.array([1.0, 5.0, 10.0, 12.0])  # three edges at or before the watermark 10, one after


def plan(history, since="last", full_every=0, edge_time=T, nodes=4):
    return plan_run(since=since, full_every=full_every, params_hash="h", history=history,
                    edge_time=edge_time, num_nodes=nodes, num_edges=len(edge_time) if edge_time is not None else 0)


def test_plan_incremental_after_a_full_run_pins_its_beta():
    p = plan([run()])
    assert p.mode == "incremental" and p.beta == 0.5 and p.since == 10.0 and not p.inclusive


def test_plan_explicit_timestamp_is_inclusive():
    p = plan([run()], since=11.0)
    assert p.mode == "incremental" and p.since == 11.0 and p.inclusive


@pytest.mark.parametrize(
    "history, kwargs, reason",
    [
        ([run()], {"since": ""}, "no --since"),
        ([], {}, "no earlier successful full run"),
        ([run(params_hash="other")], {}, "no earlier successful full run"),
        ([run(status="failed")], {}, "no earlier successful full run"),
        ([run()], {"edge_time": np.array([1.0, 5.0, 12.0])}, "cannot see"),  # a relationship was deleted
        ([run()], {"nodes": 3}, "cannot see"),  # a node was deleted
        ([run()], {"edge_time": None}, "no relationship times"),
        ([run(watermark=None)], {}, "no watermark"),
        (
            [run(run_id="x", status="failed", wrote=True, started_at="2025-01-02T00:00:00Z"), run()],
            {},
            "interrupted full run",
        ),
        (
            [run(run_id="i2", mode="incremental", started_at="2025-01-03T00:00:00Z"),
             run(run_id="i1", mode="incremental", started_at="2025-01-02T00:00:00Z"), run()],
            {"full_every": 3},
            "every 3 runs",
        ),
    ],
)
def test_plan_falls_back_to_a_full_run(history, kwargs, reason):
    p = plan(history, **kwargs)
    assert p.mode == "full"
    assert reason in p.reason


def test_plan_incremental_run_after_failed_incremental_run_stays_incremental():
    history = [run(run_id="x", status="failed", mode="incremental", wrote=True, started_at="2025-01-02T00:00:00Z"), run()]
    assert plan(history).mode == "incremental"
    # one incremental run before: full_every 3 still allows a second one
    history = [run(run_id="i1", mode="incremental", started_at="2025-01-02T00:00:00Z", watermark=10.0), run()]
    assert plan(history, full_every=3).mode == "incremental"


def test_lock_states():
    now = 1_000_000
    held = {"owner": "o", "run_id": "r", "host": "h1", "pid": 1, "expires_at": now + 5, "heartbeat_at": now}
    assert lock_state(held, now, host="h2")[0] == "held"
    assert lock_state({**held, "expires_at": now - 1}, now, host="h2")[0] == "stale"
    assert lock_state(held, now, host="h1", alive=lambda pid, started: True)[0] == "held"
    state, reason = lock_state(held, now, host="h1", alive=lambda pid, started: False)
    assert state == "stale" and "no longer running" in reason
    assert lock_state({**held, "owner": None}, now, host="h1")[0] == "free"


def test_process_alive_detects_dead_and_recycled_pids():
    import os
    import subprocess
    import sys

    import psutil

    from topo_graphdb.ledger import process_alive

    me = psutil.Process()
    assert process_alive(os.getpid(), me.create_time())
    assert not process_alive(os.getpid(), me.create_time() - 1000)  # same pid, another start time
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive(child.pid, None)
    assert not process_alive(None, None)


def test_ledger_properties_are_flat_scalars():
    props = to_properties({"a": 1, "seconds": {"export": 1.25, "write": 2.0}, "none": None, "nan": float("nan"),
                           "np": np.float64(0.5), "rows": [{"x": 1}], "names": ["a", "b"]})
    assert props == {"a": 1, "seconds_export": 1.25, "seconds_write": 2.0, "np": 0.5, "rows": '[{"x": 1}]', "names": ["a", "b"]}


@pytest.mark.gpu
def test_tc_for_nodes_and_drift_on_the_gpu_match_the_cpu():
    from topo_graphdb.backend import gpu_available

    if not gpu_available():
        pytest.skip("needs CuPy and a CUDA device")
    rng = np.random.default_rng(99)
    n = 200
    edges = random_graph(rng, n, 800)
    nodes = np.sort(rng.choice(n, size=20, replace=False))
    for hops in (1, 2):
        cpu = tc_for_nodes(edges, nodes, n, hops=hops, beta=0.3, backend="cpu", full_share=1.01)
        gpu = tc_for_nodes(edges, nodes, n, hops=hops, beta=0.3, backend="gpu", full_share=1.01)
        np.testing.assert_allclose(gpu, cpu, rtol=1e-12)
    a = drift_stats(edges[:, :-30], edges[:, -30:], n, hops=2, beta=0.3, backend="cpu")
    b = drift_stats(edges[:, :-30], edges[:, -30:], n, hops=2, beta=0.3, backend="gpu")
    assert b["drift_nodes_compared"] == a["drift_nodes_compared"]
    assert b["drift_ratio"] == pytest.approx(a["drift_ratio"], rel=1e-12)


def test_capped_candidates_equal_exhaustive_top_k_when_the_caps_cover_every_node():
    from topo_graphdb.model.evaluate import make_predictor
    from topo_graphdb.model.predict import capped_candidates, predict_links
    from topo_graphdb.model.splits import random_split
    from topo_graphdb.snapshot import adjacency_matrix

    rng = np.random.default_rng(3)
    n = 120
    edges = random_graph(rng, n, 400)
    split = random_split(edges, n, valid_fraction=0.1, test_fraction=0.0, seed=0)
    model = make_predictor("gcn", hidden=16, epochs=2, seed=0, device="cpu", progress=False).fit(split).use_edges(edges)
    known = adjacency_matrix(edges, n)
    sources = np.arange(0, n, 3)
    exh = predict_links(model, nodes=sources, top_k=5, exclude=known, method="exhaustive")
    s, d, v = capped_candidates(model, known, sources, top_k=5, two_hop=n, neighbours=n - 1, batch=7)
    assert set(zip(s.tolist(), d.tolist())) == set(zip(exh["src"].tolist(), exh["dst"].tolist()))
    np.testing.assert_allclose(np.sort(v), np.sort(exh["score"]), rtol=1e-5)
    assert not any(known[a, b] or a == b for a, b in zip(s, d))
    # tight caps: every source still gets top_k links, all of them candidates
    s, d, v = capped_candidates(model, known, sources, top_k=5, two_hop=3, neighbours=4)
    assert np.bincount(s, minlength=n)[sources].max() <= 5 and not any(known[a, b] or a == b for a, b in zip(s, d))


@pytest.mark.parametrize("n", [50, 2**58])  # one sort key, or the lexsort fallback when the key would overflow
def test_candidate_order_is_row_then_count_descending_then_column(n):
    from topo_graphdb.model.predict import _by_row_then_count

    rng = np.random.default_rng(5)
    r = np.sort(rng.integers(0, 20, 500))
    c = rng.integers(0, 50, 500)
    count = rng.integers(1, 6, 500)
    got_r, got_c = _by_row_then_count(r, c, count, n)
    want = sorted(zip(r.tolist(), (-count).tolist(), c.tolist()))
    assert list(zip(got_r.tolist(), got_c.tolist())) == [(a, b) for a, _, b in want]


def test_sync_checks_the_backend_before_connecting(monkeypatch):
    """``--backend gpu`` without a usable GPU fails at once, before any connection or export."""
    from topo_graphdb import backend, pipeline
    from topo_graphdb.config import load_config
    from topo_graphdb.connection import ConnectionSettings
    from topo_graphdb.errors import BackendUnavailable

    monkeypatch.setattr(backend, "_cupy_status", lambda: (None, "CuPy is not installed"))
    cfg = load_config(None, environ={"TOPO_SYNC_RUN_BACKEND": "gpu", "TOPO_SYNC_SELECTION_LABELS": "Paper"})
    with pytest.raises(BackendUnavailable):  # connecting first would raise Neo4jUnavailable: nothing listens on port 9
        pipeline.run_sync(ConnectionSettings(uri="bolt://127.0.0.1:9"), cfg)
