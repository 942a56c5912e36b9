"""Calibrated link probabilities and expected precision (topo_graphdb.model.trust), and their
end-to-end protocol (topo_graphdb.model.holdout.trust_protocol)."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("sklearn")

from threadpoolctl import threadpool_limits  # noqa: E402  (installed with scikit-learn)

from topo_graphdb.errors import EmptyGraphError, InputError  # noqa: E402
from topo_graphdb.model import report, trust  # noqa: E402
from topo_graphdb.model.evaluate import edge_predictor_factory  # noqa: E402
from topo_graphdb.model.heuristics import HeuristicPredictor  # noqa: E402
from topo_graphdb.model.holdout import trust_protocol  # noqa: E402
from topo_graphdb.model.report import json_ready  # noqa: E402
from topo_graphdb.model.splits import random_split, temporal_split  # noqa: E402
from topo_graphdb.model.trust import (  # noqa: E402
    CrossFitCalibrator,
    LinkCalibrator,
    activity_before_holdout,
    brier_score,
    calibrator,
    expected_calibration_error,
    expected_precision,
    features,
    figures,
    holdout_labels,
    lift,
    lift_interval,
    link_features,
    measured_precision,
    metrics,
    node_activity,
    quintile_means,
    spearman_same_nodes,
    within_source_auc,
)
from topo_graphdb.model.trust.features import PATH_TAU  # noqa: E402
from topo_graphdb.snapshot import adjacency_matrix  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):  # OpenMP threads only slow a shared machine down here
        yield


@pytest.mark.parametrize("module", [features, metrics], ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_doctests(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 3
    assert result.failed == 0


def test_public_names_are_importable_from_the_package():
    for name in trust.__all__:
        assert getattr(trust, name) is not None
    assert {*calibrator.__all__, *features.__all__, *figures.__all__, *metrics.__all__} <= set(trust.__all__)


# ------------------------------------------------------------------ metrics
def test_brier_by_hand():
    assert brier_score([1.0, 0.0], [1, 0]) == 0.0
    assert brier_score([0.2, 0.6], [0, 1]) == pytest.approx((0.04 + 0.16) / 2)
    assert np.isnan(brier_score([], []))


def test_ece_by_hand_and_edges_of_bins():
    # bins of width 0.5: {0.2, 0.4} mean 0.3 vs 0.5 -> 0.2; {0.5, 1.0} mean 0.75 vs 1 -> 0.25
    ece = expected_calibration_error([0.2, 0.4, 0.5, 1.0], [0, 1, 1, 1], bins=2)
    assert ece == pytest.approx(0.5 * 0.2 + 0.5 * 0.25)
    assert expected_calibration_error([1.0, 1.0], [1, 1]) == 0.0  # p = 1 falls in the last bin
    with pytest.raises(InputError, match="bins"):
        expected_calibration_error([0.5], [1], bins=0)


def test_ece_of_a_calibrated_sample_is_near_zero_and_of_a_biased_one_is_not():
    rng = np.random.default_rng(3)
    p = rng.random(200_000)
    y = rng.random(p.size) < p
    assert expected_calibration_error(p, y) < 0.005
    assert expected_calibration_error(np.clip(p + 0.1, 0, 1), y) > 0.07


def test_quintiles_and_lift():
    score = np.arange(20.0)
    target = np.repeat([1.0, 2.0, 2.0, 3.0, 5.0], 4)
    q = quintile_means(score, target)
    assert q["mean"] == [1.0, 2.0, 2.0, 3.0, 5.0] and q["count"] == [4] * 5
    assert lift(score, target) == 5.0
    assert lift(-score, target) == pytest.approx(0.2)
    assert lift(score, np.r_[np.zeros(16), np.ones(4)]) == np.inf
    assert np.isnan(lift(np.ones(20), target))  # constant score: everything in one quintile
    # NaN entries are dropped jointly
    q2 = quintile_means(np.r_[score, np.nan, 3.0], np.r_[target, 100.0, np.nan])
    assert q2 == q


def test_lift_interval_holds_the_lift_and_says_how_far_chance_moves_it():
    rng = np.random.default_rng(3)
    score = rng.random(400)
    hits = rng.binomial(10, 0.02 + 0.1 * score) / 10  # Precision@10 of nodes whose chance grows with the score
    low, high = lift_interval(score, hits, draws=400, seed=1)
    assert low < lift(score, hits) < high
    assert low > 1.5  # a real signal: the interval stays well above 1
    noise = rng.binomial(10, 0.05, 400) / 10
    low, high = lift_interval(score, noise, draws=400, seed=1)
    assert low < 1.0 < high
    assert lift_interval(score, hits, draws=400, seed=1) == lift_interval(score, hits, draws=400, seed=1)  # seeded
    assert all(np.isnan(lift_interval(score[:9], hits[:9])))
    with pytest.raises(InputError, match="level"):
        lift_interval(score, hits, level=1.0)


def test_spearman_same_nodes_drops_nan_rows_jointly():
    rng = np.random.default_rng(0)
    target = rng.random(50)
    a = target + 0.1 * rng.random(50)
    b = rng.random(50)
    a[:5] = np.nan
    b[5:12] = np.nan
    target[45:] = np.nan
    out = spearman_same_nodes({"a": a, "b": b}, target)
    keep = np.ones(50, bool)
    keep[:12] = False
    keep[45:] = False
    assert out["nodes"] == keep.sum() == 33
    from scipy.stats import spearmanr

    assert out["spearman"]["a"] == pytest.approx(spearmanr(a[keep], target[keep])[0])
    assert out["spearman"]["b"] == pytest.approx(spearmanr(b[keep], target[keep])[0])
    with pytest.raises(InputError, match="'a'"):
        spearman_same_nodes({"a": a[:3]}, target)


def test_within_source_auc_matches_per_source_roc_auc():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    src = np.repeat(np.arange(30), 10)
    prob = np.round(rng.random(src.size), 1)  # ties inside sources
    y = rng.random(src.size) < 0.3
    got = within_source_auc(src, prob, y)
    per = [roc_auc_score(y[src == s], prob[src == s]) for s in range(30) if 0 < y[src == s].sum() < 10]
    assert got["sources"] == len(per)
    assert got["mean"] == pytest.approx(np.mean(per))
    perm = rng.permutation(src.size)  # order of the links does not matter
    assert within_source_auc(src[perm], prob[perm], y[perm]) == got


# ------------------------------------------------------- labels, features
def test_holdout_labels_read_pairs_undirected():
    links = {"src": np.array([0, 3, 1, 2]), "dst": np.array([3, 0, 2, 4])}
    held = np.array([[3, 4], [0, 2]])  # edges 3-0 and 4-2
    assert holdout_labels(links, held, 5).tolist() == [True, True, False, True]


def _small_graph():
    # 0-1, 0-2, 1-2, 1-3, 2-3, 3-4 ; degrees 2, 3, 3, 3, 1
    return adjacency_matrix(np.array([[0, 0, 1, 1, 2, 3], [1, 2, 2, 3, 3, 4]]), 6, np.float64)


def test_link_features_by_hand():
    adj = _small_graph()
    links = {"src": np.array([0, 0, 4, 5]), "dst": np.array([3, 4, 1, 0]), "score": np.array([3.0, 1.0, 0.5, 0.0]), "rank": np.array([1, 2, 1, 1])}
    X, names = link_features(links, adj, pair_tc=np.array([[0.5, 0.0, np.nan, 1.0], [1.0, 2.0, 3.0, 4.0]]))
    f = {name: X[:, i] for i, name in enumerate(names)}
    assert f["cn"].tolist() == [2, 0, 1, 0]  # 0,3 share 1 and 2; 4,1 share 3
    assert f["cn_share"].tolist() == [1.0, 0.0, 1.0, 0.0]  # min degrees 2, 1, 1, 0
    assert f["ra"] == pytest.approx([1 / 3 + 1 / 3, 0.0, 1 / 3, 0.0])
    assert f["score_gap"].tolist() == [0.0, -2.0, 0.0, 0.0]
    assert f["score_z"].tolist() == [1.0, -1.0, 0.0, 0.0]  # source 0: mean 2, sd 1
    assert f["log_deg_src"] == pytest.approx(np.log1p([2, 2, 1, 0]))
    assert f["log_deg_dst"] == pytest.approx(np.log1p([3, 1, 3, 2]))
    assert f["clustering_src"] == pytest.approx([1.0, 1.0, 0.0, 0.0])
    assert f["clustering_dst"] == pytest.approx([1 / 3, 0.0, 2 / 3, 1.0])
    assert f["log_walks2_src"] == pytest.approx(np.log1p([6, 6, 3, 0]))  # sum of the neighbours' degrees
    assert f["log_nbr_deg_src"] == pytest.approx(np.log1p([3, 3, 3, 0]))
    assert f["log_pair_tc_k1"] == pytest.approx(np.log1p([0.5, 0.0, 0.0, 1.0]))  # NaN -> 0
    assert f["log_pair_tc_k2"] == pytest.approx(np.log1p([1.0, 2.0, 3.0, 4.0]))
    assert np.isfinite(X).all()
    with pytest.raises(InputError, match="pair_tc"):
        link_features(links, adj, pair_tc=np.zeros((2, 3)))
    with pytest.raises(InputError, match="missing rank"):
        link_features({k: v for k, v in links.items() if k != "rank"}, adj)


def test_list_and_pair_features_match_a_naive_oracle():
    rng = np.random.default_rng(5)
    n = 40
    upper = np.triu(rng.random((n, n)) < 0.12, 1)
    dense = (upper | upper.T).astype(float)
    adj = sp.csr_matrix(dense)
    src = np.repeat(np.arange(n), 4)
    dst = (src + rng.integers(1, n, src.size)) % n
    score = np.round(rng.normal(size=src.size), 1)  # ties between links
    links = {"src": src, "dst": dst, "score": score, "rank": np.tile(np.arange(1, 5), n)}
    X, names = link_features(links, adj)
    f = {name: X[:, i] for i, name in enumerate(names)}
    deg = dense.sum(1)
    walks3 = dense @ dense @ dense
    q = f["score_quantile"]
    for i in range(src.size):
        a, b = src[i], dst[i]
        common = np.flatnonzero(dense[a] * dense[b])
        either = np.flatnonzero(dense[a] + dense[b])
        own = q[src == a]
        target_list = q[src == b]
        assert f["jaccard"][i] == pytest.approx(common.size / either.size if either.size else 0.0)
        assert f["adamic_adar"][i] == pytest.approx(sum(1 / np.log(deg[z]) for z in common))
        assert f["log_paths3"][i] == pytest.approx(np.log1p(walks3[a, b]))
        assert f["lowest_quantile"][i] == own.min() and f["mean_quantile"][i] == pytest.approx(own.mean())
        assert f["quantile_spread"][i] == pytest.approx(own.max() - own.min())
        assert f["quantile_vs_mean"][i] == pytest.approx(q[i] - own.mean())
        assert f["rank_share"][i] == links["rank"][i] / own.size
        assert f["quantile_vs_dst_lowest"][i] == pytest.approx(q[i] - target_list.min() if target_list.size else 0.0)
        assert f["mutual"][i] == float(np.any((src == b) & (dst == a)))
        assert f["log_deg_src_x_quantile"][i] == pytest.approx(np.log1p(deg[a]) * q[i])


def test_node_activity_equals_a_loop_over_the_events():
    rng = np.random.default_rng(11)
    n, m = 30, 200
    edges = rng.integers(0, n - 3, (2, m))  # the last nodes have no event
    times = rng.integers(0, 50, m).astype(float)  # repeated times
    for before in (None, 30.0, 0.0):
        got = node_activity(edges, times, n, before=before, recent_share=0.2)
        keep = [e for e in range(m) if before is None or times[e] < before]
        t = times[keep]
        for v in range(n):
            mine = [times[e] for e in keep if v in (edges[0, e], edges[1, e])]
            counts = [int(edges[0, e] == v) + int(edges[1, e] == v) for e in keep if times[e] >= t.max() - 0.2 * (t.max() - t.min())] if keep else []
            age = (t.max() - max(mine)) / (t.max() - t.min()) if mine else 1.0
            assert got["age"][v] == pytest.approx(age)
            assert got["log_recent"][v] == pytest.approx(np.log1p(sum(counts)))
        recency = got["pair_recency"].toarray()
        for u in range(n):
            for v in range(n):
                mine = [times[e] for e in keep if {u, v} == {edges[0, e], edges[1, e]} and u != v]
                want = np.exp(-(t.max() - max(mine)) / (t.max() - t.min()) / PATH_TAU) if mine else 0.0
                assert recency[u, v] == pytest.approx(want), (before, u, v)
    with pytest.raises(InputError, match="one entry per edge"):
        node_activity(edges, times[:-1], n)
    with pytest.raises(InputError, match="finite"):
        node_activity(edges, np.r_[times[:-1], np.nan], n)


def test_activity_before_holdout_reads_only_the_events_before_the_first_heldout_edge():
    rng = np.random.default_rng(3)
    n, m = 40, 300
    edges = np.stack([rng.integers(0, 20, m), rng.integers(20, n, m)])  # no self-pairs, no repeats needed
    times = rng.permutation(m).astype(float)
    split = temporal_split(edges, times, n, valid_fraction=0.0, test_fraction=0.2, seed=0)
    t2 = float(split.meta["t2"])
    got = activity_before_holdout(edges, times, n, split)
    want = node_activity(edges[:, times < t2], times[times < t2], n)
    assert 0 < (times < t2).sum() < m
    for key in ("age", "log_recent"):
        np.testing.assert_array_equal(got[key], want[key])
    assert (got["pair_recency"] != want["pair_recency"]).nnz == 0
    assert activity_before_holdout(edges, times, n, random_split(edges, n, valid_fraction=0.0, test_fraction=0.2, seed=0)) is None


def test_activity_columns_read_both_ends():
    adj = sp.csr_matrix(np.ones((4, 4)) - np.eye(4))
    links = {"src": np.array([0, 3]), "dst": np.array([2, 1]), "score": np.array([1.0, 0.5]), "rank": np.array([1, 1])}
    activity = {"age": np.array([0.0, 0.1, 0.2, 0.3]), "log_recent": np.array([1.0, 2.0, 3.0, 4.0]), "pair_recency": sp.csr_matrix((4, 4))}
    X, names = link_features(links, adj, activity=activity)
    f = {name: X[:, i].tolist() for i, name in enumerate(names)}
    assert (f["age_src"], f["age_dst"], f["log_recent_src"], f["log_recent_dst"]) == ([0.0, 0.3], [0.2, 0.1], [1.0, 4.0], [3.0, 2.0])
    assert f["path2_age"] == [2.0, 2.0]  # no dated two-step path
    assert "age_src" not in link_features(links, adj)[1]
    with pytest.raises(InputError, match="activity"):
        link_features(links, adj, activity={"age": np.zeros(3), "log_recent": np.zeros(3), "pair_recency": sp.csr_matrix((4, 4))})
    with pytest.raises(InputError, match="pair_recency"):
        link_features(links, adj, activity={**activity, "pair_recency": None})


@pytest.mark.parametrize("chunk", [65_536, 7])
def test_path2_age_equals_a_soft_minimum_over_the_common_neighbours(chunk, monkeypatch):
    """-tau log sum_z exp(-(age(i, z) + age(z, j)) / tau), looped over z; 2 without a common neighbour
    (the links in one sparse product, or in chunks of 7)."""
    monkeypatch.setattr(features, "_PAIR_CHUNK", chunk)
    rng = np.random.default_rng(5)
    n, m = 25, 120
    edges = rng.integers(0, n, (2, m))
    times = rng.uniform(0, 100, m)
    activity = node_activity(edges, times, n)
    adj = adjacency_matrix(edges, n, np.float64)
    src, dst = rng.integers(0, n, 300), rng.integers(0, n, 300)
    links = {"src": src, "dst": dst, "score": rng.normal(size=300), "rank": np.ones(300)}
    X, names = link_features(links, adj, activity=activity)
    got = X[:, names.index("path2_age")]
    span = times.max() - times.min()
    for i, (a, b) in enumerate(zip(src, dst)):
        ages = {}
        for e in range(m):
            u, v = edges[:, e]
            if u != v:
                ages[(u, v)] = ages[(v, u)] = min(ages.get((u, v), 2.0), (times.max() - times[e]) / span)
        terms = [np.exp(-(ages[(a, z)] + ages[(z, b)]) / PATH_TAU) for z in range(n) if (a, z) in ages and (z, b) in ages]
        assert got[i] == pytest.approx(-PATH_TAU * np.log(sum(terms)) if terms else 2.0, abs=1e-9), (a, b)


def test_normalised_score_columns_ignore_the_score_scale():
    rng = np.random.default_rng(2)
    adj = sp.random(60, 60, density=0.1, random_state=2, format="csr")
    adj = ((adj + adj.T) > 0).astype(float)
    src = np.repeat(np.arange(60), 5)
    links = {"src": src, "dst": rng.integers(0, 60, src.size), "score": rng.normal(size=src.size), "rank": np.tile(np.arange(1, 6), 60)}
    X1, names = link_features(links, adj)
    X2, _ = link_features({**links, "score": 7.0 * links["score"] + 3.0}, adj)
    for name in ("score_z", "score_gap_z", "score_quantile", "best_quantile"):
        i = names.index(name)
        assert X2[:, i] == pytest.approx(X1[:, i]), name


# ---------------------------------------------------------- calibrator
def _synthetic(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    p = 1.0 / (1.0 + np.exp(-(-2.5 + 1.2 * X[:, 0] - 0.8 * X[:, 1] + 0.6 * X[:, 0] * (X[:, 0] > 0))))
    y = rng.random(n) < p
    return X, y, p


def test_calibrator_recovers_known_probabilities():
    X, y, _ = _synthetic(30_000, 0)
    groups = np.arange(y.size) // 10
    cal = LinkCalibrator(seed=0).fit(X, y, groups)
    Xt, _, pt = _synthetic(20_000, 1)
    got = cal.predict_proba(Xt)
    assert got.shape == pt.shape and got.min() >= 0 and got.max() <= 1
    assert np.mean(np.abs(got - pt)) < 0.02
    s = cal.summary()
    assert s["model"] in s["candidates"] and "log_loss" in s["candidates"][s["model"]]
    assert s["rows"] == 30_000 and s["positive_rate"] == pytest.approx(y.mean())
    chosen = s["candidates"][s["model"]]["log_loss"]
    best = min(v["log_loss"] for v in s["candidates"].values() if "log_loss" in v)
    assert chosen - best < 0.01 * best  # within noise of the best; the simplest such one (below)
    json.dumps(s, allow_nan=False)


def test_one_standard_error_rule_prefers_the_simpler_candidate_within_noise():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(200), 10)
    base = rng.exponential(0.3, groups.size)
    noise = rng.normal(0, 0.05, groups.size)
    close = {"hgb+isotonic": base - 0.001 + noise, "hgb": base + noise, "logistic": base}
    assert calibrator._one_se_choice(close, groups) == "logistic"  # 0.001 better, well within one standard error
    far = {"hgb+isotonic": base - 0.05, "hgb": base - 0.001 + noise, "logistic": base}
    assert calibrator._one_se_choice(far, groups) == "hgb+isotonic"
    # the standard error counts groups, not rows: one source's rows move together
    diff = np.repeat(rng.normal(0, 1, 200), 10)
    assert calibrator._clustered_se(diff, groups) == pytest.approx(np.std(diff[::10], ddof=1) / np.sqrt(200), rel=0.02)
    assert calibrator._clustered_se(diff, np.zeros(groups.size)) == np.inf


def test_calibrator_without_signal_predicts_the_base_rate():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(5000, 2))
    y = rng.random(5000) < 0.1
    p = LinkCalibrator(seed=0, candidates=("logistic",)).fit(X, y, np.arange(5000) // 5).predict_proba(X)
    assert np.abs(p - y.mean()).max() < 0.03


def test_calibrator_on_all_negative_or_tiny_inputs_is_a_recorded_constant():
    X = np.zeros((50, 3))
    cal = LinkCalibrator().fit(X, np.zeros(50, bool), np.arange(50))
    assert cal.summary()["model"] == "constant" and "0 positive" in cal.summary()["reason"]
    assert cal.predict_proba(np.ones((4, 3))).tolist() == [0.0] * 4
    tiny = LinkCalibrator().fit(np.eye(3), [1, 0, 1], [0, 1, 2])
    assert tiny.summary()["model"] == "constant"
    assert tiny.predict_proba(np.eye(3)) == pytest.approx([2 / 3] * 3)
    few_groups = LinkCalibrator().fit(np.r_[np.zeros((20, 1)), np.ones((20, 1))], np.r_[np.zeros(20), np.ones(20)], np.repeat([0, 1, 2], [14, 13, 13]))
    assert few_groups.summary()["model"] == "logistic" and "source nodes" in few_groups.summary()["reason"]


def test_calibrator_with_a_handful_of_positives_skips_boosting_and_fits():
    # two positives, one per side of the validation split: gradient boosting (its early
    # stopping stratifies on y) cannot run on one positive and is skipped, logistic still fits
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    groups = np.arange(400) // 4
    for n_pos in (2, 3, 5, 19):
        y = np.zeros(400, bool)
        y[rng.choice(400, n_pos, replace=False)] = True
        cal = LinkCalibrator(seed=0).fit(X, y, groups)
        s = cal.summary()
        assert s["model"] == "logistic", s
        assert all("skipped" in s["candidates"][c] for c in ("hgb", "hgb+isotonic", "hgb+sigmoid") if c in s["candidates"]), s
        assert np.isfinite(cal.predict_proba(X)).all()
    only_boosted = LinkCalibrator(seed=0, candidates=("hgb",)).fit(X, y, groups)
    assert only_boosted.summary()["model"] == "logistic" and "too few positives" in only_boosted.summary()["reason"]


def test_cross_fit_scores_each_half_with_the_calibrator_of_the_other():
    rng = np.random.default_rng(11)
    groups = np.repeat(np.arange(600), 10)
    X = rng.normal(size=(groups.size, 3))
    p_true = 1.0 / (1.0 + np.exp(-(2.0 * X[:, 0] - 2.5)))
    y = rng.random(groups.size) < p_true
    half = (groups % 2).astype(np.int8)
    cf = CrossFitCalibrator(seed=0, candidates=("logistic",))
    prob = cf.fit_out_of_fold(X, y, groups, half)
    first, second = cf.halves_
    assert (first.n_rows_, second.n_rows_) == (int((half == 0).sum()), int((half == 1).sum()))
    # out of fold: a row's probability comes from the calibrator that did not see its source
    np.testing.assert_array_equal(prob[half == 0], second.predict_proba(X[half == 0]))
    np.testing.assert_array_equal(prob[half == 1], first.predict_proba(X[half == 1]))
    assert not np.array_equal(prob[half == 0], first.predict_proba(X[half == 0]))
    np.testing.assert_allclose(cf.predict_proba(X), (first.predict_proba(X) + second.predict_proba(X)) / 2)
    assert np.abs(prob - p_true).mean() < 0.03  # the known probabilities, recovered out of fold
    summary = cf.summary()
    assert summary["model"] == cf.chosen_ == "logistic" and summary["rows"] == groups.size
    assert [h["rows"] for h in summary["halves"]] == [first.n_rows_, second.n_rows_]
    json.dumps(summary, allow_nan=False)
    with pytest.raises(InputError, match="half must hold 0 or 1"):
        CrossFitCalibrator().fit_out_of_fold(X, y, groups, np.full(groups.size, 2))
    with pytest.raises(InputError, match="must agree"):
        CrossFitCalibrator().fit_out_of_fold(X, y[:-1], groups, half)
    with pytest.raises(InputError, match="not fitted"):
        CrossFitCalibrator().predict_proba(X)


def test_calibrator_rejects_bad_input():
    with pytest.raises(InputError, match="candidates"):
        LinkCalibrator(candidates=("forest",)).fit(np.zeros((30, 1)), np.zeros(30), np.zeros(30))
    with pytest.raises(InputError, match="must agree"):
        LinkCalibrator().fit(np.zeros((30, 1)), np.zeros(29), np.zeros(30))
    with pytest.raises(InputError, match="not fitted"):
        LinkCalibrator().predict_proba(np.zeros((1, 1)))
    cal = LinkCalibrator().fit(np.zeros((30, 2)), np.zeros(30), np.arange(30))
    with pytest.raises(InputError, match=r"\(m, 2\)"):
        cal.predict_proba(np.zeros((3, 4)))


# ------------------------------------------------ per-node precision
def test_expected_precision_by_hand():
    src = np.array([0, 0, 0, 2, 3, 3])
    prob = np.array([0.5, 0.3, 0.9, 0.4, 0.2, 0.6])
    rank = np.array([1, 2, 3, 1, 1, 2])
    got = expected_precision(src, prob, 5, 2, rank=rank)
    assert got[0] == pytest.approx((0.5 + 0.3) / 2)  # rank 3 is outside the top 2
    assert np.isnan(got[1]) and np.isnan(got[4])  # no links
    assert got[2] == pytest.approx(0.4 / 2)  # one link: the missing slot is a miss
    assert got[3] == pytest.approx(0.4)
    by_prob = expected_precision(src, prob, 5, 2)  # without rank: the two most probable
    assert by_prob[0] == pytest.approx((0.9 + 0.5) / 2)
    with pytest.raises(InputError, match="k must"):
        expected_precision(src, prob, 5, 0)
    with pytest.raises(InputError, match="outside"):
        expected_precision(src, prob, 3, 2)


def test_measured_precision_is_hits_over_k():
    got = measured_precision([0, 0, 0, 1, 2], [True, True, False, False, True], np.array([3, 0, 1, 2]), 10)
    assert got[0] == pytest.approx(0.2) and np.isnan(got[1]) and got[2] == pytest.approx(0.1) and got[3] == 0.0


# ------------------------------------------------------------ protocol
def _planted_partition(seed: int, sizes=(50,) * 6, p_in=(0.4, 0.25, 0.15, 0.1, 0.06, 0.04), p_out: float = 0.003):
    """Blocks of different densities: a link's chance depends on its block, which RA and degree see."""
    rng = np.random.default_rng(seed)
    block = np.repeat(np.arange(len(sizes)), sizes)
    i, j = np.triu_indices(block.size, 1)
    p = np.where(block[i] == block[j], np.asarray(p_in)[block[i]], p_out)
    keep = rng.random(i.size) < p
    return np.stack([i[keep], j[keep]]), int(block.size)


