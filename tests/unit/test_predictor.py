"""Link predictors: determinism, consistency of scoring paths, persistence,
heuristics against oracles, masking in per-node evaluation, top-k prediction."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from topo_graphdb.errors import InputError
from topo_graphdb.model.evaluate import evaluate_edges, evaluate_nodes, make_predictor
from topo_graphdb.model.heuristics import HeuristicPredictor
from topo_graphdb.model.predict import candidate_recall, predict_links
from topo_graphdb.model.splits import random_split

torch = pytest.importorskip("torch")
from topo_graphdb.model.predictor import LinkPredictor  # noqa: E402


def _graph(n=60, m=240, seed=0):
    rng = np.random.default_rng(seed)
    # two communities so that there is something to learn
    half = n // 2
    a = rng.integers(0, half, size=(2, m // 2))
    b = rng.integers(half, n, size=(2, m // 2))
    return np.concatenate([a, b], axis=1)


@pytest.fixture(scope="module")
def split():
    return random_split(_graph(), 60, seed=0)


@pytest.fixture(scope="module")
def split_x():
    rng = np.random.default_rng(1)
    x = sp.random(60, 12, density=0.3, random_state=1, format="csr")
    return random_split(_graph(seed=1), 60, seed=1, x=x)


def _fit(split, **kw):
    params = {"hidden": 16, "epochs": 4, "patience": 10, "progress": False, "device": "cpu", "lr": 0.01}
    params.update(kw)
    return LinkPredictor(params.pop("model", "gcn"), **params).fit(split)


@pytest.mark.parametrize("model", ["gcn", "sage", "ncn"])
def test_same_seed_same_scores_other_seed_differs(split, model):
    a = _fit(split, model=model, seed=3)
    b = _fit(split, model=model, seed=3)
    c = _fit(split, model=model, seed=4)
    pairs = np.concatenate([split.test_pos, split.test_neg], axis=1)
    assert np.array_equal(a.score(pairs), b.score(pairs))
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]
    assert not np.allclose(a.score(pairs), c.score(pairs))


def test_fit_does_not_touch_global_rng(split):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _fit(split, epochs=2)
    assert torch.equal(torch.rand(3), expected)


def test_estimator_attributes(split):
    lp = _fit(split, epochs=4)
    assert isinstance(lp.model_, torch.nn.Module)
    assert len(lp.history_) == 4 and 1 <= lp.best_epoch_ <= 4
    assert set(lp.history_[0]) >= {"epoch", "loss", "valid_hits", "valid_mrr", "seconds"}
    assert lp.embed().shape == (60, 16)
    assert lp.get_params()["hidden"] == 16


def test_early_stopping_keeps_best_epoch(split):
    lp = _fit(split, epochs=40, patience=2)
    assert len(lp.history_) <= 40
    if len(lp.history_) < 40:
        assert len(lp.history_) == lp.best_epoch_ + 2
    best = max(h["valid_hits"] for h in lp.history_)
    assert lp.best_valid_["hits@100"] == pytest.approx(best)


@pytest.mark.parametrize("model", ["gcn", "sage", "ncn"])
def test_score_block_matches_pair_scores(split_x, model):
    lp = _fit(split_x, model=model, epochs=3)
    sources = np.array([0, 5, 33])
    block = lp.score_block(sources)
    assert block.shape == (3, 60)
    pairs = np.stack([np.repeat(sources, 60), np.tile(np.arange(60), 3)])
    np.testing.assert_allclose(block.ravel(), lp.score(pairs), rtol=1e-4, atol=1e-4)


def test_save_load_roundtrip(tmp_path, split_x):
    lp = _fit(split_x, model="ncn", epochs=3)
    lp.save(tmp_path / "m")
    again = LinkPredictor.load(tmp_path / "m", device="cpu")
    pairs = np.concatenate([split_x.test_pos, split_x.test_neg], axis=1)
    np.testing.assert_allclose(again.score(pairs), lp.score(pairs), rtol=1e-6)
    assert again.run_id_ == lp.run_id_ and again.best_epoch_ == lp.best_epoch_
    with pytest.raises(InputError, match="not a saved"):
        LinkPredictor.load(tmp_path)


def test_tc_reweighting_changes_weights_and_is_refused_for_sage(split):
    plain = _fit(split, epochs=3)
    rw = _fit(split, epochs=3, tc_alpha=1.0, tc_interval=1, tc_warm_up=0)
    assert plain.edge_weight_.shape == rw.edge_weight_.shape
    assert not np.allclose(plain.edge_weight_, rw.edge_weight_)
    assert np.all(rw.edge_weight_ >= plain.edge_weight_ - 1e-7)  # increments are non-negative
    with pytest.raises(InputError, match="tc_alpha"):
        _fit(split, model="sage", tc_alpha=1.0)


def test_bad_settings_are_input_errors(split):
    with pytest.raises(InputError, match="model"):
        LinkPredictor("gat").fit(split)
    with pytest.raises(InputError, match="hidden"):
        LinkPredictor("gcn", hidden=0).fit(split)
    with pytest.raises(InputError, match="not fitted"):
        LinkPredictor("gcn").score(np.array([[0], [1]]))
    with pytest.raises(InputError, match="model"):
        make_predictor("xx")


# ---------------------------------------------------------------- heuristics
def _naive_heuristic(edges, n, i, j, method):
    nb = [set() for _ in range(n)]
    for a, b in edges.T:
        nb[a].add(b)
        nb[b].add(a)
    common = nb[i] & nb[j]
    if method == "cn":
        return float(len(common))
    if method == "aa":
        return float(sum(1 / np.log(len(nb[z])) for z in common))
    return float(sum(1 / len(nb[z]) for z in common))


@pytest.mark.parametrize("method", ["cn", "aa", "ra"])
def test_heuristics_match_naive_and_kernel(split, method):
    hp = HeuristicPredictor(method).fit(split)
    pairs = np.concatenate([split.test_pos, split.test_neg], axis=1)
    got = hp.score(pairs)
    naive = [_naive_heuristic(split.train_pos, 60, i, j, method) for i, j in pairs.T]
    np.testing.assert_allclose(got, naive)
    block = hp.score_block(pairs[0, :5])
    np.testing.assert_allclose(block[np.arange(5), pairs[1, :5]], got[:5])
    try:
        from topo_graphdb.kernels.metrics import pair_heuristics
    except ImportError:  # pragma: no cover
        return
    np.testing.assert_allclose(got, pair_heuristics(split.train_pos, pairs, num_nodes=60, which=(method,))[method])


# ------------------------------------------------------- per-node evaluation
class _Oracle:
    """Scores test neighbours 1, training neighbours 2 (must be masked), others 0."""

    def __init__(self, split):
        self.test = split.adjacency("test").toarray()
        self.train = split.adjacency(("train", "valid")).toarray()
        self.adj_ = split.adjacency("train")

    def score_block(self, sources):
        return self.test[sources] + 2 * self.train[sources]

    def block_bytes_per_source(self):
        return 8 * self.test.shape[0]

    def score(self, pairs):
        return self.test[pairs[0], pairs[1]] + 2 * self.train[pairs[0], pairs[1]]


def test_node_evaluation_masks_known_neighbours(split):
    m = evaluate_nodes(_Oracle(split), split, ks=(5, 10), memory_budget=2000)  # tiny budget: many batches
    has_test = m["num_targets"] > 0
    assert np.all(np.isnan(m["rr"][~has_test]))
    assert np.all(m["rr"][has_test] == 1.0)
    small = has_test & (m["num_targets"] <= 5)
    assert np.all(m["recall@5"][small] == 1.0) and np.all(m["ndcg@5"][small] == pytest.approx(1.0))


def test_edge_and_node_evaluation_with_a_heuristic(split):
    hp = make_predictor("cn").fit(split)
    e = evaluate_edges(hp, split)
    assert set(e) == {"valid", "test"} and 0.0 <= e["test"]["auc"] <= 1.0
    m = evaluate_nodes(hp, split, target="valid", ks=(10,))
    assert np.isfinite(m["precision@10"]).sum() == (split.adjacency("valid").getnnz(axis=1) > 0).sum()


# ----------------------------------------------------------------- top-k links
def test_predict_links_excludes_known_and_ranks(split):
    hp = HeuristicPredictor("ra").fit(split)
    out = predict_links(hp, top_k=3)
    adj = hp.adj_.toarray()
    assert np.all(out["src"] != out["dst"])
    assert not np.any(adj[out["src"], out["dst"]])
    for s in np.unique(out["src"]):
        sel = out["src"] == s
        assert out["rank"][sel].tolist() == list(range(1, sel.sum() + 1))
        assert np.all(np.diff(out["score"][sel]) <= 0)
        # it is the best: no other non-neighbour scores higher than the 3rd
        row = hp.score_block(np.array([s]))[0]
        row[adj[s] > 0] = -np.inf
        row[s] = -np.inf
        assert np.sort(row)[::-1][: sel.sum()].tolist() == out["score"][sel].tolist()


def test_candidates_find_exhaustive_topk_when_complete(split):
    lp = _fit(split, epochs=3)
    rec = candidate_recall(lp, nodes=np.arange(10), top_k=5, neighbours=59)
    assert rec["recall"] == 1.0  # every node is a candidate: identical result
    sub = predict_links(lp, nodes=np.array([2, 4]), top_k=4, method="candidates", neighbours=5)
    assert set(sub["src"].tolist()) <= {2, 4}
