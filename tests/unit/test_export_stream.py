"""The grouped node and relationship passes and the projection path, on a fake driver (no server)."""

from __future__ import annotations

import numpy as np
import pytest

from topo_graphdb._export_plan import build_plan
from topo_graphdb._export_projection import stream_projection
from topo_graphdb._export_stream import Collector
from topo_graphdb.errors import InputError, TopoGraphError
from topo_graphdb.graphspec import GraphSpec


class _FakeResult:
    def __init__(self, keys, rows):
        self._keys = list(keys)
        self._rows = [tuple(r) for r in rows]

    def keys(self):
        return self._keys

    def fetch(self, n):
        out, self._rows = self._rows[:n], self._rows[n:]
        return out


class _FakeTx:
    def __init__(self, results):
        self.results = list(results)

    def run(self, text, params=None):
        return self.results.pop(0)


def test_collector_maps_grouped_records_and_counts_dangling():
    spec = GraphSpec(labels="A", feature_properties=["f", "g"], label_property="y", time_property="t", weight_property="w")
    plan = build_plan(spec)
    seen = []
    col = Collector(spec, plan, lambda *a: seen.append(a), group_size=2)
    nodes = _FakeResult(
        ["ids", "count", "vals"],
        [(["n0", "n1"], 2, [[3, [1.0, 2.0], 0.5], [None, None, 1]]), (["n2"], 1, [[1, [3, 4], None]])],
    )
    x, y, info = col.read_nodes(_FakeTx([nodes]), 3)
    assert col.ids == ["n0", "n1", "n2"] and col.index == {"n0": 0, "n1": 1, "n2": 2}
    assert y.tolist() == [3, -1, 1]
    np.testing.assert_array_equal(x, [[1, 2, 0.5], [np.nan, np.nan, 1], [3, 4, np.nan]])
    assert info["x_missing"] == 2 and info["y_missing"] == 1
    nan = float("nan")
    rels = _FakeResult(
        ["sources", "targets", "times", "weights"],
        [
            (["n0", "n1"], [["n1"], ["gone", "n0"]], [[5], [6, 1]], [[2.0], [1.0, 1.0]]),
            (["n2"], [["n0", "n2", nan]], [[nan, 7, 8]], [[nan, 3.0, 1.0]]),
            ([], [], [], []),
        ],
    )
    info = col.read_rels(_FakeTx([rels]), 4)
    assert col.src.tolist() == [0, 1, 2, 2] and col.dst.tolist() == [1, 0, 0, 2]
    assert np.isnan(col.time[2]) and col.time[[0, 1, 3]].tolist() == [5, 1, 7]
    assert col.weight.tolist() == [2.0, 1.0, 1.0, 3.0]
    assert info == {"relationships_read": 6, "dangling": 2, "relationships_via": "cypher", "time_missing": 1, "weight_missing_as_1": 1}
    assert ("relationships", 6, 6) in seen and ("nodes", 3, 3) in seen


def test_collector_key_mode_maps_element_ids_and_keeps_keys():
    spec = GraphSpec(labels="A", key_property="uid", label_property="y")
    col = Collector(spec, build_plan(spec), None, group_size=2)
    nodes = _FakeResult(["ids", "count", "keys", "vals"], [(["e0", "e1"], 2, [10, 11], [[1], [2]]), (["e2"], 1, [12], [[3]])])
    _, y, _ = col.read_nodes(_FakeTx([nodes]), 0)
    assert col.keys == [10, 11, 12] and col.index == {"e0": 0, "e1": 1, "e2": 2} and y.tolist() == [1, 2, 3]
    col.read_rels(_FakeTx([_FakeResult(["sources", "targets"], [(["e2"], [["e0", "e1"]])])]), 0)
    assert col.src.tolist() == [2, 2] and col.dst.tolist() == [0, 1]



def test_collector_string_labels_become_codes():
    spec = GraphSpec(labels="A", label_property="kind")
    col = Collector(spec, build_plan(spec), None, group_size=10)
    _, y, info = col.read_nodes(_FakeTx([_FakeResult(["ids", "count", "vals"], [(["a", "b", "c"], 3, [["cat"], [None], ["ant"]])])]), 0)
    assert y.tolist() == [1, -1, 0] and info["y_classes"] == ["ant", "cat"]


