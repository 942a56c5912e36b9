"""Exact TC, pair TC and ATC on a Dask cluster: the numbers of one process, a lost worker, the --scheduler option."""

from __future__ import annotations

import os
import socket
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
from click.testing import CliRunner
from distributed import Client, Event, LocalCluster, Variable
from graphs import DATASETS, uniform_edges, write_reptile_split

from topo_graphdb.cli import main
from topo_graphdb.errors import BackendUnavailable, InputError
from topo_graphdb.kernels import _atc_cpu, _atc_stages, approximate_tc, pair_topological_concentration, topological_concentration
from topo_graphdb.kernels.distributed import (
    compute_on,
    dask_client,
    distributed_atc,
    distributed_pair_tc,
    distributed_tc,
    parse_scheduler,
)
from topo_graphdb.kernels.pairs import pair_source_costs
from topo_graphdb.kernels.tc import source_costs
from topo_graphdb.snapshot import GraphSnapshot

RTOL = 1e-12


@pytest.fixture(scope="module")
def client():
    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0", env={"NUMBA_NUM_THREADS": "1"}
    ) as cluster, Client(cluster) as c:
        yield c


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=RTOL, atol=0)


def assert_same_tc(got, want) -> None:
    assert_same(got.tc, want.tc)
    assert_same(got.denominator, want.denominator)
    assert_same(got.parts, want.parts)
    assert (got.beta, got.hops, got.variant, got.num_nodes, got.train_edges, got.eval_edges) == (
        want.beta, want.hops, want.variant, want.num_nodes, want.train_edges, want.eval_edges
    )


def random_graph(rng: np.random.Generator, with_eval: bool):
    n = int(rng.integers(20, 160))
    train = uniform_edges(n, int(rng.integers(n, 6 * n)), rng)  # loops and duplicates included
    ev = uniform_edges(n + 3, int(rng.integers(1, 2 * n)), rng) if with_eval else None  # a few eval-only nodes
    return train, ev


