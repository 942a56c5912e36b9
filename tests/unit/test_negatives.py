"""Given negatives: metrics equal the OGB evaluator's on the same scores (shared negatives as
ogbl-collab/ddi, per-positive negatives as ogbl-citation2), through the API and the CLI,
and bad negatives files give one-line errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from click.testing import CliRunner
from graphs import write_reptile_split

from topo_graphdb.cli import main
from topo_graphdb.model.evaluate import evaluate_edges
from topo_graphdb.model.heuristics import HeuristicPredictor, heuristic_pair_scores
from topo_graphdb.model.metrics import hits_at_k, per_positive_metrics, roc_auc
from topo_graphdb.model.negatives import Negatives
from topo_graphdb.model.splits import random_split

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script, used inside ogb
    from ogb.linkproppred import Evaluator



def _ogb_hits(pos, neg, k):
    ev = Evaluator("ogbl-collab")
    ev.K = k
    return ev.eval({"y_pred_pos": np.asarray(pos), "y_pred_neg": np.asarray(neg)})[f"hits@{k}"]


def _ogb_citation2(pos, neg_matrix):
    import torch  # OGB's NumPy path of this metric calls sum(dim=...); its torch path is the one in use

    r = Evaluator("ogbl-citation2").eval({"y_pred_pos": torch.as_tensor(np.asarray(pos)), "y_pred_neg": torch.as_tensor(np.asarray(neg_matrix))})
    return {"mrr": float(r["mrr_list"].mean()), **{f"hits@{k}": float(r[f"hits@{k}_list"].mean()) for k in (1, 3, 10)}}


def _ogb_auc(pos, neg):
    return Evaluator("ogbl-vessel").eval({"y_pred_pos": np.asarray(pos), "y_pred_neg": np.asarray(neg)})["rocauc"]


# ------------------------------------------------------------ pure metrics against OGB
@pytest.mark.parametrize("seed", range(8))
def test_shared_negative_metrics_equal_ogb(seed):
    rng = np.random.default_rng(seed)
    # integer-valued scores: many ties between positives and negatives
    pos = rng.integers(0, 12, size=rng.integers(1, 60)).astype(float)
    neg = rng.integers(0, 10, size=rng.integers(1, 300)).astype(float)
    for k in (1, 5, 20, 50, 100):
        assert hits_at_k(pos, neg, k=k) == pytest.approx(_ogb_hits(pos, neg, k), abs=1e-12)
    assert roc_auc(pos, neg) == pytest.approx(_ogb_auc(pos, neg), abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_per_positive_metrics_equal_ogb_citation2(seed):
    rng = np.random.default_rng(seed)
    p, m = int(rng.integers(1, 40)), int(rng.integers(1, 30))
    pos = rng.integers(0, 8, size=p).astype(float)
    neg = rng.integers(0, 8, size=(p, m)).astype(float)
    expected = _ogb_citation2(pos, neg)
    # the same negatives in a shuffled order, each naming its positive
    owner = np.repeat(np.arange(p), m)
    order = rng.permutation(owner.size)
    got = per_positive_metrics(pos, neg.reshape(-1)[order], owner[order])
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-6), key  # OGB averages float32 reciprocal ranks
    assert got["num_pos"] == p and got["num_neg"] == p * m


def test_per_positive_metrics_hand_case_and_errors():
    # positive 0 (0.9) against 0.8 and 0.95: rank 2; positive 1 (0.5) against 0.5 and 0.1: rank 1.5
    m = per_positive_metrics([0.9, 0.5], [0.8, 0.95, 0.5, 0.1], [0, 0, 1, 1], ks=(1, 2))
    assert m["mrr"] == pytest.approx((1 / 2 + 1 / 1.5) / 2)
    assert m["hits@1"] == 0.0 and m["hits@2"] == 1.0
    with pytest.raises(Exception, match="positive 1 has no negatives"):
        per_positive_metrics([0.9, 0.5], [0.8], [0])
    with pytest.raises(Exception, match="owner must"):
        per_positive_metrics([0.9], [0.8, 0.1], [0])


# ------------------------------------------------------------ evaluate_edges with given negatives
@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    edges = rng.integers(0, 80, size=(2, 500))
    split = random_split(edges, 80, seed=0)
    return split, HeuristicPredictor("cn").fit(split)


def test_evaluate_edges_uses_exactly_the_given_shared_negatives(fitted):
    split, cn = fitted
    rng = np.random.default_rng(1)
    given = {part: rng.integers(0, 80, size=(2, 150)) for part in ("valid", "test")}
    given = {part: g[:, g[0] != g[1]][:, :140] for part, g in given.items()}  # no self-pairs
    got = evaluate_edges(cn, split, valid_negatives=given["valid"], test_negatives=Negatives(given["test"]))
    drawn = evaluate_edges(cn, split)
    for part in ("valid", "test"):
        pos, neg = cn.score(getattr(split, f"{part}_pos")), cn.score(given[part])
        for k in (20, 50, 100):
            assert got[part][f"hits@{k}"] == _ogb_hits(pos, neg, k)
        assert got[part]["auc"] == pytest.approx(_ogb_auc(pos, neg), abs=1e-12)
        assert got[part]["num_neg"] == 140
    assert drawn["test"]["num_neg"] == split.test_neg.shape[1] != 140


def test_evaluate_edges_per_positive_negatives_equal_ogb_citation2(fitted):
    split, cn = fitted
    rng = np.random.default_rng(2)
    test = split.test_pos
    per = 7
    src = np.repeat(test[0], per)  # the positive's source against random targets, as ogbl-citation2
    dst = (src + rng.integers(1, 80, size=src.size)) % 80  # never the source itself
    owner = np.repeat(np.arange(test.shape[1]), per)
    got = evaluate_edges(cn, split, test_negatives=Negatives(np.stack([src, dst]), owner))["test"]
    expected = _ogb_citation2(cn.score(test), cn.score(np.stack([src, dst])).reshape(test.shape[1], per))
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-6), key


# ------------------------------------------------------------ the CLI, and bad files
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("reptile_neg")
    _, ids, s = write_reptile_split(d)
    rng = np.random.default_rng(5)
    shared = rng.integers(0, ids.size, size=(2, 450))
    shared = ids[shared[:, shared[0] != shared[1]][:, :400]]
    pd.DataFrame({"src": shared[0], "dst": shared[1]}).to_csv(d / "valid_neg.csv", index=False)
    test = ids[s.test_pos]
    per = 5
    cit = pd.DataFrame({
        "src": np.repeat(test[0], per),
        "dst": ids[(np.repeat(s.test_pos[0], per) + rng.integers(1, ids.size, size=test.shape[1] * per)) % ids.size],
        "pos_src": np.repeat(test[0], per), "pos_dst": np.repeat(test[1], per),
    })  # fmt: skip
    cit.sample(frac=1.0, random_state=0).to_csv(d / "test_neg.csv", index=False)  # rows in any order
    return d, ids, s, shared, cit


def _eval_args(d, out, *extra):
    return ["evaluate", "--train-edges", str(d / "train.csv"), "--valid-edges", str(d / "valid.csv"),
            "--test-edges", str(d / "test.csv"), "--output-dir", str(out), "--no-progress", "--no-plots",
            "--hops", "1", "--model", "cn", *extra]  # fmt: skip


def test_cli_given_negatives_equal_ogb_on_the_same_scores(files, tmp_path):
    d, ids, s, shared, cit = files
    r = CliRunner().invoke(main, _eval_args(d, tmp_path / "o", "--valid-negatives", str(d / "valid_neg.csv"),
                                            "--test-negatives", str(d / "test_neg.csv")), catch_exceptions=False)  # fmt: skip
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    # oracle: common neighbours in the training file, ranked by OGB's evaluator
    train = pd.read_csv(d / "train.csv")
    t = np.stack([np.searchsorted(ids, train.src), np.searchsorted(ids, train.dst)])
    adj = sp.csr_matrix((np.ones(2 * t.shape[1]), (np.r_[t[0], t[1]], np.r_[t[1], t[0]])), shape=(ids.size, ids.size))

    def cn(a, b):
        return heuristic_pair_scores(adj, np.stack([np.searchsorted(ids, a), np.searchsorted(ids, b)]))

    valid = pd.read_csv(d / "valid.csv")
    pos, neg = cn(valid.src, valid.dst), cn(shared[0], shared[1])
    for k in (20, 50, 100):
        assert rep["edge_metrics"]["valid"][f"hits@{k}"] == _ogb_hits(pos, neg, k)
    assert rep["edge_metrics"]["valid"]["num_neg"] == 400
    test = ids[s.test_pos]
    neg_by_pos = {}  # the negatives grouped by positive: OGB's (positives x negatives) matrix
    for a, b, x, y in zip(cit.pos_src, cit.pos_dst, cit.src, cit.dst):
        neg_by_pos.setdefault((a, b), []).append((x, y))
    matrix = np.array([cn(*np.array(neg_by_pos[(a, b)]).T) for a, b in zip(test[0], test[1])])
    expected = _ogb_citation2(cn(test[0], test[1]), matrix)
    assert matrix.shape == (test.shape[1], 5)
    for key, value in expected.items():
        assert rep["edge_metrics"]["test"][key] == pytest.approx(value, abs=1e-6), key
    assert rep["split"]["negatives"]["method"] == "given"
    assert rep["split"]["negatives"]["test"]["per_positive"] is True


def _bad(d, tmp_path, name, text, part="--test-negatives"):
    (tmp_path / name).write_text(text)
    r = CliRunner().invoke(main, _eval_args(d, tmp_path / "x", part, str(tmp_path / name)))
    assert r.exit_code == 3, r.output
    assert len(r.output.strip().splitlines()) == 1 and name in r.output
    return r.output


def test_bad_negatives_files_give_one_line_errors(files, tmp_path):
    d, ids, s, _, _ = files
    a, b = ids[s.test_pos[:, 0]]
    tr = ids[s.train_pos[:, 0]]
    missing_id = int(ids.max()) + 1000  # a node in no file joins the graph as an isolated node: no error
    assert "missing column(s) 'dst'" in _bad(d, tmp_path, "nocol.csv", "src,other\n1,2\n")
    assert "line 3" in _bad(d, tmp_path, "badid.csv", f"src,dst\n{a},{b}\n{a},x\n")
    assert "has a header but no negative pairs" in _bad(d, tmp_path, "empty.csv", "src,dst\n")
    assert "'pos_dst'" in _bad(d, tmp_path, "half.csv", f"src,dst,pos_src\n{a},{b},{a}\n")
    out = _bad(d, tmp_path, "notpos.csv", f"src,dst,pos_src,pos_dst\n{a},{missing_id},{tr[0]},{tr[1]}\n")
    assert "line 2" in out and "is not a test edge" in out
    assert "has no negatives" in _bad(d, tmp_path, "lonely.csv", f"src,dst,pos_src,pos_dst\n{a},{missing_id},{a},{b}\n")
    assert "line 3: the self-pair" in _bad(d, tmp_path, "loop.csv", f"src,dst\n{a},{b}\n{a},{a}\n")


def test_negatives_naming_nodes_outside_the_split_are_refused(files, tmp_path):
    from topo_graphdb.errors import InputError
    from topo_graphdb.model.negatives import index_negatives, read_negatives

    d, ids, s, *_ = files
    (tmp_path / "out.csv").write_text(f"src,dst\n{ids[0]},{ids[1]}\n{ids[0]},{int(ids.max()) + 1}\n")
    split = random_split(s.train_pos, ids.size, seed=0, node_ids=ids)
    with pytest.raises(InputError, match=r"out.csv line 3: column 'dst' names node \d+, which is not in the graph"):
        index_negatives(read_negatives(tmp_path / "out.csv"), split, "test")


def test_given_negative_ids_join_the_node_set(files, tmp_path):
    d, ids, *_ = files
    (tmp_path / "iso.csv").write_text(f"src,dst\n{ids[0]},{int(ids.max()) + 1000}\n{ids[1]},{ids[2]}\n")
    r = CliRunner().invoke(main, _eval_args(d, tmp_path / "o", "--test-negatives", str(tmp_path / "iso.csv")), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    assert rep["split"]["num_nodes"] == ids.size + 1 and rep["edge_metrics"]["test"]["num_neg"] == 2