def test_collector_rejects_duplicate_or_missing_keys_and_ragged_features():
    spec = GraphSpec(labels="A", key_property="id")
    col = Collector(spec, build_plan(spec), None, group_size=2)
    with pytest.raises(InputError, match="value 1 appears more than once"):
        col.read_nodes(_FakeTx([_FakeResult(["ids", "count", "keys"], [(["a", "b"], 2, [1, 2]), (["c"], 1, [1])])]), 0)
    col = Collector(spec, build_plan(spec), None, group_size=2)
    with pytest.raises(InputError, match="1 selected node.s. lack the key property"):
        col.read_nodes(_FakeTx([_FakeResult(["ids", "count", "keys"], [(["a", "b"], 2, [1])])]), 0)
    spec = GraphSpec(labels="A", feature_properties=["f"])
    col = Collector(spec, build_plan(spec), None, group_size=2)
    with pytest.raises(InputError, match="one length"):
        col.read_nodes(_FakeTx([_FakeResult(["ids", "count", "vals"], [(["a", "b"], 2, [[[1, 2]], [[1]]])])]), 0)


def test_collector_projection_grows_nodes_and_checks_columns():
    spec = GraphSpec(projection="MATCH ...")
    col = Collector(spec, None, None, group_size=2)
    info = stream_projection(_FakeTx([_FakeResult(["source", "target"], [("x", "y"), ("y", "z"), ("z", None)])]), col, "")
    assert col.ids == ["x", "y", "z"] and col.src.tolist() == [0, 1] and col.dst.tolist() == [1, 2]
    assert info["null_endpoints"] == 1
    col = Collector(spec, None, None, group_size=2)
    with pytest.raises(InputError, match="source, target"):
        stream_projection(_FakeTx([_FakeResult(["a", "b"], [])]), col, "")
    with pytest.raises(InputError, match="unexpected column"):
        stream_projection(_FakeTx([_FakeResult(["source", "target", "label"], [])]), col, "")


def test_collector_reads_the_procedure_pass_as_packed_positions():
    spec = GraphSpec(labels="A")
    col = Collector(spec, build_plan(spec), None, group_size=2)
    col.read_nodes(_FakeTx([_FakeResult(["ids", "count"], [(["n0", "n1", "n2"], 3)])]), 3)
    packed = lambda v: np.asarray(v, dtype="<i4").tobytes()  # noqa: E731
    cols = ["ids", "keys", "sources", "targets", "count"]
    # the procedure's own node order (n2, n0 | n1) is mapped onto the node pass's (n0, n1, n2)
    blocks = [("n2\nn0", [], packed([]), packed([]), 0), ("n1", [], packed([]), packed([]), 0),
              ("", [], packed([0, 0, 1]), packed([1, 2, 2]), 3), ("", [], packed([2]), packed([0]), 1)]
    info = col.read_rels(_FakeTx([_FakeResult(cols, blocks)]), 4, procedure=True)
    assert col.src.tolist() == [2, 2, 0, 1] and col.dst.tolist() == [0, 1, 1, 2]
    assert info == {"relationships_read": 4, "dangling": 0, "relationships_via": "procedure"}
    # a node list that differs from the node pass's is an error, not a wrong graph
    other = Collector(spec, build_plan(spec), None, group_size=2)
    other.read_nodes(_FakeTx([_FakeResult(["ids", "count"], [(["n0", "n1"], 2)])]), 2)
    with pytest.raises(TopoGraphError, match="selected 1 nodes where the node pass read 2"):
        other.read_rels(_FakeTx([_FakeResult(cols, [("n0", [], packed([]), packed([]), 0)])]), 0, procedure=True)
    # without a node pass the procedure's nodes (and keys) are the node list; keys are checked as the node pass does
    keyed = GraphSpec(labels="A", key_property="id")
    alone = Collector(keyed, build_plan(keyed), None, group_size=2)
    alone.read_rels(_FakeTx([_FakeResult(cols, [("n2\nn0", [12, 10], packed([0]), packed([1]), 1)])]), 1, procedure=True)
    assert (alone.ids, alone.keys, alone.src.tolist(), alone.dst.tolist()) == (["n2", "n0"], [12, 10], [0], [1])
    for keys, message in (([12, None], "1 selected node.s. lack the key property 'id'"), ([12, 12], "value 12 appears more than once")):
        bad = Collector(keyed, build_plan(keyed), None, group_size=2)
        with pytest.raises(InputError, match=message):
            bad.read_rels(_FakeTx([_FakeResult(cols, [("n2\nn0", keys, packed([]), packed([]), 0)])]), 0, procedure=True)
    # a spec with relationship values never takes it, even when asked
    timed = GraphSpec(labels="A", time_property="t")
    third = Collector(timed, build_plan(timed), None, group_size=2)
    third.read_nodes(_FakeTx([_FakeResult(["ids", "count"], [(["n0", "n1"], 2)])]), 2)
    info = third.read_rels(_FakeTx([_FakeResult(["sources", "targets", "times"], [(["n0"], [["n1"]], [[1]])])]), 1, procedure=True)
    assert info["relationships_via"] == "cypher" and third.src.tolist() == [0]
