"""The write-back's checks and helpers without a server: column values, validation before connecting, run ids, workers."""

from __future__ import annotations

import numpy as np
import pytest

from topo_graphdb import writeback as W
from topo_graphdb.errors import InputError


def test_column_values_missing_become_none():
    vals, miss = W._column_values("c", np.array([1.0, np.nan, 3.0]), 3)
    assert vals == [1.0, None, 3.0] and miss == 1
    vals, miss = W._column_values("c", np.array([[1.0, 2.0], [np.nan, np.nan], [np.nan, 1.0]]), 3)
    assert vals[0] == [1.0, 2.0] and vals[1] is None and np.isnan(vals[2][0]) and miss == 1
    vals, miss = W._column_values("c", np.array(["a", None, "b"], dtype=object), 3)
    assert vals == ["a", None, "b"] and miss == 1
    assert W._column_values("c", np.array([1, 2, 3]), 3) == ([1, 2, 3], 0)
    with pytest.raises(InputError, match="shape"):
        W._column_values("c", np.zeros(4), 3)


def test_write_validation_happens_before_connecting():
    from topo_graphdb.connection import ConnectionSettings

    conn = ConnectionSettings(uri="bolt://127.0.0.1:1")  # nothing listens there
    ids = np.array(["a", "b"], dtype=object)
    with pytest.raises(InputError, match="batch_size"):
        W.write_node_properties(conn, ids, {"x": np.zeros(2)}, batch_size=0)
    with pytest.raises(InputError, match="reserved"):
        W.write_node_properties(conn, ids, {"run_id": np.zeros(2)})
    with pytest.raises(InputError, match="shape"):
        W.write_node_properties(conn, ids, {"x": np.zeros(3)})
    with pytest.raises(InputError, match="rate_limit"):
        W.write_node_properties(conn, ids, {"x": np.zeros(2)}, rate_limit=-1)
    with pytest.raises(InputError, match="topo_id"):
        W.write_node_properties(conn, np.array([1, 2]), {"id": np.zeros(2)}, key_property="topo_id")
    with pytest.raises(InputError, match="indices"):
        W.write_predicted_links(conn, ids, [0, 2], [1, 0], [0.1, 0.2], model="m")
    with pytest.raises(InputError, match="model"):
        W.write_predicted_links(conn, ids, [0], [1], [0.1], model="")
    with pytest.raises(InputError, match="top_k"):
        W.write_predicted_links(conn, ids, [0], [1], [0.1], model="m", top_k=0)


def test_new_run_ids_differ():
    assert W.new_run_id() != W.new_run_id()


def test_workers_must_be_a_small_positive_integer():
    from topo_graphdb.connection import ConnectionSettings

    for bad in (0, 17, 1.5, True):
        with pytest.raises(InputError, match="workers must be an integer in 1..16"):
            W.write_node_properties(ConnectionSettings(uri="bolt://x"), ["a"], {"x": [1.0]}, workers=bad)
