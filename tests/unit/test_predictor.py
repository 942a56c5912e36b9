"""Link predictors: determinism, consistency of scoring paths, persistence,
heuristics against oracles, masking in per-node evaluation, top-k prediction;
Neural Common Neighbour as published (the formula on a hand-computed graph, common
neighbours of a training step without its target links, NCNC's completion weights)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from topo_graphdb.errors import InputError
from topo_graphdb.model.evaluate import evaluate_edges, evaluate_nodes, make_predictor
from topo_graphdb.model.heuristics import HeuristicPredictor
from topo_graphdb.model.predict import candidate_recall, predict_links
from topo_graphdb.model.splits import explicit_split, random_split
from topo_graphdb.snapshot import adjacency_matrix

torch = pytest.importorskip("torch")
from topo_graphdb.model._encoders import feature_arrays, feature_tensor, features_from_arrays  # noqa: E402
from topo_graphdb.model._pair_decoders import NCNC_OFFSET, NCNC_PT, NCNC_SCALE, Net  # noqa: E402
from topo_graphdb.model._sparse import SparseOperator, gcn_weights  # noqa: E402
from topo_graphdb.model.predictor import LinkPredictor, common_neighbour_sums  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """These graphs are tiny: one thread is fastest, and on a busy machine several threads
    per operation cost far more than they save. Results do not depend on it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
    x = sp.random(60, 12, density=0.3, random_state=1, format="csr")
    return random_split(_graph(seed=1), 60, seed=1, x=x)


def _fit(split, **kw):
    params = {"hidden": 16, "epochs": 4, "patience": 10, "progress": False, "device": "cpu", "lr": 0.01}
    params.update(kw)
    return LinkPredictor(params.pop("model", "gcn"), **params).fit(split)


@pytest.mark.parametrize("model", ["gcn", "sage", "ncn", "ncnc"])
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


def _scripted_validation(monkeypatch, scores):
    """Validation returns ``scores[epoch - 1]`` as (hits, mrr) and keeps a copy of the weights
    of every epoch, so that the test knows which epoch's weights are the best."""
    seen = []

    def validate(self, net, split, cache):
        seen.append({k: v.detach().clone() for k, v in net.state_dict().items()})
        return scores[len(seen) - 1]

    monkeypatch.setattr(LinkPredictor, "_validate_scores", validate)
    return seen


@pytest.mark.parametrize("patience", [1, 3])
def test_early_stopping_stops_patience_epochs_after_the_best_and_keeps_its_weights(split, monkeypatch, patience):
    # best at epoch 3; the tie at epoch 5 (same hits, same mrr) is not an improvement
    scores = [(0.1, 0.1), (0.2, 0.1), (0.5, 0.3), (0.4, 0.9), (0.5, 0.3), (0.45, 0.5)] + [(0.9, 0.9)] * 20
    seen = _scripted_validation(monkeypatch, scores)
    lp = _fit(split, epochs=20, patience=patience)
    assert lp.best_epoch_ == 3
    assert len(lp.history_) == len(seen) == 3 + patience
    assert [h["epoch"] for h in lp.history_] == list(range(1, 4 + patience))
    assert [h["valid_hits"] for h in lp.history_] == [h for h, _ in scores[: 3 + patience]]
    assert lp.best_valid_ == {"hits@100": 0.5, "mrr": 0.3}
    kept = lp.model_.state_dict()
    assert all(torch.equal(kept[k], seen[2][k]) for k in kept)  # the weights of epoch 3
    assert not all(torch.equal(kept[k], seen[-1][k]) for k in kept)  # not the last epoch's


