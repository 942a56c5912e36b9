"""The held-out check a run makes of its link probabilities (model.holdout) and the sync's hold-out split."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

pytest.importorskip("sklearn")

from threadpoolctl import threadpool_limits  # noqa: E402  (installed with scikit-learn)

from topo_graphdb.kernels import default_beta  # noqa: E402
from topo_graphdb.kernels.oracle import naive_pair_tc  # noqa: E402
from topo_graphdb.model import holdout  # noqa: E402
from topo_graphdb.model.heuristics import HeuristicPredictor  # noqa: E402
from topo_graphdb.model.predict import predict_links  # noqa: E402
from topo_graphdb.model.splits import random_split  # noqa: E402
from topo_graphdb.snapshot import adjacency_matrix  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


def test_doctests():
    result = doctest.testmod(holdout)
    assert result.attempted >= 2 and result.failed == 0


def _blocks(seed: int, sizes=(40,) * 5, p_in=(0.4, 0.25, 0.15, 0.08, 0.05), p_out=0.004):
    rng = np.random.default_rng(seed)
    block = np.repeat(np.arange(len(sizes)), sizes)
    i, j = np.triu_indices(block.size, 1)
    keep = rng.random(i.size) < np.where(block[i] == block[j], np.asarray(p_in)[block[i]], p_out)
    return np.stack([i[keep], j[keep]]), int(block.size)


def _check(seed: int = 0, k: int = 5):
    edges, n = _blocks(seed)
    split = random_split(edges, n, valid_fraction=0.1, test_fraction=0.1, seed=seed)
    known = np.concatenate([split.train_pos, split.valid_pos], axis=1)
    predictor = HeuristicPredictor("ra").fit(random_split(known, n, valid_fraction=0.0, test_fraction=0.0))
    exclude = adjacency_matrix(known, n)

    def predict(batch):
        return predict_links(predictor, nodes=batch, top_k=k, exclude=exclude)

    beta = default_beta(known, n)
    check = holdout.calibrate(predict, known, split.test_pos, n, sources=holdout.sample_sources(n), k=k, hops=2, beta=beta, seed=seed)
    return check, predictor, known, split, n, beta, k


def test_calibrate_scores_each_half_with_the_other_half_and_reports_on_every_source():
    check, _, _, split, n, _, k = _check()
    m = check.metrics
    assert m["link_auc"] > 0.6 and 0.0 <= m["ece"] <= 0.1 and 0.0 <= m["brier"] <= 1.0
    assert m["heldout_edges"] == split.test_pos.shape[1] and m["sources"] == n and m["k"] == k
    assert {"degree", "tc_train_k1", "tc_train_k2", "expected_precision"} <= set(m["nodes"]["spearman"])
    assert any(name.startswith("log_pair_tc_k") for name in m["features"]) and "tc_train_k2_src" in m["features"]
    half = check.nodes["half"]
    assert 0 < half.sum() < n and check.nodes["sampled"].all()
    assert check.metrics["links"] == check.links["src"].size
    assert check.metrics["calibrator"]["model"] == check.calibrator.chosen_
    # the reported nodes are sampled nodes with a held-out edge and a measured precision
    measured = check.nodes["measured_precision"]
    held = np.bincount(split.test_pos.reshape(-1), minlength=n)
    assert np.isfinite(measured[held > 0]).all() and np.isnan(measured[held == 0]).all()
    assert m["nodes"]["evaluated"] <= int((held > 0).sum())
    for name in ("reliability", "lift"):
        assert check.figures[name].startswith(b"\x89PNG")


def test_apply_gives_probabilities_pair_tc_and_expected_precision():
    check, predictor, _, split, n, beta, k = _check(seed=1)
    full = np.concatenate([split.train_pos, split.valid_pos, split.test_pos], axis=1)
    links = predict_links(predictor, top_k=k, exclude=adjacency_matrix(full, n))
    out = holdout.apply(check, links["src"], links["dst"], links["score"], full, n)
    assert out["probability"].shape == links["src"].shape
    assert ((out["probability"] >= 0) & (out["probability"] <= 1)).all()
    want = naive_pair_tc(full, np.stack([links["src"], links["dst"]]), hops=2, beta=beta, num_nodes=n)
    np.testing.assert_allclose(out["tc"], want, rtol=1e-9)
    ep = np.bincount(links["src"], out["probability"], minlength=n) / k
    has = np.bincount(links["src"], minlength=n) > 0
    np.testing.assert_allclose(out["expected_precision"][has], ep[has], rtol=1e-12)
    assert np.isnan(out["expected_precision"][~has]).all()
    # node TC the run already has is reused, not recomputed: same answer; a wrong one would show
    tc2 = holdout.node_tc(full, n, 2, beta, "cpu")["tc_train_k2"]
    reused = holdout.apply(check, links["src"], links["dst"], links["score"], full, n, known_tc={"tc_train_k2": tc2})
    for key in out:
        np.testing.assert_array_equal(reused[key], out[key])
    wrong = holdout.apply(check, links["src"], links["dst"], links["score"], full, n, known_tc={"tc_train_k2": np.zeros(n)})
    assert not np.array_equal(wrong["probability"], out["probability"])


def test_node_activity_enters_the_calibration_and_apply_needs_it():
    """Held-out edges among the recently active nodes: the calibration that reads activity separates them better."""
    from topo_graphdb.errors import InputError
    from topo_graphdb.model.trust import node_activity

    edges, n = _blocks(4, sizes=(80,) * 5)
    split = random_split(edges, n, valid_fraction=0.0, test_fraction=0.0, seed=4)
    rng = np.random.default_rng(4)
    active = rng.random(n) < 0.5
    pairs = split.train_pos
    both = active[pairs[0]] & active[pairs[1]]
    held_mask = both & (rng.random(pairs.shape[1]) < 0.3)  # about 200 held-out edges, all between active nodes
    known, held = pairs[:, ~held_mask], pairs[:, held_mask]
    # known events: active nodes had events lately, the others long ago
    recent = active[known[0]] | active[known[1]]
    times = np.where(recent, rng.uniform(80, 100, known.shape[1]), rng.uniform(0, 60, known.shape[1]))
    activity = node_activity(known, times, n)
    predictor = HeuristicPredictor("ra").fit(random_split(known, n, valid_fraction=0.0, test_fraction=0.0))
    exclude = adjacency_matrix(known, n)

    def predict(batch):
        return predict_links(predictor, nodes=batch, top_k=5, exclude=exclude)

    beta = default_beta(known, n)
    run = {"sources": holdout.sample_sources(n), "k": 5, "hops": 1, "beta": beta, "seed": 0, "figures": False}
    plain = holdout.calibrate(predict, known, held, n, **run)
    timed = holdout.calibrate(predict, known, held, n, activity=activity, **run)
    assert not plain.activity and timed.activity and {"age_dst", "path2_age"} <= set(timed.metrics["features"])
    assert timed.metrics["link_auc"] > plain.metrics["link_auc"] + 0.05  # 0.14-0.20 apart on seeds 4-7
    links = predict_links(predictor, top_k=5, exclude=exclude)
    with pytest.raises(InputError, match="activity"):
        holdout.apply(timed, links["src"], links["dst"], links["score"], known, n)
    out = holdout.apply(timed, links["src"], links["dst"], links["score"], known, n, activity=activity)
    flat = holdout.apply(timed, links["src"], links["dst"], links["score"], known, n, activity={**activity, "age": np.ones(n), "log_recent": np.zeros(n)})
    assert ((out["probability"] >= 0) & (out["probability"] <= 1)).all()
    assert not np.array_equal(out["probability"], flat["probability"])


def test_the_same_inputs_give_the_same_probabilities():
    a, *_ = _check(seed=2)
    b, *_ = _check(seed=2)
    drop = ("calibrator",)  # holds timings
    assert {k: v for k, v in a.metrics.items() if k not in drop} == {k: v for k, v in b.metrics.items() if k not in drop}
    assert a.metrics["calibrator"]["model"] == b.metrics["calibrator"]["model"]
    np.testing.assert_array_equal(a.nodes["expected_precision"], b.nodes["expected_precision"])


def test_link_ranks_follow_scores_within_each_source():
    src = np.array([2, 2, 0, 2, 0])
    score = np.array([0.1, 0.7, 0.3, 0.7, 0.9])
    assert holdout.link_ranks(src, score).tolist() == [3, 1, 2, 2, 1]


def test_sync_holds_out_the_newest_share_even_with_tied_times():
    from topo_graphdb.model.splits import temporal_split
    from topo_graphdb.pipeline.phases import VALID_FRACTION

    rng = np.random.default_rng(0)
    n = 300
    pairs = {(int(min(a, b)), int(max(a, b))) for a, b in rng.integers(0, n, (2, 2000)).T if a != b}
    edges = np.array(sorted(pairs)).T
    times = rng.integers(2000, 2005, edges.shape[1]).astype(float)  # five distinct years: heavy ties
    split = temporal_split(edges, times, n, valid_fraction=VALID_FRACTION, test_fraction=0.1, seed=0)
    m = edges.shape[1]
    assert split.test_pos.shape[1] == round(0.1 * m) and split.valid_pos.shape[1] == round(VALID_FRACTION * m)
    assert split.train_pos.shape[1] + split.valid_pos.shape[1] + split.test_pos.shape[1] == m
    when = {tuple(e): t for e, t in zip(edges.T.tolist(), times)}
    newest_train = max(when[tuple(e)] for e in split.train_pos.T.tolist())
    oldest_test = min(when[tuple(e)] for e in split.test_pos.T.tolist())
    assert newest_train <= oldest_test and split.meta["kind"] == "temporal"
    again = temporal_split(edges, times, n, valid_fraction=VALID_FRACTION, test_fraction=0.1, seed=0)
    np.testing.assert_array_equal(again.test_pos, split.test_pos)


def test_evaluate_trust_check_reads_activity_on_a_split_by_time_only():
    from topo_graphdb.model.evaluate import trust_check
    from topo_graphdb.model.splits import temporal_split

    edges, n = _blocks(3)
    times = np.random.default_rng(3).uniform(0, 100, edges.shape[1])
    predictor = HeuristicPredictor("ra")
    by_time = temporal_split(edges, times, n, valid_fraction=0.1, test_fraction=0.2, seed=3)
    at_random = random_split(edges, n, valid_fraction=0.1, test_fraction=0.2, seed=3)
    timed = trust_check(predictor.fit(by_time), by_time, hops=(1,), k=5, backend="cpu")
    assert timed.activity and "age_src" in timed.metrics["features"]
    plain = trust_check(HeuristicPredictor("ra").fit(at_random), at_random, hops=(1,), k=5, backend="cpu")
    assert not plain.activity and "age_src" not in plain.metrics["features"]
