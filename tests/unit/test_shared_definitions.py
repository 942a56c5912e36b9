"""Facts defined once and used everywhere: run ids, the tool's own labels, model names, CN/AA/RA."""

from __future__ import annotations

import re

import numpy as np
import pytest
from click.testing import CliRunner
from graphs import uniform_edges

from topo_graphdb import connector, ledger, writeback
from topo_graphdb.cli import main
from topo_graphdb.config import load_config
from topo_graphdb.errors import InputError
from topo_graphdb.kernels import pair_heuristics
from topo_graphdb.model.evaluate import make_predictor
from topo_graphdb.model.heuristics import HeuristicPredictor, heuristic_pair_scores
from topo_graphdb.model.names import GNN_MODELS, HEURISTIC_MODELS, PREDICTORS
from topo_graphdb.model.splits import random_split
from topo_graphdb.snapshot import adjacency_matrix


# ---------------------------------------------------------------- run ids and labels
def test_one_run_id_maker():
    assert writeback.new_run_id is ledger.new_run_id
    ids = {ledger.new_run_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", i) for i in ids)


def test_one_definition_of_the_tools_own_labels():
    assert connector.LEDGER_LABEL is ledger.LEDGER_LABEL is writeback.LEDGER_LABEL
    assert connector.LOCK_LABEL is ledger.LOCK_LABEL is writeback.LOCK_LABEL
    # label-free selections leave out the nodes the tool writes itself
    assert set(connector.GraphSpec().exclude_labels) == {ledger.LEDGER_LABEL, ledger.LOCK_LABEL}


# ---------------------------------------------------------------- model names
def test_every_entry_point_accepts_exactly_the_named_predictors():
    assert PREDICTORS == GNN_MODELS + HEURISTIC_MODELS
    for name in PREDICTORS:
        assert load_config(None, overrides={"predict.model": name}, environ={}).predict.model == name
    with pytest.raises(InputError, match="one of " + ", ".join(PREDICTORS)):
        load_config(None, overrides={"predict.model": "gat"}, environ={})
    for name in HEURISTIC_MODELS:
        assert isinstance(make_predictor(name), HeuristicPredictor)
    with pytest.raises(InputError, match="one of " + ", ".join(PREDICTORS)):
        make_predictor("gat")
    for command in ("evaluate", "predict"):
        param = next(p for p in main.commands[command].params if p.name == "model")
        assert tuple(param.type.choices) == PREDICTORS
        assert all(name in param.help for name in PREDICTORS)
    sync_model = next(p for p in main.commands["sync"].params if p.name == "model")
    assert all(name in sync_model.help for name in PREDICTORS)


def test_cli_refuses_an_unknown_model_listing_the_names(tmp_path):
    edges = tmp_path / "e.csv"
    edges.write_text("src,dst\n1,2\n")
    result = CliRunner().invoke(main, ["predict", "--edges", str(edges), "--model", "gat", "--output", str(tmp_path / "o.csv")])
    assert result.exit_code != 0
    assert all(name in result.output for name in PREDICTORS)


# ---------------------------------------------------------------- CN / AA / RA
def _graph(seed: int, n: int = 40, m: int = 120) -> np.ndarray:
    e = uniform_edges(n, m, seed)
    return e[:, e[0] != e[1]]


@pytest.mark.parametrize("method", HEURISTIC_MODELS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_predictor_and_kernel_give_identical_values_self_pairs_nan(method, seed):
    n = 40
    split = random_split(_graph(seed), n, seed=seed)
    train = split.train_pos
    rng = np.random.default_rng(seed + 10)
    pairs = np.concatenate([rng.integers(0, n, size=(2, 200)), np.tile(np.arange(n), (2, 1))], axis=1)  # incl. every self-pair
    kernel = pair_heuristics(train, pairs, num_nodes=n, which=method)[method]
    hp = HeuristicPredictor(method).fit(split)
    np.testing.assert_array_equal(hp.score(pairs), kernel)
    np.testing.assert_array_equal(heuristic_pair_scores(adjacency_matrix(train, n, np.float64), pairs, method=method), kernel)
    self_pair = pairs[0] == pairs[1]
    assert np.isnan(kernel[self_pair]).all() and not np.isnan(kernel[~self_pair]).any()
    # the block form (one source against every node) holds the same values
    sources = np.arange(n)
    block = hp.score_block(sources)
    full = pair_heuristics(train, np.stack([np.repeat(sources, n), np.tile(np.arange(n), n)]), num_nodes=n, which=method)[method]
    np.testing.assert_allclose(block.reshape(-1), full, rtol=1e-12, atol=0)
    assert np.isnan(np.diag(block)).all()


def test_self_pair_on_a_triangle_by_hand():
    train = np.array([[0, 1, 2], [1, 2, 0]])
    h = pair_heuristics(train, np.array([[0, 0], [0, 1]]))
    assert np.isnan(h["cn"][0]) and np.isnan(h["aa"][0]) and np.isnan(h["ra"][0])
    assert h["cn"][1] == 1.0 and h["ra"][1] == 0.5 and h["aa"][1] == pytest.approx(1 / np.log(2))