def test_ties_in_hits_are_broken_by_mrr_and_improvements_reset_patience(split, monkeypatch):
    scores = [(0.5, 0.1), (0.5, 0.2), (0.4, 0.9), (0.6, 0.0), (0.6, 0.0), (0.6, 0.0)]
    _scripted_validation(monkeypatch, scores)
    lp = _fit(split, epochs=6, patience=2)
    assert lp.best_epoch_ == 4 and len(lp.history_) == 6  # stopped by the epoch limit, 2 after the best
    assert lp.best_valid_ == {"hits@100": 0.6, "mrr": 0.0}
    _scripted_validation(monkeypatch, scores)
    lp = _fit(split, epochs=6, patience=1)
    assert lp.best_epoch_ == 2 and len(lp.history_) == 3  # epoch 2 wins on mrr, epoch 3 is worse


def _planted_partition(n: int, blocks: int, p_in: float, p_out: float, seed: int) -> np.ndarray:
    """A stochastic block model: node i in block i % blocks; each pair an edge with p_in
    inside a block, p_out across."""
    rng = np.random.default_rng(seed)
    block = np.arange(n) % blocks
    iu = np.triu_indices(n, 1)
    p = np.where(block[iu[0]] == block[iu[1]], p_in, p_out)
    keep = rng.random(p.size) < p
    return np.stack([iu[0][keep], iu[1][keep]])


def test_trained_gcn_finds_the_planted_partition():
    """Held-out links of a planted partition (8 blocks of 25 nodes, no features): a trained
    GCN ranks them well above the random non-links (chance is AUC 0.5)."""
    edges = _planted_partition(200, 8, 0.4, 0.005, seed=0)
    sbm = random_split(edges, 200, seed=0)
    lp = LinkPredictor("gcn", hidden=64, lr=0.02, epochs=60, patience=60, seed=0, progress=False, device="cpu").fit(sbm)
    result = evaluate_edges(lp, sbm)
    assert sbm.test_pos.shape[1] > 150
    assert result["test"]["auc"] >= 0.8, result["test"]


# ---------------------------------------------------------------- features
def test_row_normalisation_keeps_signs_and_bounds_of_signed_features():
    x = np.array(
        [
            [-1.0, -2.0, 0.5],  # signed sum -2.5: dividing by it would flip every sign
            [1.0, -0.999, 0.0],  # signed sum 0.001: dividing by it would blow the row up
            [0.0, 0.0, 0.0],  # zero row: stays zero
            [1.0, 3.0, 0.0],  # non-negative: sums to 1, as before
        ],
        dtype=np.float32,
    )
    expected = np.array(
        [[-1 / 3.5, -2 / 3.5, 0.5 / 3.5], [1 / 1.999, -0.999 / 1.999, 0.0], [0.0, 0.0, 0.0], [0.25, 0.75, 0.0]]
    )
    dense = feature_tensor(x, "row", torch.device("cpu")).numpy()
    sparse = feature_tensor(sp.csr_matrix(x), "row", torch.device("cpu")).to_dense().numpy()
    for got in (dense, sparse):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
        assert np.array_equal(np.sign(got), np.sign(x))
    assert np.array_equal(feature_tensor(x, "none", torch.device("cpu")).numpy(), x)