def reptile() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All edges, the edges up to 2010 and the later ones, on one dense node index."""
    rows = np.loadtxt(DATASETS / "reptile" / "edges.csv", delimiter=",", skiprows=1, dtype=np.int64)
    snap = GraphSnapshot.from_edges(rows[:, 0], rows[:, 1])
    index = np.stack([np.searchsorted(snap.node_ids, rows[:, 0]), np.searchsorted(snap.node_ids, rows[:, 1])])
    early = rows[:, 2] <= 2010
    return index, index[:, early], index[:, ~early]


# ----------------------------------------------------------------------------- same numbers as one process
@pytest.mark.parametrize("hops", [1, 2, 3])
def test_random_graphs_match_one_process(client, hops):
    rng = np.random.default_rng(100 + hops)
    split = []
    for case in range(16):
        train, ev = random_graph(rng, with_eval=bool(case % 2))
        beta = None if case % 4 < 2 else float(rng.uniform(0.2, 2.0))
        got = distributed_tc(train, ev, client=client, hops=hops, beta=beta)
        assert_same_tc(got, topological_concentration(train, ev, hops=hops, beta=beta, backend="cpu"))
        split.append(got.batches)  # one batch per task here: the number of tasks
    assert max(split) > 1


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_real_graph_matches_one_process(client, hops):
    everything, early, late = reptile()
    for train, ev in ((everything, None), (early, late)):
        want = topological_concentration(train, ev, hops=hops, backend="cpu")
        got = distributed_tc(train, ev, client=client, hops=hops)
        assert_same_tc(got, want)
        assert got.batches > 1 and np.isfinite(got.tc).sum() > 100


def test_each_worker_builds_the_reach_sets_once_for_all_its_blocks(client):
    from topo_graphdb.kernels import distributed

    everything, _, _ = reptile()
    want = topological_concentration(everything, hops=2, backend="cpu")

    def builds():
        return distributed._REACH.builds

    before = client.run(builds)
    got = distributed_tc(everything, client=client, hops=2)
    again = distributed_pair_tc(everything, everything[:, :300], client=client, hops=2)
    after = client.run(builds)
    assert_same_tc(got, want)
    assert np.isfinite(again.tc).any()
    assert got.batches > len(after)  # more blocks than workers ...
    assert sum(after.values()) - sum(before.values()) <= len(after)  # ... and one table per worker at most


def test_snapshot_and_memory_budget_are_passed_on(client):
    rows = np.loadtxt(DATASETS / "reptile" / "edges.csv", delimiter=",", skiprows=1, dtype=np.int64)
    snap = GraphSnapshot.from_edges(rows[:, 0], rows[:, 1], nodes=np.array([10_000]))  # one isolated node
    want = topological_concentration(snap, hops=2, backend="cpu")
    got = distributed_tc(snap, client=client, hops=2, memory_budget="256M")
    assert_same_tc(got, want)
    assert np.isnan(got.tc[-1]) and got.num_nodes == snap.num_nodes


def test_graph_with_no_defined_node(client):
    train = np.array([[0, 2], [1, 3]])  # two separate edges: every degree is 1, the train variant is undefined
    got = distributed_tc(train, client=client, hops=2)
    assert np.isnan(got.tc).all()
    assert_same_tc(got, topological_concentration(train, hops=2, backend="cpu"))


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_pairs_match_one_process(client, hops):
    rng = np.random.default_rng(7 + hops)
    everything, _, _ = reptile()
    n = int(everything.max()) + 1
    cases = [(everything, uniform_edges(n, 3000, rng))]
    for _ in range(8):
        train, _ = random_graph(rng, with_eval=False)
        m = int(train.max()) + 1
        pairs = uniform_edges(m + 2, int(rng.integers(1, 4 * m)), rng)  # self pairs, repeats, unknown nodes
        cases.append((train, np.concatenate([pairs, pairs[:, :5]], axis=1)))
    for train, pairs in cases:
        num_nodes = max(int(train.max()), int(pairs.max())) + 1
        want = pair_topological_concentration(train, pairs, hops=hops, num_nodes=num_nodes)
        got = distributed_pair_tc(train, pairs, client=client, hops=hops, num_nodes=num_nodes)
        assert_same(got.tc_by_hops, want.tc_by_hops)
        assert_same(got.tc, want.tc)
        assert (got.beta, got.distinct_pairs, got.num_nodes) == (want.beta, want.distinct_pairs, want.num_nodes)


def test_pairs_without_any_pair(client):
    train = np.array([[0, 1, 2], [1, 2, 0]])
    got = distributed_pair_tc(train, np.zeros((2, 0), np.int64), client=client, hops=2)
    assert got.tc.shape == (0,) and got.tc_by_hops.shape == (2, 0)


def test_settings_are_checked_before_any_task(client):
    train = np.array([[0, 1, 2], [1, 2, 0]])
    with pytest.raises(InputError, match="hops"):
        distributed_tc(train, client=client, hops=5)
    with pytest.raises(InputError, match="beta"):
        distributed_tc(train, client=client, hops=2, beta=-1.0)
    with pytest.raises(InputError, match="pairs"):
        distributed_pair_tc(train, None, client=client)


# ----------------------------------------------------------------------------- ATC, split over the columns of R
def assert_identical_atc(got, want) -> None:
    np.testing.assert_array_equal(got.tc, want.tc)  # NaN where NaN, every other value bit for bit
    np.testing.assert_array_equal(got.denominator, want.denominator)
    assert (got.beta, got.hops, got.dim, got.seed, got.variant, got.num_nodes, got.train_edges, got.eval_edges) == (
        want.beta, want.hops, want.dim, want.seed, want.variant, want.num_nodes, want.train_edges, want.eval_edges
    )


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_atc_on_random_graphs_equals_one_process(client, hops):
    rng = np.random.default_rng(300 + hops)
    for case in range(8):
        train, ev = random_graph(rng, with_eval=bool(case % 2))
        beta = None if case % 4 < 2 else float(rng.uniform(0.2, 2.0))
        settings = {"hops": hops, "beta": beta, "dim": int(rng.choice([8, 40, 64])), "seed": case,
                    "exact_hop1": case != 3}
        got = distributed_atc(train, ev, client=client, **settings)
        assert_identical_atc(got, approximate_tc(train, ev, backend="cpu", **settings))


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_atc_on_a_real_graph_equals_one_process(client, hops, monkeypatch):
    everything, early, late = reptile()
    monkeypatch.setattr(_atc_stages, "PAIR_BLOCK", 400)  # several pair blocks, so several tasks (set here only)
    for train, ev in ((everything, None), (early, late)):
        want = approximate_tc(train, ev, hops=hops, dim=128, seed=5, backend="cpu")
        got = distributed_atc(train, ev, client=client, hops=hops, dim=128, seed=5)
        assert_identical_atc(got, want)
        assert np.isfinite(got.tc).sum() > 100


def test_a_column_range_holds_the_columns_of_the_whole_projection():
    train = uniform_edges(60, 300, 11)
    prep = _atc_stages.prepare_graph(train, None, None, 3)
    ops = _atc_cpu.CpuOps()
    graph = ops.adjacency(prep.indptr, prep.indices, prep.num_nodes)
    side = _atc_stages.side_arrays(prep, 3, True, ops.common_neighbours(graph, prep.lo, prep.hi), None,
                           _atc_stages.set_ratios(ops, graph, prep, 3, 4, 16))
    whole = _atc_stages.project_columns(ops, graph, prep, 3, 70, 4, side, (0, 70))
    for columns in ((0, 16), (16, 48), (48, 70), (64, 70)):
        part = _atc_stages.project_columns(ops, graph, prep, 3, 70, 4, side, columns)
        for got, want in zip(part, whole):
            np.testing.assert_array_equal(got, want[:, :, columns[0]:columns[1]])
    np.testing.assert_array_equal(_atc_stages.rademacher(np, 60, 70, 4, (20, 70)), _atc_stages.rademacher(np, 60, 70, 4)[:, 20:])


def test_sketch_sums_of_column_ranges_are_the_whole_sketchs_partial_sums():
    train = uniform_edges(60, 300, 11)
    prep = _atc_stages.prepare_graph(train, None, None, 3)
    ops = _atc_cpu.CpuOps()
    graph = ops.adjacency(prep.indptr, prep.indices, prep.num_nodes)
    whole = _atc_stages.reach_sketch_sums(ops, graph, prep, 3, 4, 72)
    assert [len(sums) for sums in whole] == [5, 5]  # runs of 16 columns: 4 whole, one of 8
    for parts in (2, 3, 5):
        ranges = _atc_stages.column_ranges(72, _atc_stages.SKETCH_CHUNK, parts)
        sketches = [_atc_stages.reach_sketch_sums(ops, graph, prep, 3, 4, 72, columns) for columns in ranges]
        for k, want in enumerate(whole):
            got = [part for sketch in sketches for part in sketch[k]]
            assert len(got) == len(want)
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g, w)
    seeds = _atc_stages.sketch_seeds(np, 60, 71, 4)
    np.testing.assert_array_equal(_atc_stages.sketch_seeds(np, 60, 71, 4, (21, 71)), seeds[:, 21:])
    np.testing.assert_array_equal(_atc_stages.sketch_seeds(np, 60, 71, 4, (0, 5)), seeds[:, :5])
    # the hash stream: word w of node v is splitmix64(v * words + w + splitmix64(seed ^ stream)), low half first
    mix = lambda x: _atc_stages._splitmix64(np, np.asarray(x, dtype=np.uint64))  # noqa: E731
    words = mix(np.arange(60 * 36, dtype=np.uint64) + mix([4 ^ _atc_stages._STREAM_SKETCH])[0]).reshape(60, 36)
    np.testing.assert_array_equal(seeds[:, 0::2], (words & np.uint64(0xFFFFFFFF)).astype(np.uint32))
    np.testing.assert_array_equal(seeds[:, 1::2], (words[:, :35] >> np.uint64(32)).astype(np.uint32))


def test_atc_partials_summed_over_column_ranges_equal_the_whole_rows():
    rng = np.random.default_rng(2)
    xs, ys = rng.standard_normal((2, 3, 50, 40)).astype(np.float32)
    a, b = rng.integers(0, 50, 200), rng.integers(0, 50, 200)
    x_sel, y_sel = np.array([[-1, 0], [1, 2]]), np.array([[-1, 1], [0, 2]])
    whole = _atc_cpu.pair_dots(xs, ys, a, b, x_sel, y_sel)
    split = _atc_cpu.sum_chunks([_atc_cpu.pair_dot_chunks(xs[:, :, s], ys[:, :, s], a, b, x_sel, y_sel)
                                 for s in (slice(0, 16), slice(16, 40))])
    np.testing.assert_array_equal(split, whole)
    np.testing.assert_allclose(whole[:, 1, 0], (xs[1, a].astype(np.float64) * ys[0, b]).sum(axis=1), rtol=1e-5)
    assert (whole[:, 0, 0] == 0).all()


# ----------------------------------------------------------------------------- the block hooks of the kernels
def test_a_block_of_nodes_gets_the_full_run_values():
    train, ev = uniform_edges(80, 400, 5), uniform_edges(85, 120, 6)
    for eval_edges in (None, ev):
        full = topological_concentration(train, eval_edges, hops=2, backend="cpu")
        block = np.arange(10, 40)
        part = topological_concentration(train, eval_edges, hops=2, backend="cpu", nodes=block)
        assert_same(part.tc[block], full.tc[block])
        assert_same(part.parts[:, :, block], full.parts[:, :, block])
        outside = np.setdiff1d(np.arange(full.tc.size), block)
        assert np.isnan(part.tc[outside]).all() and np.isnan(part.denominator[outside]).all()
        cost = source_costs(train, eval_edges, hops=2)
        np.testing.assert_array_equal(np.isnan(cost), np.isnan(full.tc))  # work exactly where TC is defined
        assert (cost[~np.isnan(cost)] > 0).all()


@pytest.mark.parametrize("nodes", [np.array([0, 80]), np.array([-1]), np.array([[1, 2]]), np.array([0.5])])
def test_a_bad_block_is_named(nodes):
    with pytest.raises(InputError, match="nodes must be"):
        topological_concentration(np.array([[0, 1, 2], [1, 2, 0]]), hops=2, backend="cpu", nodes=nodes, num_nodes=80)


def test_pair_costs_mark_the_sources_with_pairs():
    train = np.array([[0, 1, 2, 2], [1, 2, 0, 3]])
    cost = pair_source_costs(train, np.array([[0, 0, 3, 1], [2, 3, 0, 1]]), hops=2)
    assert np.isnan(cost[[1, 2]]).all() and (cost[[0, 3]] > 0).all()  # 1 has only a self pair, 2 none


# ----------------------------------------------------------------------------- a worker lost mid-run
def _hold_blocks(started: str, go: str, victim: str) -> None:
    """On a worker: every block task records its worker, announces that it started, then waits for ``go``."""
    from distributed import Event, Variable, get_worker

    import topo_graphdb.kernels.distributed as module

    original = module.topological_concentration

    def held(*args, **kwargs):
        Variable(victim).set(get_worker().address)
        Event(started).set()
        Event(go).wait(timeout=300)
        return original(*args, **kwargs)

    held.original = original
    module.topological_concentration = held


def _release_blocks() -> None:
    import topo_graphdb.kernels.distributed as module

    module.topological_concentration = getattr(module.topological_concentration, "original", module.topological_concentration)


def test_a_worker_lost_mid_run_changes_nothing(client):
    train = uniform_edges(300, 2400, 31)
    want = topological_concentration(train, hops=2, backend="cpu")
    names = [f"{what}-{uuid.uuid4().hex}" for what in ("started", "go", "victim")]
    started, go, victim = Event(names[0], client=client), Event(names[1], client=client), Variable(names[2], client=client)
    this_module = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(this_module)  # the workers cannot import this test file: send it by value
    try:
        client.run(_hold_blocks, *names)
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(distributed_tc, train, client=client, hops=2)
            try:
                assert started.wait(timeout=120), "no block task started"
                lost = victim.get(timeout=60)
                client.run(os._exit, 1, workers=[lost], on_error="return")  # returns once the process is gone
            finally:
                go.set()
            got = running.result(timeout=300)
        assert lost not in client.nthreads()  # the worker was lost, its tasks ran elsewhere
        assert_same_tc(got, want)
    finally:
        client.run(_release_blocks)
        cloudpickle.unregister_pickle_by_value(this_module)
        client.wait_for_workers(2, timeout=120)  # the nanny restarts the lost worker


# ----------------------------------------------------------------------------- the scheduler setting and the CLI
def test_scheduler_settings_are_parsed():
    assert parse_scheduler("local") == ("local", None)
    assert parse_scheduler(" local:3 ") == ("local", 3)
    assert parse_scheduler("tcp://10.1.2.3:8786") == ("address", "tcp://10.1.2.3:8786")
    for bad in ("", "  ", "local:0", "local:x", "local:-1"):
        with pytest.raises(InputError, match="scheduler"):
            parse_scheduler(bad)


def test_missing_dask_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    with pytest.raises(BackendUnavailable, match="Dask is not installed") as err, dask_client("local:1"):
        pass
    assert "topo-graphdb[dask]" in str(err.value) and err.value.exit_code == 7


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TRAIN = "src,dst\n" + "\n".join(f"{a},{b}" for a, b in [(1, 2), (2, 3), (3, 1), (3, 4), (4, 5), (5, 3), (5, 6), (6, 1)]) + "\n"


def run_tc(tmp_path: Path, *args: str, env: dict | None = None):
    (tmp_path / "train.csv").write_text(TRAIN)
    return CliRunner().invoke(main, ["tc", "--edges", str(tmp_path / "train.csv"), *args], env=env)


def assert_one_line_error(result, code: int, text: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], result.stderr


def test_cli_unreachable_scheduler_is_exit_7(tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    result = run_tc(tmp_path, "--hops", "2", "--scheduler", address, "--output", str(tmp_path / "out.csv"))
    assert_one_line_error(result, 7, f"cannot reach the Dask scheduler at {address}")
    assert not (tmp_path / "out.csv").exists()


def test_cli_bad_scheduler_settings(tmp_path):
    out = str(tmp_path / "out.csv")
    assert_one_line_error(run_tc(tmp_path, "--scheduler", "local:0", "--output", out), 3, "local:N")
    assert_one_line_error(run_tc(tmp_path, "--backend", "gpu", "--scheduler", "local", "--output", out), 2, "--backend gpu")


def test_cli_on_the_cluster_writes_what_one_process_writes(client, tmp_path):
    address = client.scheduler.address
    alone, spread = tmp_path / "alone.csv", tmp_path / "spread.csv"
    assert run_tc(tmp_path, "--hops", "2", "--output", str(alone)).exit_code == 0
    result = run_tc(tmp_path, "--hops", "2", "--output", str(spread), env={"TOPO_DASK_SCHEDULER": address})
    assert result.exit_code == 0, result.output
    assert spread.read_text() == alone.read_text()
    assert '"scheduler": "' + address in Path(f"{spread}.json").read_text()


def _kernel_threads() -> tuple[int, str]:
    import numba  # noqa: PLC0415

    return numba.get_num_threads(), os.environ.get("OMP_NUM_THREADS", "")


@pytest.mark.parametrize(("threads", "expected"), [(None, os.cpu_count() or 1), (1, 1)])
def test_a_local_worker_alone_gets_every_cpu_unless_told(threads, expected):
    with dask_client("local:1", threads=threads) as c:
        assert list(c.nthreads().values()) == [1]  # one task at a time
        assert list(c.run(_kernel_threads).values()) == [(expected, str(expected))]


def test_local_workers_allocate_as_one_process_does(monkeypatch):
    """The nanny's MALLOC_TRIM_THRESHOLD_ would fix glibc's mmap threshold in the workers (every large temporary
    mapped and faulted in afresh); a local cluster unsets it. (A cluster started without that, as this module's
    fixture, leaves it in this process's environment, which the workers would inherit.)"""
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with dask_client("local:1") as c:
        assert list(c.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_").values()) == [None]
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ


def test_cli_local_cluster_writes_what_one_process_writes(tmp_path):
    alone, spread = tmp_path / "alone.csv", tmp_path / "spread.csv"
    assert run_tc(tmp_path, "--hops", "3", "--output", str(alone)).exit_code == 0
    result = run_tc(tmp_path, "--hops", "3", "--scheduler", "local:1", "--output", str(spread))
    assert result.exit_code == 0, result.output
    assert spread.read_text() == alone.read_text()


def test_cli_atc_on_the_cluster_writes_what_one_process_writes(client, tmp_path):
    alone, spread = tmp_path / "alone.csv", tmp_path / "spread.csv"
    args = ("--approx", "--hops", "3", "--dim", "48", "--seed", "4")
    assert run_tc(tmp_path, *args, "--output", str(alone)).exit_code == 0
    result = run_tc(tmp_path, *args, "--scheduler", client.scheduler.address, "--output", str(spread))
    assert result.exit_code == 0, result.output
    assert spread.read_text() == alone.read_text()
    assert "project_and_pairs" in Path(f"{spread}.json").read_text()  # the cluster's timings: it ran there


# ----------------------------------------------------------------------------- TC computed inside other stages
def test_kernels_called_inside_compute_on_run_on_the_cluster(client):
    train, ev = reptile()[1:]
    with compute_on(client):
        got = topological_concentration(train, ev, hops=2)
        got_pairs = pair_topological_concentration(train, ev, hops=2)
        got_atc = approximate_tc(train, ev, hops=2, seed=1)
    assert "scatter" in got.timings and "scatter" in got_pairs.timings and "project_and_pairs" in got_atc.timings
    assert_same_tc(got, topological_concentration(train, ev, hops=2, backend="cpu"))
    assert_same(got_pairs.tc_by_hops, pair_topological_concentration(train, ev, hops=2).tc_by_hops)
    assert_identical_atc(got_atc, approximate_tc(train, ev, hops=2, seed=1, backend="cpu"))
    assert "scatter" not in topological_concentration(train, ev, hops=2, backend="cpu").timings  # outside: here


def test_cli_evaluate_on_the_cluster_reports_what_one_process_reports(client, tmp_path):
    write_reptile_split(tmp_path)
    reports = []
    for name, env in (("alone", {}), ("spread", {"TOPO_DASK_SCHEDULER": client.scheduler.address})):
        args = ["evaluate", "--train-edges", str(tmp_path / "train.csv"), "--valid-edges", str(tmp_path / "valid.csv"),
                "--test-edges", str(tmp_path / "test.csv"), "--output-dir", str(tmp_path / name), "--model", "ra",
                "--hops", "1,2", "--no-plots", "--no-progress"]
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 0, result.output
        reports.append((tmp_path / name / "node_metrics.csv").read_text())
    assert reports[0] == reports[1]


def test_cli_evaluate_unreachable_scheduler_is_exit_7(tmp_path):
    write_reptile_split(tmp_path)
    address = f"tcp://127.0.0.1:{free_port()}"
    args = ["evaluate", "--train-edges", str(tmp_path / "train.csv"), "--valid-edges", str(tmp_path / "valid.csv"),
            "--test-edges", str(tmp_path / "test.csv"), "--output-dir", str(tmp_path / "out"), "--model", "ra",
            "--scheduler", address]
    assert_one_line_error(CliRunner().invoke(main, args), 7, f"cannot reach the Dask scheduler at {address}")


def test_each_call_scatters_under_a_fresh_key(client, monkeypatch):
    # same graph twice: hashed keys would be equal, and the second call could lose its data while the
    # scheduler releases the first call's copy ("lost dependencies", dask/distributed#8576)
    keys = []
    scatter = client.scatter

    def recording(*args, **kwargs):
        futures = scatter(*args, **kwargs)
        keys.extend(f.key for f in futures)
        return futures

    monkeypatch.setattr(client, "scatter", recording)
    train = uniform_edges(120, 600, 5)
    first = distributed_tc(train, client=client, hops=2)
    second = distributed_tc(train, client=client, hops=2)
    assert len(keys) == 2 and keys[0] != keys[1]
    assert_same_tc(first, second)


# ----------------------------------------------------------------------------- prediction's candidate scoring
def fitted(model: str, edges: np.ndarray, n: int):
    from topo_graphdb.model.factory import make_predictor
    from topo_graphdb.model.splits import random_split

    split = random_split(edges, n, seed=0)
    settings = {} if model == "ra" else {"hidden": 16, "epochs": 3, "device": "cpu", "progress": False, "seed": 0}
    return make_predictor(model, **settings).fit(split)


def prediction_cases():
    everything, _, _ = reptile()
    small = uniform_edges(90, 400, 3)
    return {"random": (small, 90), "reptile": (everything, int(everything.max()) + 1)}


@pytest.fixture(scope="module")
def predictors():
    return {(graph, model): fitted(model, edges, n) for graph, (edges, n) in prediction_cases().items() for model in ("gcn", "ra")}


def assert_same_links(got: dict, want: dict) -> None:
    assert set(got) == set(want) == {"src", "dst", "score", "rank"}
    for key in want:
        assert got[key].dtype == want[key].dtype, key
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


@pytest.mark.parametrize("graph", ["random", "reptile"])
@pytest.mark.parametrize("model", ["gcn", "ra"])
@pytest.mark.parametrize("method", ["exhaustive", "candidates"])
def test_predicted_links_on_the_cluster_equal_one_process(client, predictors, monkeypatch, graph, model, method):
    from topo_graphdb.model.predict import predict_links

    predictor = predictors[graph, model]
    row = 24 * predictor.num_nodes_ + (predictor.block_bytes_per_source() if method == "exhaustive" else 0)  # bytes per source
    settings = {"top_k": 7, "method": method, "neighbours": 9, "memory_budget": 10 * row}  # small batches: many tasks
    want = predict_links(predictor, **settings)
    submitted = []
    submit = client.submit
    monkeypatch.setattr(client, "submit", lambda *a, **k: submitted.append(a[0]) or submit(*a, **k))
    with compute_on(client):
        got = predict_links(predictor, **settings)
        some = predict_links(predictor, nodes=np.array([5, 1, 5, 30]), **settings)
    assert len(submitted) > 2  # it ran on the workers, in several tasks
    assert_same_links(got, want)
    assert_same_links(some, predict_links(predictor, nodes=np.array([1, 5, 30]), **settings))
    assert want["src"].size > 0 and np.isin(np.unique(want["src"]), np.arange(predictor.num_nodes_)).all()


def test_prediction_without_a_client_stays_in_this_process(client, predictors, monkeypatch):
    from topo_graphdb.model.predict import predict_links

    predictor = predictors["random", "gcn"]
    want = predict_links(predictor, top_k=5)
    monkeypatch.setattr(client, "scatter", lambda *a, **k: pytest.fail("scattered outside compute_on"))
    monkeypatch.setattr(client, "submit", lambda *a, **k: pytest.fail("submitted outside compute_on"))
    got = predict_links(predictor, top_k=5)
    assert_same_links(got, want)
    ranks_start_at_one = got["rank"][np.r_[True, got["src"][1:] != got["src"][:-1]]]
    assert (ranks_start_at_one == 1).all()


def test_the_scoring_payload_goes_to_the_workers_once_while_it_stays_the_same(client, predictors, monkeypatch):
    from topo_graphdb.model.predict import predict_links

    sent = []
    scatter = client.scatter
    monkeypatch.setattr(client, "scatter", lambda data, **k: sent.append(len(data)) or scatter(data, **k))
    predictor = predictors["reptile", "ra"]
    with compute_on(client):
        chunks = [predict_links(predictor, nodes=np.arange(s, s + 100), top_k=3) for s in (0, 100, 200)]
        other = predict_links(predictors["reptile", "gcn"], nodes=np.arange(100), top_k=3)
    assert sent == [1, 1]  # one payload per predictor, broadcast to every worker
    whole = predict_links(predictor, nodes=np.arange(300), top_k=3)
    assert_same_links({k: np.concatenate([c[k] for c in chunks]) for k in whole}, whole)
    assert_same_links(other, predict_links(predictors["reptile", "gcn"], nodes=np.arange(100), top_k=3))


# ----------------------------------------------------------------------------- capped candidates (sync above its exhaustive size)
def naive_capped(predictor, known, sources, *, top_k, two_hop, neighbours):
    """Straight from the definition: per source, the ``two_hop`` non-neighbours with the most common
    neighbours (ties: lower index) plus the ``neighbours`` nearest by embedding, scored, best ``top_k``."""
    dense = known.toarray() > 0
    emb = predictor.embed().astype(np.float64) if hasattr(predictor, "embed") else None
    out = []
    for i in sources.tolist():
        allowed = [j for j in range(dense.shape[0]) if j != i and not dense[i, j]]
        common = {j: int((dense[i] & dense[j]).sum()) for j in allowed}
        cand = set(sorted((j for j in allowed if common[j] > 0), key=lambda j: (-common[j], j))[:two_hop])
        if emb is not None and neighbours > 0:
            cand |= set(sorted(allowed, key=lambda j: (-(emb[i] @ emb[j]), j))[:neighbours])
        cand = sorted(cand)
        if cand:
            score = np.asarray(predictor.score(np.array([[i] * len(cand), cand])), dtype=np.float64)
            out += sorted(zip([i] * len(cand), cand, score.tolist()), key=lambda t: (-t[2], t[1]))[:top_k]
    return out


@pytest.mark.parametrize("model", ["gcn", "ra"])
@pytest.mark.parametrize("neighbours", [0, 6])
def test_capped_candidates_without_a_client_follow_the_definition_here(client, predictors, monkeypatch, model, neighbours):
    from topo_graphdb.model.predict import capped_candidates
    from topo_graphdb.snapshot import adjacency_matrix

    monkeypatch.setattr(client, "scatter", lambda *a, **k: pytest.fail("scattered outside compute_on"))
    monkeypatch.setattr(client, "submit", lambda *a, **k: pytest.fail("submitted outside compute_on"))
    edges, n = prediction_cases()["random"]
    predictor, known = predictors["random", model], adjacency_matrix(edges, n)
    sources = np.array([3, 0, 7, 41, 89, 12])
    s, d, v = capped_candidates(predictor, known, sources, top_k=4, two_hop=5, neighbours=neighbours, batch=4)
    want = naive_capped(predictor, known, sources, top_k=4, two_hop=5, neighbours=neighbours)
    assert list(zip(s.tolist(), d.tolist())) == [(i, j) for i, j, _ in want]
    # float32 logits scored in other batches: the matrix products may round differently
    np.testing.assert_allclose(v, [score for _, _, score in want], rtol=1e-5, atol=1e-7)
    assert s.dtype == d.dtype == np.int64 and v.dtype == np.float64


@pytest.mark.parametrize("graph", ["random", "reptile"])
@pytest.mark.parametrize("model", ["gcn", "ra"])
def test_capped_candidates_on_the_cluster_equal_one_process(client, predictors, monkeypatch, graph, model):
    from topo_graphdb.model.predict import capped_candidates
    from topo_graphdb.snapshot import adjacency_matrix

    edges, n = prediction_cases()[graph]
    predictor, known = predictors[graph, model], adjacency_matrix(edges, n)
    sources = np.random.default_rng(4).permutation(n)[: n - 5]  # any order, some nodes left out
    settings = {"top_k": 6, "two_hop": 8, "neighbours": 5, "batch": 9}  # small batches: many tasks
    want = capped_candidates(predictor, known, sources, **settings)
    submitted = []
    submit = client.submit
    monkeypatch.setattr(client, "submit", lambda *a, **k: submitted.append(a[0]) or submit(*a, **k))
    with compute_on(client):
        got = capped_candidates(predictor, known, sources, **settings)
    assert len(submitted) > 2  # it ran on the workers, in several tasks
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
    assert want[0].size > 0 and (np.unique(want[0], return_index=True)[1].size == np.unique(want[0]).size)


def test_sync_link_scoring_above_the_exhaustive_size_on_the_cluster_equals_one_process(client, monkeypatch):
    from types import SimpleNamespace

    from topo_graphdb.model import predict
    from topo_graphdb.pipeline.phases import EXHAUSTIVE_NODES, top_links

    n = max(EXHAUSTIVE_NODES + 1, 20_000)  # sources in chunks of 1000 here, 8000 on two worker threads
    edges = uniform_edges(n, 3 * n, 8)
    predictor = fitted("ra", edges, n)
    cfg = SimpleNamespace(predict=SimpleNamespace(top_k=5))
    chunks = []
    clock = SimpleNamespace(progress=lambda phase, done, total: chunks.append(done))
    sources = np.arange(n)
    monkeypatch.setattr(predict, "capped_batch_size", lambda n, batch=256: 40)  # several batches per chunk
    want = top_links(predictor, edges, n, sources, cfg, clock)
    alone = list(chunks)
    sent = []
    scatter = client.scatter
    monkeypatch.setattr(client, "scatter", lambda data, **k: sent.append(len(data)) or scatter(data, **k))
    chunks.clear()
    with compute_on(client):
        got = top_links(predictor, edges, n, sources, cfg, clock)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert sent == [1] and len(chunks) > 1  # the predictor and the graph went to the workers once for every chunk
    assert len(chunks) < len(alone) and chunks[-1] == alone[-1] == sources.size  # bigger chunks: a few batches per worker thread
    assert all(done % 40 == 0 for done in alone[:-1] + chunks[:-1])  # whole batches: the same batches in both runs


# ----------------------------------------------------------------------------- a snapshot folder the workers read themselves
def _origins_read_here() -> list:
    """On a worker: the origins of the snapshot edges it holds."""
    import topo_graphdb.kernels.distributed as module

    return [stored.origin for stored in module._READ]


def _forget_reads() -> None:
    import topo_graphdb.kernels.distributed as module

    module._READ.clear()


@pytest.fixture()
def on_workers(client):
    """Run this test file's helpers on the workers (they cannot import it: sent by value)."""
    this_module = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(this_module)
    try:
        yield lambda func: client.run(func)
    finally:
        client.run(_forget_reads)
        cloudpickle.unregister_pickle_by_value(this_module)


def recorded_scatter(client, monkeypatch) -> list:
    sent = []
    scatter = client.scatter
    monkeypatch.setattr(client, "scatter", lambda data, **k: sent.append(data) or scatter(data, **k))
    return sent


def test_workers_read_a_snapshot_folder_themselves_once(client, monkeypatch, on_workers, tmp_path):
    import shutil

    from topo_graphdb.kernels.distributed import StoredEdges

    rows = np.loadtxt(DATASETS / "reptile" / "edges.csv", delimiter=",", skiprows=1, dtype=np.int64)
    GraphSnapshot.from_edges(rows[:, 0], rows[:, 1]).to_parquet(tmp_path / "snap")
    snap = GraphSnapshot.from_parquet(f"file://{tmp_path / 'snap'}")
    _, early, late = reptile()
    sent = recorded_scatter(client, monkeypatch)
    got = distributed_tc(snap, client=client, hops=2)
    pairs = distributed_pair_tc(snap, late, client=client, hops=2)
    assert_same_tc(got, topological_concentration(snap.edge_index, hops=2, backend="cpu"))
    assert_same(pairs.tc_by_hops, pair_topological_concentration(snap.edge_index, late, hops=2).tc_by_hops)
    stored = [sent[0][0][0], sent[1][0]]  # (train, eval) of the node tasks, train of the pair tasks
    assert all(isinstance(s, StoredEdges) and s.origin == snap.origin for s in stored)  # no array scattered
    assert on_workers(_origins_read_here) == {w: [snap.origin] for w in client.nthreads()}  # every worker read it
    shutil.rmtree(tmp_path / "snap")  # from now on only the workers' copies exist
    assert_same_tc(distributed_tc(snap, client=client, hops=2), got)  # read once: the next call needs no folder
    copy = snap.with_()  # a changed snapshot has no origin: its arrays are sent
    assert_same_tc(distributed_tc(copy, client=client, hops=2), got)
    assert isinstance(sent[-1][0][0], np.ndarray)


def test_a_snapshot_changed_after_the_client_read_it_is_refused(client, on_workers, tmp_path):
    GraphSnapshot.from_edges(np.array([0, 1, 2, 3]), np.array([1, 2, 0, 0])).to_parquet(tmp_path / "snap")
    snap = GraphSnapshot.from_parquet(tmp_path / "snap")
    GraphSnapshot.from_edges(np.array([0, 1, 2, 3]), np.array([1, 2, 3, 0])).to_parquet(tmp_path / "snap")  # overwritten
    with pytest.raises(InputError, match="changed after this run read it"):
        distributed_tc(snap, client=client, hops=2)


def test_cli_on_a_snapshot_folder_writes_what_one_process_writes_from_the_edge_file(client, on_workers, tmp_path):
    (tmp_path / "train.csv").write_text(TRAIN)
    rows = np.loadtxt(tmp_path / "train.csv", delimiter=",", skiprows=1, dtype=np.int64)
    GraphSnapshot.from_edges(rows[:, 0], rows[:, 1]).to_parquet(tmp_path / "snap")
    alone, spread = tmp_path / "alone.csv", tmp_path / "spread.csv"
    assert run_tc(tmp_path, "--hops", "2", "--output", str(alone)).exit_code == 0
    args = ["tc", "--edges", f"file://{tmp_path / 'snap'}", "--hops", "2", "--scheduler", client.scheduler.address,
            "--output", str(spread)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert spread.read_text() == alone.read_text()
    assert "worker_read" in Path(f"{spread}.json").read_text()  # the workers read the folder
    nodes = CliRunner().invoke(main, [*args[:-2], "--nodes", str(tmp_path / "train.csv"), "--output", str(spread)])
    assert_one_line_error(nodes, 3, "--nodes applies to an edge CSV")
