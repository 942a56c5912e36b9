"""Metric functions against hand-computed cases and naive oracles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from topo_graphdb.errors import InputError
from topo_graphdb.model.indicator import fit_indicator, isotonic_fit
from topo_graphdb.model.metrics import (
    average_precision,
    correlation,
    edge_metrics,
    hits_at_k,
    mean_reciprocal_rank,
    node_ranking_metrics,
    roc_auc,
)
from topo_graphdb.model.report import bucket_means


# ------------------------------------------------------------------- Hits@K
def test_hits_hand_cases():
    pos, neg = [0.9, 0.5, 0.2], [0.8, 0.4, 0.1]
    assert hits_at_k(pos, neg, k=1) == pytest.approx(1 / 3)  # K-th best negative 0.8
    assert hits_at_k(pos, neg, k=2) == pytest.approx(2 / 3)  # 0.4
    assert hits_at_k(pos, neg, k=3) == pytest.approx(1.0)  # 0.1
    assert hits_at_k(pos, neg, k=4) == 1.0  # fewer negatives than K: OGB counts all
    assert hits_at_k([0.4], [0.4, 0.1], k=1) == 0.0  # strictly greater
    assert math.isnan(hits_at_k([], [0.1], k=1))
    with pytest.raises(InputError):
        hits_at_k([1.0], [0.0], k=0)


# ---------------------------------------------------------------------- MRR
def test_mrr_hand_cases():
    assert mean_reciprocal_rank([0.9, 0.5], [0.8, 0.5]) == pytest.approx((1 + 1 / 2.5) / 2)
    assert mean_reciprocal_rank([0.1], [0.5, 0.4, 0.3]) == pytest.approx(1 / 4)


def test_mrr_matches_naive_oracle():
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 5, 40).astype(float), rng.integers(0, 5, 30).astype(float)
    naive = np.mean([1.0 / (1 + np.sum(neg > p) + 0.5 * np.sum(neg == p)) for p in pos])
    assert mean_reciprocal_rank(pos, neg) == pytest.approx(naive)


# ---------------------------------------------------------------------- AUC
def test_auc_hand_cases():
    assert roc_auc([0.9, 0.4], [0.5, 0.1]) == pytest.approx(0.75)
    assert roc_auc([0.5], [0.5, 0.1]) == pytest.approx(0.75)  # tie counts half
    assert roc_auc([1.0, 2.0], [0.0]) == 1.0
    assert math.isnan(roc_auc([1.0], []))


def test_auc_matches_pair_counting():
    rng = np.random.default_rng(1)
    pos, neg = rng.integers(0, 6, 50).astype(float), rng.integers(0, 6, 70).astype(float)
    naive = np.mean([(p > q) + 0.5 * (p == q) for p in pos for q in neg])
    assert roc_auc(pos, neg) == pytest.approx(naive)


# ----------------------------------------------------------------------- AP
def _ap_naive(pos, neg):
    s = np.concatenate([pos, neg])
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    ap, prev_recall = 0.0, 0.0
    for t in sorted(set(s.tolist()), reverse=True):
        sel = s >= t
        precision = y[sel].sum() / sel.sum()
        recall = y[sel].sum() / y.sum()
        ap += (recall - prev_recall) * precision
        prev_recall = recall
    return ap


def test_ap_hand_cases():
    assert average_precision([0.9, 0.4], [0.5, 0.1]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert average_precision([0.5, 0.5], [0.5]) == pytest.approx(2 / 3)  # one tied threshold
    assert average_precision([3.0, 2.0], [1.0]) == 1.0


def test_ap_matches_threshold_oracle():
    rng = np.random.default_rng(2)
    pos, neg = rng.integers(0, 8, 30).astype(float), rng.integers(0, 8, 45).astype(float)
    assert average_precision(pos, neg) == pytest.approx(_ap_naive(pos, neg))


@pytest.mark.parametrize("seed", range(12))
def test_library_auc_and_ap_equal_the_definitions(seed):
    # roc_auc and average_precision hand the work to scikit-learn; on the same inputs (ties, +-inf, one side
    # of size 1) they equal pair counting and the threshold sum written from the definitions
    rng = np.random.default_rng(100 + seed)
    levels = rng.integers(1, 12)
    pos = rng.integers(0, levels, rng.integers(1, 40)).astype(float)
    neg = rng.integers(0, levels, rng.integers(1, 40)).astype(float)
    if seed % 3 == 0:
        pos[0], neg[-1] = np.inf, -np.inf
    naive_auc = np.mean([(p > q) + 0.5 * (p == q) for p in pos for q in neg])
    assert roc_auc(pos, neg) == pytest.approx(naive_auc, abs=1e-12)
    assert average_precision(pos, neg) == pytest.approx(_ap_naive(pos, neg), abs=1e-12)


def test_edge_metrics_bundle_and_nan_input():
    m = edge_metrics([0.9, 0.4], [0.5, 0.1], ks=(1,))
    assert set(m) == {"hits@1", "mrr", "auc", "ap", "num_pos", "num_neg"}
    assert m["hits@1"] == 0.5
    with pytest.raises(InputError, match="NaN"):
        roc_auc([np.nan], [0.0])


# -------------------------------------------------------------- node level
def test_node_metrics_hand_case():
    scores = [[0.9, 0.8, 0.7, 0.6, 0.1]]
    relevant = [[False, True, False, True, False]]
    exclude = [[True, False, False, False, False]]  # the source itself
    m = node_ranking_metrics(scores, relevant, exclude=exclude, ks=(1, 2, 3, 10))
    # ranking after exclusion: 1 (rel), 2, 3 (rel), 4
    assert m["precision@1"][0] == 1.0 and m["recall@1"][0] == 0.5 and m["ndcg@1"][0] == 1.0
    assert m["precision@2"][0] == 0.5 and m["hit@2"][0] == 1.0
    assert m["ndcg@2"][0] == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert m["precision@3"][0] == pytest.approx(2 / 3) and m["recall@3"][0] == 1.0
    assert m["ndcg@3"][0] == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    assert m["precision@10"][0] == pytest.approx(2 / 10)  # k larger than the list
    assert m["rr"][0] == 1.0


def test_node_metrics_rr_ties_and_undefined_rows():
    scores = [[0.5, 0.5, 0.5], [0.3, 0.2, 0.9], [0.1, 0.2, 0.3]]
    relevant = [[False, False, True], [True, False, False], [True, False, False]]
    exclude = [[False, False, False], [False, False, False], [True, False, False]]
    m = node_ranking_metrics(scores, relevant, exclude=exclude, ks=(1,))
    assert m["rr"][0] == pytest.approx(1 / 3)  # ties: lower index first
    assert m["rr"][1] == pytest.approx(1 / 2)
    assert m["hit@1"][1] == 0.0
    assert np.isnan(m["rr"][2]) and np.isnan(m["precision@1"][2])  # only relevant one excluded


def test_node_metrics_match_naive_oracle():
    rng = np.random.default_rng(3)
    b, n, ks = 20, 30, (1, 5, 10)
    scores = rng.integers(0, 6, size=(b, n)).astype(float)
    relevant = rng.random((b, n)) < 0.15
    exclude = rng.random((b, n)) < 0.2
    m = node_ranking_metrics(scores, relevant, exclude=exclude, ks=ks)
    for r in range(b):
        cands = [j for j in range(n) if not exclude[r, j]]
        cands.sort(key=lambda j: (-scores[r, j], j))
        rel = [bool(relevant[r, j]) for j in cands]
        R = sum(rel)
        if R == 0:
            assert np.isnan(m["rr"][r])
            continue
        assert m["rr"][r] == pytest.approx(1 / (rel.index(True) + 1))
        for k in ks:
            h = sum(rel[:k])
            dcg = sum(1 / math.log2(i + 2) for i, x in enumerate(rel[:k]) if x)
            idcg = sum(1 / math.log2(i + 2) for i in range(min(k, R)))
            assert m[f"precision@{k}"][r] == pytest.approx(h / k)
            assert m[f"recall@{k}"][r] == pytest.approx(h / R)
            assert m[f"ndcg@{k}"][r] == pytest.approx(dcg / idcg)
            assert m[f"hit@{k}"][r] == float(h > 0)


def test_node_metrics_shape_errors():
    with pytest.raises(InputError, match="relevant"):
        node_ranking_metrics([[1.0, 2.0]], [[True]])


# ------------------------------------------------------------ correlations
def test_correlation_skips_missing_and_constant():
    c = correlation([1, 2, 3, np.nan, 4], [2, 4, 6, 100, 8])
    assert c["pearson"] == pytest.approx(1.0) and c["spearman"] == pytest.approx(1.0) and c["n"] == 4
    assert math.isnan(correlation([1, 1, 1], [1, 2, 3])["spearman"])
    assert correlation([1, 2, 3, 4], [4, 3, 2, 1])["spearman"] == pytest.approx(-1.0)


def test_bucket_means_hand_case():
    b = bucket_means(np.array([0.0, 0.5, 0.7, np.nan]), np.array([1.0, 2.0, 4.0, 9.0]), (0, 0.5, 1))
    assert [x["count"] for x in b] == [1, 2] and [x["mean"] for x in b] == [1.0, 3.0]


# -------------------------------------------------------------- indicator
def test_isotonic_pav_hand_case():
    xs, ys = isotonic_fit([1, 2, 3, 4, 5], [1.0, 3.0, 2.0, 4.0, 4.0])
    assert np.interp([1, 2, 3, 4, 5], xs, ys).tolist() == [1.0, 2.5, 2.5, 4.0, 4.0]
    xs, ys = isotonic_fit([1, 2, 3], [3.0, 2.0, 1.0])  # decreasing data: one block
    assert np.allclose(np.interp([1, 2, 3], xs, ys), 2.0)


def test_indicator_recovers_monotone_signal_and_handles_missing():
    rng = np.random.default_rng(4)
    n = 400
    a = rng.random(n)
    noise = rng.random(n)
    a_missing = a.copy()
    a_missing[:40] = np.nan
    y = a**2 + 0.01 * rng.standard_normal(n)
    feats = {"a": a_missing, "noise": noise}
    ind = fit_indicator(feats, y, nodes=np.arange(200, 400))
    pred = ind.predict(feats)
    assert pred.shape == (n,) and np.all(np.isfinite(pred))
    assert correlation(pred[40:200], y[40:200])["spearman"] > 0.95  # unseen nodes
    again = type(ind).from_dict(ind.to_dict())
    assert np.allclose(again.predict(feats), pred)
    with pytest.raises(InputError, match="missing"):
        ind.predict({"a": a})