@pytest.mark.parametrize("model", ["gcn", "sage", "ncn", "ncnc"])
def test_score_block_matches_pair_scores(split_x, model):
    lp = _fit(split_x, model=model, epochs=3)
    sources = np.array([0, 5, 33])
    block = lp.score_block(sources)
    assert block.shape == (3, 60)
    pairs = np.stack([np.repeat(sources, 60), np.tile(np.arange(60), 3)])
    np.testing.assert_allclose(block.ravel(), lp.score(pairs), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", ["none", "dense", "sparse"])
def test_feature_arrays_round_trip(tmp_path, kind):
    dense = np.arange(12, dtype=np.float32).reshape(4, 3) - 5
    x = {"none": None, "dense": dense, "sparse": sp.csr_matrix(dense)}[kind]
    np.savez(tmp_path / "f.npz", keep=np.zeros(1), **feature_arrays(x))
    with np.load(tmp_path / "f.npz") as z:
        back = features_from_arrays(z)
    if x is None:
        assert back is None
    else:
        assert sp.issparse(back) == sp.issparse(x)
        got = back.toarray() if sp.issparse(back) else back
        assert got.dtype == dense.dtype and np.array_equal(got, dense)


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


# ---------------------------------------------------------------- NCN
# 0-1, 0-2, 1-2, 1-3, 2-3, 3-4: N(0)={1,2}, N(1)={0,2,3}, N(2)={0,1,3}, N(3)={1,2,4}, N(4)={3}
EDGES = np.array([[0, 0, 1, 1, 2, 3], [1, 2, 2, 3, 3, 4]])
H = np.array([[1, 0], [0, 1], [1, 1], [2, 0], [0, 2]], dtype=np.float32)


def _set(linear, weight, bias):
    linear.weight.data = torch.tensor(weight, dtype=torch.float32)
    linear.bias.data = torch.tensor(bias, dtype=torch.float32)


def _hand_net() -> Net:
    """xij(z) = relu(z); xcn(c) = relu(W c + b) with W = [[1, -1], [-1, 1]], b = (0, 1);
    beta = 2; head(z) = relu(z_0) + relu(z_1) - 1."""
    net = Net("ncn", None, 5, 2, 1, 2, 0.0).eval()
    eye, zero = [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]
    _set(net.xij[0], eye, zero)
    _set(net.xij[-1], eye, zero)
    _set(net.xcn[0], [[1.0, -1.0], [-1.0, 1.0]], [0.0, 1.0])
    _set(net.xcn[3], eye, zero)
    _set(net.xcn[-1], eye, zero)
    _set(net.head[0], eye, zero)
    _set(net.head[-1], [[1.0, 1.0]], [-1.0])
    net.beta.data = torch.tensor([2.0])
    return net


def test_common_neighbour_sums_by_hand():
    adj = adjacency_matrix(EDGES, 5, np.float64)
    pairs = np.array([[0, 0, 1, 4], [3, 4, 2, 4]])
    got = common_neighbour_sums(torch.from_numpy(H), adj, pairs).numpy()
    # CN(0,3) = {1,2}: (0,1)+(1,1); CN(0,4) = {}; CN(1,2) = {0,3}: (1,0)+(2,0); CN(4,4) = N(4) = {3}
    np.testing.assert_array_equal(got, [[1, 2], [0, 0], [3, 0], [2, 0]])


def test_common_neighbour_sums_and_their_gradient_equal_a_loop_over_the_common_neighbours():
    """Weighted sums (NCNC's weights) and dL/dh through the sparse product, against explicit loops."""
    import scipy.sparse as sp

    rng = np.random.default_rng(3)
    n, d = 30, 4
    adj = adjacency_matrix(rng.integers(0, n, (2, 150)), n, np.float64)
    pairs = rng.integers(0, n, (2, 40))
    weights = sp.random(40, n, density=0.2, random_state=3, format="csr")
    h = torch.from_numpy(rng.normal(size=(n, d))).requires_grad_(True)
    for w in (None, weights):
        c = (adj[pairs[0]].multiply(adj[pairs[1]]) if w is None else w).toarray()
        got = common_neighbour_sums(h, adj, pairs, w)
        want = np.array([sum(c[k, u] * h.detach().numpy()[u] for u in range(n)) for k in range(pairs.shape[1])])
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-12, atol=1e-12)
        (grad,) = torch.autograd.grad(got.pow(2).sum(), h)
        g_out = 2 * want
        want_grad = np.array([sum(c[k, u] * g_out[k] for k in range(pairs.shape[1])) for u in range(n)])
        np.testing.assert_allclose(grad.numpy(), want_grad, rtol=1e-12, atol=1e-12)
    with torch.no_grad():  # no transpose built: the forward alone
        np.testing.assert_allclose(common_neighbour_sums(h, adj, pairs).numpy(), common_neighbour_sums(h.detach(), adj, pairs).numpy())
    assert common_neighbour_sums(h, adj, np.zeros((2, 0), dtype=np.int64)).shape == (0, d)


