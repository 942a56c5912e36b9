"""Arrays of an export: orientation against a naive oracle, id lookup, node id types, numbers (no server)."""

from __future__ import annotations

import numpy as np
import pytest

from topo_graphdb._export_arrays import lookup, node_id_array, number, orient
from topo_graphdb.errors import InputError


# --------------------------------------------------------------------------- orientation
def _naive_undirected(src, dst):
    pairs = {}
    for i, (a, b) in enumerate(zip(src, dst)):
        if a != b:
            pairs.setdefault((min(a, b), max(a, b)), []).append(i)
    return pairs


def test_orient_undirected_matches_naive_oracle():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(2, 9))
        m = int(rng.integers(1, 30))
        src = rng.integers(0, n, m).astype(np.int64)
        dst = rng.integers(0, n, m).astype(np.int64)
        t = rng.integers(0, 100, m).astype(np.float64)
        w = rng.random(m)
        ei, et, ew, stats = orient(src, dst, t, w, n, "undirected")
        pairs = _naive_undirected(src.tolist(), dst.tolist())
        want = sorted(pairs)
        assert [tuple(x) for x in ei.T.tolist()] == want
        assert et.tolist() == [min(t[i] for i in pairs[p]) for p in want]
        assert np.allclose(ew, [sum(w[i] for i in pairs[p]) for p in want])
        loops = int((src == dst).sum())
        assert stats["self_loops"] == loops
        assert stats["duplicates"] == m - loops - len(want)


def test_orient_directed_keeps_everything_and_counts():
    src = np.array([0, 1, 1, 2, 0])
    dst = np.array([1, 0, 1, 0, 1])
    ei, _, _, stats = orient(src, dst, None, None, 3, "natural")
    assert ei.tolist() == [[0, 1, 1, 2, 0], [1, 0, 1, 0, 1]]
    assert stats == {"self_loops": 1, "duplicates": 1, "dropped": 0}
    ei, _, _, _ = orient(src, dst, None, None, 3, "reverse")
    assert ei.tolist() == [[1, 0, 1, 0, 1], [0, 1, 1, 2, 0]]



def test_lookup_falls_back_for_unknown_keys():
    index = {"a": 0, "b": 1}
    assert lookup(index, ["b", "a", "b"]).tolist() == [1, 0, 1]
    assert lookup(index, ["b"]).tolist() == [1]
    assert lookup(index, []).tolist() == []
    assert lookup(index, ["a", "zz", float("nan")]).tolist() == [0, -1, -1]



def test_node_id_array_types():
    assert node_id_array([3, 1], "k").dtype == np.int64
    assert node_id_array(["a", "b"], "k").dtype == object
    with pytest.raises(InputError, match="must all be integers or all strings"):
        node_id_array([1, "a"], "k")


@pytest.mark.parametrize("value, expected", [(None, None), (3, 3.0), (2.5, 2.5), (True, 1.0)])
def test_number(value, expected):
    got = number(value, "t")
    assert (np.isnan(got) if expected is None else got == expected)


def test_number_temporal():
    from neo4j.time import Date, DateTime

    assert number(DateTime(1970, 1, 2, 0, 0, 0), "t") == 86400.0
    assert number(Date(1970, 1, 3), "t") == 2 * 86400.0
    with pytest.raises(InputError, match="numeric"):
        number("soon", "t")
