"""Planning a sync run: time split, full or incremental run and why, the backend checked before connecting."""

from __future__ import annotations

import numpy as np
import pytest

from topo_graphdb.errors import InputError
from topo_graphdb.pipeline import plan_run, split_by_time


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