def test_ncn_formula_by_hand():
    """logit = head(beta * xcn(sum_{u in CN} h_u) + xij(h_i * h_j)): the MLP acts on the sum.

    (0,3): sum (1,2) -> W sum + b = (-1, 2) -> (0, 2), x2 = (0, 4); h0*h3 = (2, 0); head(2, 4) = 5.
    (0,4): sum (0,0) -> b = (0, 1), x2 = (0, 2); h0*h4 = (0, 0); head(0, 2) = 1.
    (1,2): sum (3,0) -> (3, -2) -> (3, 0), x2 = (6, 0); h1*h2 = (0, 1); head(6, 1) = 6.
    Applying xcn to each neighbour before summing would give (0,3): (0,2)+(0,1) -> head 7.
    """
    net = _hand_net()
    adj = adjacency_matrix(EDGES, 5, np.float64)
    pairs = np.array([[0, 0, 1], [3, 4, 2]])
    h = torch.from_numpy(H)
    with torch.no_grad():
        got = net.pair_logits(h[pairs[0]], h[pairs[1]], common_neighbour_sums(h, adj, pairs)).numpy()
    np.testing.assert_allclose(got, [5.0, 1.0, 6.0], atol=1e-6)


def test_fitted_ncn_scores_with_the_formula_on_its_embeddings():
    split = random_split(_planted_partition(60, 3, 0.3, 0.02, seed=1), 60, seed=1)
    lp = LinkPredictor("ncn", hidden=8, epochs=2, progress=False, device="cpu").fit(split)
    pairs = np.concatenate([split.test_pos, split.test_neg], axis=1)
    h = torch.from_numpy(lp.embed())
    with torch.no_grad():
        expected = lp.model_.pair_logits(h[pairs[0]], h[pairs[1]], common_neighbour_sums(h, lp.adj_, pairs)).double().numpy()
    np.testing.assert_allclose(lp.score(pairs), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", ["ncn", "ncnc"])
def test_training_common_neighbours_exclude_the_steps_target_links(monkeypatch, model):
    """Two triangles 0-1-2 and 3-4-5 joined by 2-3. In every training step the common
    neighbours come from the training graph minus that step's positives; with the whole
    training set in one step a target triangle gives none of its links a common neighbour."""
    train = np.array([[0, 0, 1, 2, 3, 3, 4], [1, 2, 2, 3, 4, 5, 5]])
    split = explicit_split(train, np.array([[0], [5]]), np.array([[1], [4]]), 6, seed=0)
    full = adjacency_matrix(split.train_pos, 6, np.float64)
    seen = []
    original = LinkPredictor._cn_weights

    def spy(self, net, h, pairs, adj):
        w = original(self, net, h, pairs, adj)
        if net.training:
            seen.append((pairs.copy(), adj.copy(), w.copy()))
        return w

    monkeypatch.setattr(LinkPredictor, "_cn_weights", spy)
    lp = LinkPredictor(model, hidden=4, epochs=2, batch_size=3, progress=False, device="cpu").fit(split)
    keys = {tuple(e) for e in split.train_pos.T}
    positive_calls = [(p, a) for p, a, _ in seen if {tuple(e) for e in p.T} <= keys and a.nnz < full.nnz]
    assert len(positive_calls) >= 2 * 3  # 3 steps of 3, 3 and 1 positives, two epochs
    for pairs, adj in positive_calls:
        expected = full - adjacency_matrix(pairs, 6, np.float64)
        expected.eliminate_zeros()
        assert (adj != expected).nnz == 0  # exactly the step's positives are gone
    # the whole training graph as one step: every target's common neighbours are gone
    seen.clear()
    LinkPredictor(model, hidden=4, epochs=1, batch_size=100, progress=False, device="cpu").fit(split)
    pos_weights = [w for p, a, w in seen if p.shape[1] == train.shape[1] and {tuple(e) for e in p.T} == keys]
    assert pos_weights and all(w.nnz == 0 for w in pos_weights)
    assert lp._cn_weights(lp.model_, torch.from_numpy(lp.embed()), np.array([[0], [1]]), full).nnz >= 1  # unmasked: 2 is a CN of (0, 1)


def test_ncnc_completion_weights():
    """NCNC weighs u in N(i)\\N(j) by p(j, u) from an NCN pass, u in N(j)\\N(i) by p(i, u),
    common neighbours by 1, and never j or i themselves."""
    split = explicit_split(EDGES, np.zeros((2, 0), np.int64), np.array([[0], [4]]), 5, seed=0)
    lp = LinkPredictor("ncnc", hidden=4, epochs=1, progress=False, device="cpu").fit(split)
    h = torch.from_numpy(lp.embed())
    adj = lp.adj_
    w = lp._cn_weights(lp.model_, h, np.array([[0, 1], [3, 2]]), adj).toarray()
    # pair (0, 3): CN {1, 2}; N(0)\N(3) = {} ; N(3)\N(0) = {4}: weight p(0, 4)
    # pair (1, 2): CN {0, 3}; N(1)\N(2) = {2} = j and N(2)\N(1) = {1} = i: no candidates
    with torch.no_grad():
        logit = lp.model_.pair_logits(h[[0]], h[[4]], common_neighbour_sums(h, adj, np.array([[0], [4]]))).double()
        p0 = torch.sigmoid(NCNC_SCALE * (logit - NCNC_OFFSET))
        p04 = float(NCNC_PT * p0 / (NCNC_PT * p0 + 1 - p0))
    np.testing.assert_allclose(w[0], [0, 1, 1, 0, p04], rtol=1e-6)
    np.testing.assert_allclose(w[1], [1, 0, 0, 1, 0])
    assert 0 < p04 < 1


@pytest.mark.parametrize("model, epochs", [("ncn", 20), pytest.param("ncnc", 10, marks=pytest.mark.slow)])
def test_trained_ncn_finds_the_planted_partition(model, epochs):
    """Held-out links of a planted partition (8 blocks of 25 nodes, no features): NCN ranks
    them well above the random non-links (chance: AUC 0.5, Hits@20 about 0.1 with 203
    negatives). Steps of 64 of the ~1400 training edges: target-link removal takes each
    step's positives out of the graph, so a step holding most edges would leave almost no
    common neighbours to learn from."""
    edges = _planted_partition(200, 8, 0.4, 0.005, seed=0)
    sbm = random_split(edges, 200, seed=0)
    lp = LinkPredictor(model, hidden=32, lr=0.01, epochs=epochs, patience=epochs, batch_size=64, select_k=10, seed=0, progress=False, device="cpu").fit(sbm)
    result = evaluate_edges(lp, sbm)["test"]
    assert sbm.test_pos.shape[1] > 150
    assert result["auc"] >= 0.8, result
    assert result["hits@20"] >= 0.5, result


# ------------------------------------------------------- sparse products
def _naive_product(self, x):
    """The product as before: ``torch.sparse.mm`` on the matrix alone (its backward transposes it)."""
    return torch.sparse.mm(self.a.to_sparse_coo(), x)


@pytest.mark.parametrize("seed", range(6))
def test_sparse_operator_forward_and_gradient_equal_torch_sparse_mm(seed):
    rng = np.random.default_rng(seed)
    rows, cols, d = (int(v) for v in rng.integers(1, 40, size=3))
    m = sp.random(rows, cols, density=float(rng.uniform(0.02, 0.5)), random_state=seed, format="coo", dtype=np.float32)
    symmetric = seed % 2 == 0
    if symmetric:  # A + A^T, square
        m = sp.random(rows, rows, density=0.2, random_state=seed, format="coo", dtype=np.float32)
        m = (m + m.T).tocoo()
        cols = rows
    index = torch.from_numpy(np.stack([m.row, m.col]).astype(np.int64))
    op = SparseOperator.from_coo(index, torch.from_numpy(m.data), (rows, cols), symmetric=symmetric)
    coo = torch.sparse_coo_tensor(index, torch.from_numpy(m.data), (rows, cols), check_invariants=True)
    x = torch.from_numpy(rng.normal(size=(cols, d)).astype(np.float32))
    up = torch.from_numpy(rng.normal(size=(rows, d)).astype(np.float32))  # dL/dY
    got_x, want_x = x.clone().requires_grad_(), x.clone().requires_grad_()
    got, want = op @ got_x, torch.sparse.mm(coo, want_x)
    (got * up).sum().backward()
    (want * up).sum().backward()
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_x.grad.numpy(), want_x.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(op.a_t.to_dense().numpy(), m.toarray().T)


def _dense_gcn_norm(ei: np.ndarray, n: int, *, loops: bool) -> np.ndarray:
    """``D^-1/2 (A + I) D^-1/2`` straight from the definition (``A`` from the edge list, degree = row sum)."""
    a = np.zeros((n, n))
    np.add.at(a, (ei[1], ei[0]), 1.0)
    if loops:
        a += np.eye(n)
    d = a.sum(axis=1)
    return a / np.sqrt(np.outer(d, d))


@pytest.mark.parametrize("seed", range(4))
def test_gcn_weights_are_the_symmetric_normalisation(seed):
    n = 12
    e = np.unique(np.sort(np.random.default_rng(seed).integers(0, n, size=(2, 30)), axis=0), axis=1)
    e = e[:, e[0] != e[1]]
    both = torch.from_numpy(np.concatenate([e, e[::-1]], axis=1))
    ei, w = gcn_weights(both, n, add_self_loops=True)
    assert torch.equal(ei[:, : both.shape[1]], both)  # the given edges first, in order
    got = np.zeros((n, n))
    np.add.at(got, (ei[1].numpy(), ei[0].numpy()), w.numpy())
    np.testing.assert_allclose(got, _dense_gcn_norm(both.numpy(), n, loops=True), rtol=1e-6)
    # the graph of a training step: self-loops given, edges removed
    kept = torch.cat([both[:, 2:], ei[:, both.shape[1] :]], dim=1)
    ei2, w2 = gcn_weights(kept, n, add_self_loops=False)
    got2 = np.zeros((n, n))
    np.add.at(got2, (ei2[1].numpy(), ei2[0].numpy()), w2.numpy())
    np.testing.assert_allclose(got2, _dense_gcn_norm(both[:, 2:].numpy(), n, loops=True), rtol=1e-6)


@pytest.mark.parametrize("loops", [True, False])
def test_gcn_weights_equal_pygs_gcn_norm_to_the_bit(loops):
    """Self-loops given, repeated edges, isolated nodes: the same edges and float32 weights as PyG."""
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    rng = np.random.default_rng(7)
    n = 40
    ei = torch.from_numpy(np.concatenate([rng.integers(0, 30, (2, 150)), [[3, 5, 5], [3, 5, 5]]], axis=1))
    want = gcn_norm(ei, None, n, add_self_loops=loops)
    got = gcn_weights(ei, n, add_self_loops=loops)
    assert torch.equal(got[0], want[0])
    assert got[1].dtype == want[1].dtype == torch.float32
    assert torch.equal(got[1], want[1])


def test_gcn_layer_is_pygs_gcnconv_for_a_seed():
    """Same parameter names and shapes, the same seeded values, the same random numbers drawn."""
    from torch_geometric.nn import GCNConv

    from topo_graphdb.model._encoders import GCNLayer

    torch.manual_seed(3)
    want = GCNConv(17, 9, normalize=False, add_self_loops=False).state_dict()
    after_pyg = torch.rand(4)
    torch.manual_seed(3)
    got = GCNLayer(17, 9).state_dict()
    after_ours = torch.rand(4)
    assert list(got) == list(want)
    for key in want:
        assert torch.equal(got[key], want[key]), key
    assert torch.equal(after_ours, after_pyg)


def test_a_gcn_fit_does_not_import_torch_geometric():
    """PyG's import (about 3.5 s) is kept off the GCN path: a fresh process fits and scores a GCN without it."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from topo_graphdb.model.splits import random_split\n"
        "from topo_graphdb.model.predictor import LinkPredictor\n"
        "rng = np.random.default_rng(0)\n"
        "split = random_split(rng.integers(0, 40, (2, 200)), 40, seed=0)\n"
        "lp = LinkPredictor('gcn', hidden=8, epochs=2, progress=False, device='cpu').fit(split)\n"
        "lp.score(split.test_pos)\n"
        "print(sorted(m for m in sys.modules if m.startswith('torch_geometric')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize("tc_alpha", [0.0, 2.0])
def test_fit_equals_a_fit_with_torch_sparse_mm(split_x, monkeypatch, tc_alpha):
    """Sparse features and GCN layers (with TC re-weighting the adjacency is not symmetric):
    the same seeded fit, within float tolerance, as with ``torch.sparse.mm``."""
    fast = _fit(split_x, seed=2, tc_alpha=tc_alpha, epochs=5)
    monkeypatch.setattr(SparseOperator, "__matmul__", _naive_product)
    slow = _fit(split_x, seed=2, tc_alpha=tc_alpha, epochs=5)
    pairs = np.concatenate([split_x.test_pos, split_x.test_neg], axis=1)
    np.testing.assert_allclose(fast.score(pairs), slow.score(pairs), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose([h["loss"] for h in fast.history_], [h["loss"] for h in slow.history_], rtol=1e-5)
    assert fast.best_epoch_ == slow.best_epoch_


def test_ncn_takes_smaller_steps_unless_told():
    assert make_predictor("ncn").batch_size == 256
    assert make_predictor("ncn", batch_size=64).batch_size == 64
    assert make_predictor("gcn").batch_size == LinkPredictor().batch_size


# ------------------------------------------------------------ sampled training
@pytest.mark.parametrize("model, features", [("gcn", False), ("gcn", True), ("sage", False)])
def test_sampled_training_finds_the_planted_partition(model, features):
    """Mini-batches on sampled subgraphs (5 neighbours per node) learn the planted partition:
    held-out links well above random non-links (chance: AUC 0.5), and well above the same
    network untrained (one step at a learning rate too small to move it)."""
    edges = _planted_partition(200, 8, 0.4, 0.005, seed=0)
    x = None
    if features:  # a noisy one-hot of the block, sparse: the rows of sparse features are sliced per step
        rng = np.random.default_rng(0)
        x = sp.csr_matrix(np.eye(8)[np.arange(200) % 8] * (rng.random((200, 8)) < 0.7) + (rng.random((200, 8)) < 0.1))
    sbm = random_split(edges, 200, seed=0, x=x)
    common = dict(hidden=64, batching="sampled", fanout=5, batch_size=256, seed=0, progress=False, device="cpu")
    lp = LinkPredictor(model, lr=0.02, epochs=40, patience=40, **common).fit(sbm)
    untrained = LinkPredictor(model, lr=1e-9, epochs=1, patience=1, **common).fit(sbm)
    got, chance = evaluate_edges(lp, sbm)["test"], evaluate_edges(untrained, sbm)["test"]
    assert lp.batching_ == "sampled" and sbm.test_pos.shape[1] > 150
    assert got["auc"] >= 0.8 and got["auc"] >= chance["auc"] + 0.15, (got, chance)


@pytest.mark.parametrize("mask", [True, False])
def test_a_sampled_step_passes_messages_over_sampled_training_edges_without_its_targets(monkeypatch, mask):
    from topo_graphdb.model._minibatch import SampledSteps

    edges = _planted_partition(120, 4, 0.3, 0.01, seed=2)
    split = random_split(edges, 120, seed=2)
    steps = []
    step_edges = SampledSteps.step_edges

    def spy(self, batch, m):
        out = step_edges(self, batch, m)
        steps.append((batch, out))
        return out

    monkeypatch.setattr(SampledSteps, "step_edges", spy)
    LinkPredictor("gcn", hidden=8, epochs=2, batching="sampled", fanout=50, batch_size=64, mask_targets=mask, progress=False, device="cpu").fit(split)
    train = {tuple(e) for e in split.train_pos.T.tolist()}
    train |= {(b, a) for a, b in train}
    assert len(steps) == 2 * -(-split.train_pos.shape[1] // 64)  # the steps of the full-batch epoch
    seen_targets = 0
    for batch, ei in steps:
        nid = batch.n_id.numpy()
        used = {tuple(e) for e in nid[ei.numpy()].T.tolist()}
        assert used <= train  # only training edges pass messages
        pos = nid[batch.edge_label_index[:, batch.edge_label > 0.5].numpy()].T.tolist()
        targets = {tuple(p) for p in pos} | {(b, a) for a, b in pos}
        assert len(pos) == int((batch.edge_label < 0.5).sum())  # as many negatives as positives
        seen_targets += len(used & targets)
    # with masking no step sees its own positives; without it (all 50 neighbours: the whole
    # neighbourhood of each seed) they are there, so the check above could fail
    assert (seen_targets == 0) if mask else (seen_targets > 0)


def test_sampled_fits_repeat_and_auto_samples_only_beyond_the_budget():
    edges = _planted_partition(80, 4, 0.3, 0.02, seed=3)
    split = random_split(edges, 80, seed=3)
    pairs = np.stack([np.arange(80), np.arange(80)[::-1]])
    a, b = (LinkPredictor("gcn", hidden=8, epochs=3, batching="auto", memory_budget=1, progress=False, device="cpu").fit(split) for _ in range(2))
    assert a.batching_ == b.batching_ == "sampled"
    np.testing.assert_array_equal(a.score(pairs), b.score(pairs))
    full = LinkPredictor("gcn", hidden=8, epochs=3, batching="auto", memory_budget=2**40, progress=False, device="cpu").fit(split)
    assert full.batching_ == "full" and 0 < full.full_batch_bytes() < 2**40
    assert LinkPredictor("ncn", hidden=8, epochs=1, batching="auto", memory_budget=1, progress=False, device="cpu").fit(split).batching_ == "full"


@pytest.mark.parametrize("settings, message", [
    ({"batching": "minibatch"}, "batching must be one of"),
    ({"batching": "sampled", "fanout": 0}, "fanout must be an integer >= 1"),
    ({"model": "ncn", "batching": "sampled"}, "trains gcn and sage"),
    ({"batching": "sampled", "tc_alpha": 0.5}, "TC re-weighting"),
    ({"memory_budget": 0}, "memory_budget must be an integer >= 1"),
])  # fmt: skip
def test_bad_batching_settings_are_input_errors(settings, message):
    split = random_split(_planted_partition(40, 2, 0.3, 0.05, seed=4), 40, seed=4)
    settings = {"model": "gcn", **settings}
    with pytest.raises(InputError, match=message):
        LinkPredictor(settings.pop("model"), epochs=1, progress=False, device="cpu", **settings).fit(split)


@pytest.mark.parametrize("model", ["ncn", "ncnc", "gcn"])
def test_validation_and_scores_in_pieces_equal_one_piece(split, monkeypatch, model):
    """Validation pairs and score() go through PAIR_PIECE pairs at a time; pieces of 5 give
    the same validation history and the same scores as one piece."""
    import topo_graphdb.model.predictor as predictor_module

    whole = _fit(split, model=model, epochs=3)
    monkeypatch.setattr(predictor_module, "PAIR_PIECE", 5)
    pieces = _fit(split, model=model, epochs=3)
    assert split.valid_pos.shape[1] > 5
    for a, b in zip(whole.history_, pieces.history_, strict=True):
        assert (a["loss"], a["valid_hits"], a["valid_mrr"]) == (b["loss"], b["valid_hits"], b["valid_mrr"])
    pairs = np.concatenate([split.valid_pos, split.test_pos], axis=1)
    np.testing.assert_allclose(whole.score(pairs), whole.score(pairs, batch_size=5), rtol=1e-6)