def _ra_factory(train_edges, num_nodes):
    split = random_split(train_edges, num_nodes, valid_fraction=0.0, test_fraction=0.0)
    return HeuristicPredictor("ra").fit(split)


def test_trust_protocol_end_to_end_on_a_planted_partition():
    edges, n = _planted_partition(0)
    split = random_split(edges, n, valid_fraction=0.0, test_fraction=0.1, seed=0)
    deg = np.bincount(split.train_pos.reshape(-1), minlength=n).astype(float)
    noise = np.random.default_rng(9).random(n)
    res = trust_protocol(_ra_factory, split.train_pos, split.test_pos, n, k=10, seed=0, node_properties={"noise": noise, "deg_copy": deg})
    links, m = res.links, res.metrics
    assert set(links) >= {"src", "dst", "score", "rank", "prob", "label", "half"}
    assert links["prob"].min() >= 0 and links["prob"].max() <= 1
    first = set(links["src"][links["half"] == 0].tolist())
    second = set(links["src"][links["half"] == 1].tolist())
    assert first and second and not first & second
    assert (res.nodes["half"][links["src"]] == links["half"]).all()
    # cross-fitting: each half's links are scored by the calibrator fitted on the other half
    X = np.random.default_rng(4).random((5, res.calibrator.n_features_))
    assert res.calibrator.predict_proba(X) == pytest.approx((res.calibrator.halves_[0].predict_proba(X) + res.calibrator.halves_[1].predict_proba(X)) / 2)
    assert m["links"] == links["src"].size  # every labelled link reports
    assert m["link_auc"] > 0.6
    assert m["auc_within_top_k"]["sources"] > 0
    assert 0 <= m["ece"] < 0.05 and m["brier"] < 1.05 * m["brier_base_rate"]
    # labels: a link is positive exactly when it is a held-out edge; no training edge is proposed
    train_adj = adjacency_matrix(split.train_pos, n)
    assert not np.asarray(train_adj[links["src"], links["dst"]]).any()
    assert links["label"].sum() > 0
    nodes = m["nodes"]
    assert set(nodes["spearman"]) == {"expected_precision", "degree", "tc_train_k1", "tc_train_k2", "noise", "deg_copy"}
    assert nodes["spearman"]["degree"] == pytest.approx(nodes["spearman"]["deg_copy"])
    assert nodes["evaluated"] > 20
    assert nodes["spearman"]["expected_precision"] > nodes["spearman"]["noise"]
    # per-node arrays: expected precision on every node with links, measured only with a held-out edge
    held_deg = np.bincount(split.test_pos.reshape(-1), minlength=n)
    assert np.isfinite(res.nodes["measured_precision"]).sum() == (held_deg > 0).sum()
    assert np.isfinite(res.nodes["expected_precision"][np.unique(links["src"])]).all()
    assert res.nodes["expected_precision"] == pytest.approx(expected_precision(links["src"], links["prob"], n, 10, rank=links["rank"]), nan_ok=True)
    # the product's features: the pair's TC and both ends' TC^Train
    assert {"log_pair_tc_k1", "log_pair_tc_k2", "tc_train_k1_src", "tc_train_k2_dst"} <= set(m["features"])
    assert isinstance(res.calibrator, CrossFitCalibrator) and m["calibrator"]["model"] == res.calibrator.chosen_
    assert all(isinstance(c, LinkCalibrator) for c in res.calibrator.halves_)
    assert m["heldout_dropped"] == 0 and m["timings"]["total"] > 0
    json.dumps(m, allow_nan=False)


