"""``topo-graphdb evaluate`` and ``predict`` on the bundled reptile graph."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from graphs import write_reptile_split

from topo_graphdb.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("reptile")
    df, ids, _ = write_reptile_split(d)
    df[["src", "dst"]].to_csv(d / "all.csv", index=False)
    return d, ids


def _run(args):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def _eval_args(d, out, *extra):
    return ["evaluate", "--train-edges", str(d / "train.csv"), "--valid-edges", str(d / "valid.csv"),
            "--test-edges", str(d / "test.csv"), "--output-dir", str(out), "--no-progress", *extra]  # fmt: skip


def test_evaluate_heuristic_writes_report(files, tmp_path):
    d, ids = files
    r = _run(_eval_args(d, tmp_path / "out", "--model", "ra", "--hops", "1,2"))
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {"edge_metrics", "node_metrics", "correlations", "shift", "settings", "timings", "split", "indicator"} <= set(rep)
    for key in ("tc_test_k1", "tc_train_k1", "tc_test_k2", "tc_train_k2", "degree", "clustering"):
        assert set(rep["correlations"][key]) == {"pearson", "spearman", "n"}
    assert rep["split"]["negatives"]["test"] == rep["edge_metrics"]["test"]["num_neg"] == rep["split"]["test_edges"]
    assert 0 <= rep["edge_metrics"]["test"]["hits@100"] <= 1
    assert rep["shift"]["k1"]["nodes"] > 0
    nodes = pd.read_csv(tmp_path / "out" / "node_metrics.csv")
    assert set(nodes["node"]) <= set(ids.tolist())  # original ids
    assert len(nodes) == rep["node_metrics"]["nodes_evaluated"]
    for png in ("tc_vs_performance.png", "performance_by_tc_bucket.png", "performance_by_degree_bucket.png"):
        assert (tmp_path / "out" / png).stat().st_size > 1000


def test_evaluate_gcn_few_epochs_json(files, tmp_path):
    d, _ = files
    r = _run(_eval_args(d, tmp_path / "o", "--model", "gcn", "--epochs", "2", "--hops", "1", "--no-plots", "--json", "--seed", "3"))
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output.strip().splitlines()[-1])
    assert summary["node_metrics"]["nodes_evaluated"] > 0
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    assert rep["training"]["epochs_run"] == 2 and rep["settings"]["seed"] == 3
    assert not (tmp_path / "o" / "tc_vs_performance.png").exists()
    assert rep["training"]["batching"] == "full" and rep["settings"]["predictor"]["batching"] == "auto"


def test_evaluate_and_predict_with_sampled_batching(files, tmp_path):
    d, _ = files
    r = _run(_eval_args(d, tmp_path / "o", "--model", "sage", "--epochs", "2", "--hops", "1", "--no-plots", "--batching", "sampled", "--fanout", "4"))
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    assert rep["training"]["batching"] == "sampled" and rep["settings"]["predictor"]["fanout"] == 4
    out = tmp_path / "p.csv"
    r = _run(["predict", "--edges", str(d / "all.csv"), "--epochs", "2", "--top-k", "2", "--output", str(out), "--no-progress", "--batching", "sampled"])
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(out)) > 0
    r = CliRunner().invoke(main, _eval_args(d, tmp_path / "x", "--model", "ncn", "--batching", "sampled"))
    assert r.exit_code == 3 and "trains gcn and sage" in r.output and len(r.output.strip().splitlines()) == 1


def test_predict_heuristic_and_node_subset(files, tmp_path):
    d, ids = files
    (tmp_path / "nodes.csv").write_text(f"node\n{ids[0]}\n{ids[5]}\n")
    out = tmp_path / "pred.csv"
    r = _run(["predict", "--edges", str(d / "all.csv"), "--model", "cn", "--top-k", "4", "--nodes", str(tmp_path / "nodes.csv"), "--output", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    pred = pd.read_csv(out)
    assert list(pred.columns) == ["src", "dst", "score", "rank"]
    assert set(pred["src"]) <= {ids[0], ids[5]}
    existing = set(zip(*[pd.read_csv(d / "all.csv")[c] for c in ("src", "dst")]))
    assert not any((a, b) in existing or (b, a) in existing for a, b in zip(pred.src, pred.dst))
    assert (pred.groupby("src")["rank"].max() <= 4).all()


def test_predict_gcn(files, tmp_path):
    d, _ = files
    small = pd.read_csv(d / "all.csv").head(300)
    small.to_csv(tmp_path / "small.csv", index=False)
    ids = np.unique(np.r_[small.src, small.dst])
    out = tmp_path / "p.csv"
    r = _run(["predict", "--edges", str(tmp_path / "small.csv"), "--model", "gcn", "--epochs", "2", "--top-k", "2", "--output", str(out), "--json", "--no-progress"])
    assert r.exit_code == 0, r.output
    pred = pd.read_csv(out)
    assert len(pred) == 2 * ids.size and set(pred["src"]) == set(ids.tolist())
    assert json.loads(r.output.strip().splitlines()[-1])["links"] == len(pred)


def test_bad_input_gives_one_line_error(files, tmp_path):
    d, _ = files
    r = CliRunner().invoke(main, _eval_args(d, tmp_path / "x", "--model", "cn") [:2] + [str(tmp_path / "missing.csv")] + _eval_args(d, tmp_path / "x")[3:])
    assert r.exit_code == 3 and "error:" in r.output and "missing.csv" in r.output
    assert len(r.output.strip().splitlines()) == 1
    r = CliRunner().invoke(main, _eval_args(d, tmp_path / "x", "--hops", "0,9"))
    assert r.exit_code == 3 and "--hops" in r.output
    (tmp_path / "bad.npz").write_text("nope")
    r = CliRunner().invoke(main, ["predict", "--edges", str(d / "all.csv"), "--features", str(tmp_path / "bad.npz"), "--top-k", "1", "--output", str(tmp_path / "o.csv")])
    assert r.exit_code == 3 and "bad.npz" in r.output
