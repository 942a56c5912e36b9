"""Edge splits: no leakage, negatives never true edges, counts, seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from graphs import DATASETS as DATA
from graphs import uniform_edges as _random_graph

from topo_graphdb.errors import EmptyGraphError, InputError
from topo_graphdb.model.splits import (
    EdgeSplit,
    edge_keys,
    explicit_split,
    load_features,
    random_split,
    sample_negatives,
    split_from_files,
    temporal_split,
)


def _keyset(edges: np.ndarray, n: int) -> set[int]:
    return set(edge_keys(edges, n).tolist())


def _check_split(s: EdgeSplit, all_edges_keys: set[int]) -> None:
    n = s.num_nodes
    tr, va, te = (_keyset(getattr(s, f"{p}_pos"), n) for p in ("train", "valid", "test"))
    # canonical, unique, no self-loops
    for name in ("train_pos", "valid_pos", "test_pos", "valid_neg", "test_neg"):
        e = getattr(s, name)
        assert e.dtype == np.int64 and e.shape[0] == 2
        assert np.all(e[0] < e[1]), name
        assert len(set(edge_keys(e, n).tolist())) == e.shape[1], f"duplicates in {name}"
    # disjoint positives that cover the graph
    assert not (tr & va) and not (tr & te) and not (va & te)
    assert tr | va | te == all_edges_keys
    # message passing uses training edges only
    mp = s.message_passing_edges()
    assert _keyset(mp, n) == tr
    adj = s.adjacency("train")
    coo = adj.tocoo()
    assert _keyset(np.stack([coo.row, coo.col]), n) == tr
    # negatives: never a true edge, counts equal to positives, val/test disjoint
    vn, tn = _keyset(s.valid_neg, n), _keyset(s.test_neg, n)
    assert not (vn & all_edges_keys) and not (tn & all_edges_keys)
    assert not (vn & tn)
    assert s.valid_neg.shape[1] == s.valid_pos.shape[1]
    assert s.test_neg.shape[1] == s.test_pos.shape[1]


@pytest.mark.parametrize("seed", range(5))
def test_random_split_no_leakage(seed):
    n = 60
    raw = _random_graph(n, 400, seed)
    s = random_split(raw, n, seed=seed)
    lo, hi = np.minimum(*raw), np.maximum(*raw)
    truth = {int(a) * n + int(b) for a, b in zip(lo, hi) if a != b}
    _check_split(s, truth)
    m = len(truth)
    assert s.valid_pos.shape[1] == round(0.1 * m)
    assert s.test_pos.shape[1] == round(0.2 * m)
    assert s.meta["negatives"]["valid"] == s.valid_neg.shape[1]


def _spy_paths(monkeypatch) -> list[str]:
    """Record which negative-sampling path runs (the real functions still do the work)."""
    from topo_graphdb.model import splits

    ran: list[str] = []
    for name in ("_enumerated_negatives", "_rejection_negatives"):
        real = getattr(splits, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            ran.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(splits, name, spy)
    return ran


def test_random_split_large_graph_uses_rejection_sampling(monkeypatch):
    n = 5000  # complement > enumeration limit
    raw = _random_graph(n, 20000, 3)
    ran = _spy_paths(monkeypatch)
    s = random_split(raw, n, seed=3)
    assert ran and set(ran) == {"_rejection_negatives"}
    lo, hi = np.minimum(*raw), np.maximum(*raw)
    truth = {int(a) * n + int(b) for a, b in zip(lo, hi) if a != b}
    _check_split(s, truth)


def test_small_graph_enumerates_the_complement(monkeypatch):
    raw = _random_graph(60, 400, 0)
    ran = _spy_paths(monkeypatch)
    random_split(raw, 60, seed=0)
    assert ran and set(ran) == {"_enumerated_negatives"}
    # training negatives (drawn with replacement) take the rejection path even on a small graph
    ran.clear()
    forb = np.sort(edge_keys(raw, 60))
    e = sample_negatives(forb, 60, 50, rng=np.random.default_rng(0), unique=False)
    assert ran == ["_rejection_negatives"] and e.shape == (2, 50)
    assert not set(edge_keys(e, 60).tolist()) & set(forb.tolist())


def test_random_split_is_fixed_by_seed():
    raw = _random_graph(50, 300, 0)
    a, b, c = random_split(raw, 50, seed=7), random_split(raw, 50, seed=7), random_split(raw, 50, seed=8)
    for name in ("train_pos", "valid_pos", "test_pos", "valid_neg", "test_neg"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.test_pos, c.test_pos)
    assert not np.array_equal(a.test_neg, c.test_neg)


def test_negatives_uniform_over_complement():
    # path 0-1-2-3: complement {0,2},{0,3},{1,3}; each should be drawn about equally
    forb = np.sort(edge_keys(np.array([[0, 1, 2], [1, 2, 3]]), 4))
    counts = {}
    for seed in range(300):
        e = sample_negatives(forb, 4, 1, rng=np.random.default_rng(seed))
        k = tuple(e[:, 0].tolist())
        counts[k] = counts.get(k, 0) + 1
    assert set(counts) == {(0, 2), (0, 3), (1, 3)}
    assert min(counts.values()) > 60


def test_negatives_capped_by_complement():
    forb = np.sort(edge_keys(np.array([[0, 0], [1, 2]]), 3))
    e = sample_negatives(forb, 3, 10, rng=np.random.default_rng(0))
    assert e.tolist() == [[1], [2]]


def test_temporal_split_by_first_appearance():
    # pair (0,1) appears at t=1 and again at t=9: it is a training edge only
    ei = np.array([[0, 1, 2, 3, 1, 0], [1, 2, 3, 4, 0, 4]])
    t = np.array([1, 2, 5, 7, 9, 8])
    s = temporal_split(ei, t, 5, t1=4, t2=7)
    assert s.train_pos.tolist() == [[0, 1], [1, 2]]
    assert s.valid_pos.tolist() == [[2], [3]]
    assert s.test_pos.tolist() == [[0, 3], [4, 4]]
    assert s.train_time.tolist() == [1, 2]
    truth = {0 * 5 + 1, 1 * 5 + 2, 2 * 5 + 3, 3 * 5 + 4, 0 * 5 + 4}
    _check_split(s, truth)


def test_temporal_split_default_exact_shares():
    rng = np.random.default_rng(0)
    n = 80
    raw = rng.integers(0, n, size=(2, 600))
    t = rng.integers(0, 6, 600).astype(float)  # six distinct times: quantiles would tie at the boundaries
    s = temporal_split(raw, t, n, seed=1)
    total = s.train_pos.shape[1] + s.valid_pos.shape[1] + s.test_pos.shape[1]
    assert s.test_pos.shape[1] == round(0.2 * total) and s.valid_pos.shape[1] == round(0.1 * total)
    # first appearance of every pair: no training pair is newer than a validation pair, none of those newer than a test pair
    keys = np.minimum(raw[0], raw[1]) * n + np.maximum(raw[0], raw[1])
    first = {}
    for k, when in zip(keys.tolist(), t.tolist()):
        first[k] = min(first.get(k, when), when)
    dates = [[first[a * n + b] for a, b in p.T.tolist()] for p in (s.train_pos, s.valid_pos, s.test_pos)]
    assert max(dates[0]) <= min(dates[1]) and max(dates[1]) <= min(dates[2])
    assert s.meta["t1"] == min(dates[1]) and s.meta["t2"] == min(dates[2])
    again = temporal_split(raw, t, n, seed=1)
    np.testing.assert_array_equal(again.test_pos, s.test_pos)
    with pytest.raises(InputError, match="t1 and t2"):
        temporal_split(raw, t, n, t1=3.0)


def test_explicit_split_drops_overlaps():
    tr = np.array([[0, 1, 2], [1, 2, 3]])
    va = np.array([[1, 3], [0, 0]])  # (0,1) already in train
    te = np.array([[2, 3, 0], [1, 0, 4]])  # (1,2) in train, (0,3) in valid
    s = explicit_split(tr, va, te, 5)
    assert s.valid_pos.tolist() == [[0], [3]]
    assert s.test_pos.tolist() == [[0], [4]]
    assert s.meta["dropped"] == {"valid_in_train": 1, "test_in_train_or_valid": 2}


def test_split_from_files_maps_ids(tmp_path):
    pd.DataFrame({"src": [10, 20, 30, 10], "dst": [20, 30, 40, 40]}).to_csv(tmp_path / "tr.csv", index=False)
    pd.DataFrame({"src": [10], "dst": [30]}).to_csv(tmp_path / "va.csv", index=False)
    pd.DataFrame({"src": [20], "dst": [50]}).to_csv(tmp_path / "te.csv", index=False)
    s = split_from_files(tmp_path / "tr.csv", tmp_path / "va.csv", tmp_path / "te.csv")
    assert s.node_ids.tolist() == [10, 20, 30, 40, 50]
    assert s.test_pos.tolist() == [[1], [4]]
    assert s.valid_neg.shape == (2, 1) and s.test_neg.shape == (2, 1)


def test_split_from_files_with_features_keeps_row_ids(tmp_path):
    import scipy.sparse as sp

    pd.DataFrame({"src": [0, 1], "dst": [1, 2]}).to_csv(tmp_path / "tr.csv", index=False)
    pd.DataFrame({"src": [2], "dst": [3]}).to_csv(tmp_path / "va.csv", index=False)
    pd.DataFrame({"src": [0], "dst": [6]}).to_csv(tmp_path / "te.csv", index=False)
    sp.save_npz(tmp_path / "x.npz", sp.csr_matrix(np.eye(5)))
    s = split_from_files(tmp_path / "tr.csv", tmp_path / "va.csv", tmp_path / "te.csv", features=tmp_path / "x.npz")
    assert s.num_nodes == 7 and s.x.shape == (7, 5)  # id 6 has no feature row: zero-padded
    assert s.test_pos.tolist() == [[0], [6]]
    np.savez(tmp_path / "d.npz", x=np.ones((3, 2)))
    assert load_features(tmp_path / "d.npz").shape == (3, 2)


def test_bad_input_is_one_line_error(tmp_path):
    with pytest.raises(InputError, match="valid_fraction"):
        random_split(np.array([[0], [1]]), 2, valid_fraction=1.5)
    with pytest.raises(EmptyGraphError):
        random_split(np.array([[0], [0]]), 1)
    with pytest.raises(InputError, match="features file not found"):
        load_features(tmp_path / "nope.npz")
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(InputError):
        load_features(tmp_path / "bad.npz")


def test_cora_split_counts():
    from topo_graphdb.edgefile import read_edge_csv

    t = read_edge_csv(DATA / "cora" / "edges.csv")
    s = random_split(np.stack([t.src, t.dst]), 2708, seed=0)
    assert (s.train_pos.shape[1], s.valid_pos.shape[1], s.test_pos.shape[1]) == (3694, 528, 1056)
    truth = set(s.all_positive_keys().tolist())
    assert len(truth) == 5278
    assert not (_keyset(s.test_neg, 2708) & truth) and not (_keyset(s.valid_neg, 2708) & truth)


def test_negatives_are_our_own_because_pyg_returns_fewer_distinct_pairs():
    """The reason ``sample_negatives`` is not PyG's ``negative_sampling``: on a graph with
    exactly ten non-edges, asked for ten undirected negatives, ours returns all ten distinct
    pairs; PyG's returns fewer distinct unordered pairs (each drawn pair is mirrored)."""
    torch = pytest.importorskip("torch")
    utils = pytest.importorskip("torch_geometric.utils")
    n = 12
    lo, hi = np.triu_indices(n, 1)
    edges = np.vstack([lo, hi])[:, 10:]  # the complete graph less its first ten pairs
    ours = sample_negatives(np.sort(edge_keys(edges, n)), n, 10, rng=np.random.default_rng(0))
    assert sorted(map(tuple, ours.T.tolist())) == sorted(zip(lo[:10].tolist(), hi[:10].tolist(), strict=True))
    torch.manual_seed(0)
    both_ways = torch.from_numpy(np.hstack([edges, edges[::-1]]))
    pyg = utils.negative_sampling(both_ways, num_nodes=n, num_neg_samples=10, force_undirected=True).numpy()
    distinct = {(min(u, v), max(u, v)) for u, v in pyg.T.tolist()}
    assert len(distinct) < 10