def test_trust_protocol_excludes_edges_and_drops_unpredictable_heldout():
    edges, n = _planted_partition(1, sizes=(30,) * 4, p_in=(0.4, 0.2, 0.1, 0.1))
    split = random_split(edges, n, valid_fraction=0.1, test_fraction=0.1, seed=1)
    held = np.concatenate([split.test_pos, split.valid_pos[:, :3]], axis=1)  # 3 held-out edges are excluded
    res = trust_protocol(_ra_factory, split.train_pos, held, n, k=5, seed=3, exclude_edges=split.valid_pos)
    known = adjacency_matrix(np.concatenate([split.train_pos, split.valid_pos], axis=1), n)
    assert not np.asarray(known[res.links["src"], res.links["dst"]]).any()
    assert res.metrics["heldout_dropped"] == 3
    assert res.metrics["heldout_edges"] == split.test_pos.shape[1]
    assert res.links["rank"].max() <= 5
    with pytest.raises(InputError, match="k must"):
        trust_protocol(_ra_factory, split.train_pos, held, n, k=0)
    with pytest.raises(InputError, match="noise"):
        trust_protocol(_ra_factory, split.train_pos, held, n, node_properties={"noise": np.zeros(3)})
    with pytest.raises(EmptyGraphError):
        trust_protocol(_ra_factory, np.zeros((2, 0), np.int64), held, n)


