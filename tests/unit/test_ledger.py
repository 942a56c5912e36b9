"""The run ledger's pure parts: lock states, live and recycled pids, flat properties."""

from __future__ import annotations

import numpy as np

from topo_graphdb.ledger import lock_state, to_properties


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
