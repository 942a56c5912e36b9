"""``topo-graphdb tc``: output format, sidecar, and one-line errors with exit codes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from topo_graphdb.backend import gpu_available
from topo_graphdb.cli import main
from topo_graphdb.errors import InputError
from topo_graphdb.kernels import topological_concentration
from topo_graphdb.kernels.estimate import atc_memory, estimate_cluster
from topo_graphdb.kernels.oracle import naive_tc

# triangle 10-20-30 with a tail 30-40; ids are sparse on purpose, extra columns are ignored
TRAIN = "src,dst,weight\n10,20,1\n20,30,1\n30,10,1\n30,40,1\n40,40,1\n"
EVAL = "dst,src\n40,10\n20,40\n50,10\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {"train": tmp_path / "train.csv", "eval": tmp_path / "eval.csv", "nodes": tmp_path / "nodes.csv"}
    paths["train"].write_text(TRAIN)
    paths["eval"].write_text(EVAL)
    paths["nodes"].write_text("node\n99\n")
    paths["out"] = tmp_path / "out.csv"
    return paths


def run(*args: str):
    return CliRunner().invoke(main, ["tc", *map(str, args)])


def read_output(path: Path) -> tuple[list[str], list[tuple[int, str]]]:
    lines = path.read_text().splitlines()
    return lines[0].split(","), [(int(a), b) for a, b in (line.split(",") for line in lines[1:])]


def assert_one_line_error(result, code: int, text: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], result.stderr


def test_train_variant_output(files):
    result = run("--edges", files["train"], "--output", files["out"])
    assert result.exit_code == 0, result.output
    header, rows = read_output(files["out"])
    assert header == ["node", "tc"]
    assert [node for node, _ in rows] == [10, 20, 30, 40]
    cells = dict(rows)
    assert float(cells[10]) == 1.0 and float(cells[20]) == 1.0
    assert float(cells[30]) == 1 / 3  # round-trips exactly
    assert cells[40] == ""  # degree 1: undefined in the train variant


def test_eval_variant_with_extra_nodes_round_trips_float64(files):
    result = run(
        "--edges", files["train"], "--eval-edges", files["eval"], "--nodes", files["nodes"],
        "--hops", "2", "--output", files["out"],
    )
    assert result.exit_code == 0, result.output
    _, rows = read_output(files["out"])
    assert [node for node, _ in rows] == [10, 20, 30, 40, 50, 99]
    # dense order = sorted ids; 50 and 99 have no train edges
    train = np.array([[0, 1, 2, 3], [1, 2, 0, 2]])
    ev = np.array([[3, 1, 4], [0, 3, 0]])
    # beta: 5 nodes (the training file's and --nodes; 50 is only in the evaluation file) / 8 endpoint slots
    expected = naive_tc(train, ev, hops=2, num_nodes=6, beta=5 / 8)
    for (node, cell), value in zip(rows, expected):
        if math.isnan(value):
            assert cell == "", node
        else:
            assert float(cell) == pytest.approx(value, rel=1e-12)
    api = topological_concentration(train, ev, hops=2, num_nodes=6, beta=5 / 8, backend="cpu").tc
    for (_, cell), value in zip(rows, api):
        assert (cell == "" and math.isnan(value)) or float(cell) == value  # every digit kept
    meta = json.loads(Path(f"{files['out']}.json").read_text())
    assert meta["hops"] == 2 and meta["variant"] == "eval" and meta["approx"] is False
    assert meta["beta"] == 5 / 8  # 1 / mean degree over the 5 nodes of --edges and --nodes (4 edges)
    assert meta["nodes"] == 6 and meta["train_edges"] == 4 and meta["eval_edges"] == 3
    assert meta["train_rows"] == 5 and meta["defined"] == sum(cell != "" for _, cell in rows)
    assert meta["backend"] == "cpu" or meta["backend"] == "gpu"
    assert {"version", "timings", "dim", "seed"} <= set(meta) and meta["timings"]["total"] >= 0


def test_beta_and_backend_are_honoured(files):
    result = run("--edges", files["train"], "--hops", "2", "--beta", "0.5", "--backend", "cpu", "--output", files["out"])
    assert result.exit_code == 0, result.output
    meta = json.loads(Path(f"{files['out']}.json").read_text())
    assert meta["beta"] == 0.5 and meta["backend"] == "cpu"
    _, rows = read_output(files["out"])
    expected = naive_tc(np.array([[0, 1, 2, 3], [1, 2, 0, 2]]), hops=2, beta=0.5)
    assert [float(c) if c else math.nan for _, c in rows][:3] == pytest.approx(expected[:3], rel=1e-12)


def test_estimate_prints_and_writes_nothing(files):
    result = run("--edges", files["train"], "--hops", "3", "--estimate", "--memory-budget", "64M")
    assert result.exit_code == 0, result.output
    assert "memory:" in result.stdout and "work:" in result.stdout and "64.0 MiB" in result.stdout
    assert not files["out"].exists()


def test_estimate_for_workers_prints_memory_per_worker_and_time(files):
    result = run("--edges", files["train"], "--hops", "2", "--approx", "--estimate", "--workers", "4")
    assert result.exit_code == 0, result.output
    assert "on 4 single-threaded Dask workers (ATC d=128, hops=2)" in result.stdout
    assert "memory per worker <=" in result.stdout and "expected time ~" in result.stdout
    assert_one_line_error(run("--edges", files["train"], "--workers", "2", "--output", files["out"]), 2, "--estimate")
    assert run("--edges", files["train"], "--estimate", "--workers", "0").exit_code == 2


def test_cluster_estimate_divides_the_atc_columns_and_the_time():
    one, four = (atc_memory(10**6, 10**7, 10**7, 3, 128, workers=w) for w in (1, 4))
    assert one["graph"] == four["graph"] and four["columns"] * 4 == one["columns"]
    assert one["columns"] == (3 * 3 + 6) * 10**6 * 4 * 128  # (3K + 6)·n·4 bytes per column
    assert atc_memory(10**6, 10**7, 10**7, 3, 128, workers=64)["columns"] == one["columns"] // 8  # chunks of 16 columns
    assert one["sketch"] == 2 * 64 * 10**6 * 4 and four["sketch"] * 4 == one["sketch"]  # 64 sketch columns, 16 each
    assert atc_memory(10**6, 10**7, 10**7, 3, 128, workers=3)["sketch"] == one["sketch"] // 2  # 4 chunks on 3: 2, 1, 1
    train = np.array([[0, 1, 2, 2, 3], [1, 2, 0, 3, 4]])
    a, b = (estimate_cluster(train, hops=2, workers=w, approx=True) for w in (1, 2))
    assert b.seconds < a.seconds and b.worker_bytes < a.worker_bytes and a.seconds == a.seconds_one_thread
    exact = estimate_cluster(train, hops=2, workers=3)
    assert exact.kernel == "exact" and exact.worker_bytes >= exact.graph_bytes and exact.seconds > 0
    with pytest.raises(InputError, match="workers"):
        estimate_cluster(train, workers=0)


def test_errors_are_one_line_with_exit_codes(files, tmp_path):
    assert_one_line_error(run("--edges", tmp_path / "nope.csv", "--output", files["out"]), 3, "not found")
    bad_cols = tmp_path / "cols.csv"
    bad_cols.write_text("a,b\n1,2\n")
    assert_one_line_error(run("--edges", bad_cols, "--output", files["out"]), 3, "missing column")
    bad_ids = tmp_path / "ids.csv"
    bad_ids.write_text("src,dst\n1,x\n")
    assert_one_line_error(run("--edges", bad_ids, "--output", files["out"]), 3, "integer ids")
    empty = tmp_path / "empty.csv"
    empty.write_text("src,dst\n")
    assert_one_line_error(run("--edges", empty, "--output", files["out"]), 3, "no edges")
    loops = tmp_path / "loops.csv"
    loops.write_text("src,dst\n1,1\n")
    assert_one_line_error(run("--edges", loops, "--output", files["out"]), 3, "no edges")
    assert_one_line_error(run("--edges", files["train"], "--hops", "0", "--output", files["out"]), 3, "hops must be")
    assert_one_line_error(run("--edges", files["train"], "--hops", "5", "--output", files["out"]), 3, "1..4")
    assert_one_line_error(run("--edges", files["train"], "--beta", "-1", "--output", files["out"]), 3, "beta must be")
    assert_one_line_error(
        run("--edges", files["train"], "--memory-budget", "lots", "--output", files["out"]), 3, "memory budget"
    )
    assert_one_line_error(
        run("--edges", files["train"], "--hops", "2", "--memory-budget", "100", "--output", files["out"]), 9, "budget"
    )
    assert_one_line_error(run("--edges", files["train"]), 2, "--output is required")
    assert_one_line_error(run("--edges", files["train"], "--dim", "8", "--output", files["out"]), 2, "--approx")
    assert not files["out"].exists()


@pytest.mark.skipif(gpu_available(), reason="a GPU is available here")
def test_gpu_backend_without_gpu_exits_7(files):
    assert_one_line_error(run("--edges", files["train"], "--backend", "gpu", "--output", files["out"]), 7, "gpu")


def test_approx_runs_or_says_it_is_unavailable(files):
    from topo_graphdb.kernels import atc

    result = run("--edges", files["train"], "--hops", "2", "--approx", "--seed", "3", "--output", files["out"])
    if getattr(atc, "approximate_tc", None) is None:
        assert_one_line_error(result, 1, "--approx is not available")
        return
    assert result.exit_code == 0, result.output
    header, rows = read_output(files["out"])
    assert header == ["node", "tc"] and len(rows) == 4
    meta = json.loads(Path(f"{files['out']}.json").read_text())
    assert meta["approx"] is True and meta["seed"] == 3 and meta["dim"] is not None


def test_train_and_eval_variants_share_one_beta(tmp_path: Path):
    """beta = 1 / mean degree over the training file's nodes (plus --nodes); an evaluation-only node never changes it."""
    train = tmp_path / "tr.csv"
    train.write_text("src,dst\n1,2\n2,3\n3,4\n4,1\n")  # 4-cycle: mean degree 2
    ev = tmp_path / "ev.csv"
    ev.write_text("src,dst\n1,3\n1,5\n")  # node 5 appears only here
    betas = []
    for extra in ([], ["--eval-edges", ev]):
        out = tmp_path / f"out{len(betas)}.csv"
        result = run("--edges", train, *extra, "--output", out)
        assert result.exit_code == 0, result.output
        betas.append(json.loads(Path(f"{out}.json").read_text())["beta"])
    assert betas == [0.5, 0.5]
    nodes = tmp_path / "nodes.csv"
    nodes.write_text("node\n9\n")  # a listed node does count: 5 nodes, 8 endpoint slots
    out = tmp_path / "out_nodes.csv"
    result = run("--edges", train, "--eval-edges", ev, "--nodes", nodes, "--output", out)
    assert result.exit_code == 0, result.output
    assert json.loads(Path(f"{out}.json").read_text())["beta"] == 5 / 8


def test_api_beta_ignores_nodes_inferred_from_eval_edges():
    from topo_graphdb.kernels import approximate_tc, default_beta

    train = np.array([[0, 1, 2, 3], [1, 2, 3, 0]])
    ev = np.array([[0, 0], [2, 4]])  # node 4 only in the evaluation edges
    assert topological_concentration(train, backend="cpu").beta == 0.5
    assert topological_concentration(train, ev, backend="cpu").beta == 0.5
    assert approximate_tc(train, ev, backend="cpu").beta == 0.5
    assert default_beta(train) == 0.5
    # an explicit node count is the analysed node set: it does count
    assert topological_concentration(train, ev, num_nodes=5, backend="cpu").beta == 5 / 8