def test_edge_predictor_factory_fits_on_the_training_edges_only():
    edges, n = _planted_partition(2, sizes=(20,) * 3, p_in=(0.4, 0.3, 0.2))
    predictor = edge_predictor_factory("ra")(edges[:, :-5], n)
    assert isinstance(predictor, HeuristicPredictor)
    held = edges[:, -5:]
    assert not np.asarray(predictor.adj_[held[0], held[1]]).any()
    assert np.asarray(predictor.adj_[edges[0, :-5], edges[1, :-5]]).all()
    with pytest.raises(InputError, match="model must be one of"):
        edge_predictor_factory("forest")


def test_one_protocol_and_one_json_helper():
    assert not hasattr(trust, "trust_protocol") and not hasattr(trust, "_json_ready")
    assert not hasattr(report, "_clean")
    got = json_ready({1: np.array([0.5, np.nan]), "k": (np.int64(3), np.bool_(False), np.float32(-np.inf)), "s": "x"})
    assert got == {"1": [0.5, None], "k": [3, False, None], "s": "x"}
    assert type(got["k"][0]) is int and type(got["k"][1]) is bool
    json.dumps(got, allow_nan=False)


def test_plots_write_png(tmp_path):
    rng = np.random.default_rng(0)
    p = rng.random(500)
    a = trust.plot_reliability(p, rng.random(500) < p, tmp_path / "r" / "rel.png")
    b = trust.plot_lift({"expected_precision": quintile_means(p, p), "degree": [0.1, None, 0.2, 0.3, 0.2]}, tmp_path / "lift.png")
    for path in (a, b):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_trust_warnings_name_each_weak_spot_and_stay_quiet_otherwise():
    good = {"link_auc": 0.85, "nodes": {"evaluated": 300, "spearman": {"expected_precision": 0.30, "degree": 0.10}}}
    assert trust.trust_warnings(good) == []
    tie = {**good, "nodes": {"evaluated": 300, "spearman": {"expected_precision": 0.10, "degree": 0.10}}}
    [w] = trust.trust_warnings(tie)
    assert "no better than degree" in w and "0.100 against 0.100 on 300 nodes" in w
    few = {**good, "nodes": {"evaluated": 49, "spearman": {"expected_precision": 0.30, "degree": 0.10}}}
    [w] = trust.trust_warnings(few)
    assert "49 nodes" in w
    assert trust.trust_warnings({**few, "nodes": {**few["nodes"], "evaluated": 50}}) == []
    [w] = trust.trust_warnings({**good, "link_auc": 0.6})
    assert "link AUC is 0.600" in w
    undefined = {"link_auc": None, "nodes": {"evaluated": 300, "spearman": {"expected_precision": None, "degree": 0.1}}}
    assert trust.trust_warnings(undefined) == []
    assert len(trust.trust_warnings({})) == 1  # nothing evaluated: the too-few-nodes warning only
