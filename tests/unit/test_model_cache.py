"""The cache of trained link predictors: a hit gives the model a fresh fit gives; any change of
what decides the fit changes the key; entries are whole or absent; the newest are kept."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from graphs import simple, uniform_edges

from topo_graphdb.errors import InputError
from topo_graphdb.model.cache import ModelCache, code_digest, training_key
from topo_graphdb.model.splits import random_split

N = 60


def _split(seed: int = 0, drop: int = 0):
    edges = simple(uniform_edges(N, 240, seed=3), N)
    if drop:
        edges = edges[:, drop:]
    return random_split(edges, N, valid_fraction=0.1, test_fraction=0.1, seed=seed)


def _key(split, *, settings=None, x=None, code="c0", torch_version="2.x", model="gcn", n=N):
    return training_key(model, settings or {"hidden": 16, "epochs": 5, "seed": 0}, n, split, x, code=code, torch_version=torch_version)


def test_the_key_is_stable_and_changes_with_every_input():
    split = _split()
    base = _key(split)
    assert base == _key(_split())  # the same inputs, recomputed
    x = np.random.default_rng(0).random((N, 4)).astype(np.float32)
    changed = {
        "split seed": _key(_split(seed=1)),
        "one edge fewer": _key(_split(drop=1)),
        "settings": _key(split, settings={"hidden": 32, "epochs": 5, "seed": 0}),
        "seed": _key(split, settings={"hidden": 16, "epochs": 5, "seed": 1}),
        "features": _key(split, x=x),
        "one feature value": _key(split, x=np.where(np.arange(N * 4).reshape(N, 4) == 7, 0.5, x).astype(np.float32)),
        "feature dtype": _key(split, x=x.astype(np.float64)),
        "model code": _key(split, code="c1"),
        "torch": _key(split, torch_version="9.9"),
        "model": _key(split, model="sage"),
        "nodes": _key(split, n=N + 1),
    }
    assert base not in changed.values() and len(set(changed.values())) == len(changed), changed


def test_the_code_digest_covers_the_model_sources():
    digest = code_digest()
    assert len(digest) == 64 and digest == code_digest()


def test_settings_order_does_not_matter():
    split = _split()
    assert _key(split, settings={"a": 1, "b": 2}) == _key(split, settings={"b": 2, "a": 1})


def test_a_hit_gives_the_model_a_fresh_fit_gives(tmp_path: Path):
    pytest.importorskip("torch")
    from topo_graphdb.model.predictor import LinkPredictor

    split = _split()
    pairs = np.array([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])

    def fit():
        return LinkPredictor("gcn", hidden=16, epochs=5, seed=0, device="cpu", progress=False).fit(split)

    first, again = fit(), fit()
    np.testing.assert_array_equal(first.score(pairs), again.score(pairs))  # training is repeatable on the CPU

    cache = ModelCache(tmp_path)
    key = _key(split)
    assert cache.get(key, LinkPredictor.load) is None
    cache.put(key, first.save)
    loaded = cache.get(key, lambda p: LinkPredictor.load(p, device="cpu"))
    assert loaded is not None and loaded is not first
    np.testing.assert_array_equal(loaded.score(pairs), first.score(pairs))
    assert loaded.best_epoch_ == first.best_epoch_


def test_a_save_that_fails_leaves_no_entry(tmp_path: Path):
    cache = ModelCache(tmp_path)

    def broken(folder: Path) -> None:
        (folder / "model.pt").write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        cache.put("k", broken)
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_entry_is_a_miss_and_is_removed(tmp_path: Path):
    cache = ModelCache(tmp_path)
    cache.put("k", lambda folder: (folder / "settings.json").write_text("{"))

    def load(folder: Path):
        raise InputError(f"{folder} is not a saved link predictor")

    assert cache.get("k", load) is None
    assert not (tmp_path / "k").exists()


def test_only_the_newest_entries_are_kept(tmp_path: Path):
    cache = ModelCache(tmp_path, keep=2)
    for i, key in enumerate(["a", "b", "c"]):
        cache.put(key, lambda folder: (folder / "m").write_text("x"))
        os.utime(tmp_path / key, (1000 + i, 1000 + i))
    cache.put("d", lambda folder: (folder / "m").write_text("x"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "d"]
    # a hit counts as a use: it survives the next prune
    os.utime(tmp_path / "c", (10, 10))
    os.utime(tmp_path / "d", (20, 20))
    assert cache.get("c", lambda folder: SimpleNamespace(path=folder)) is not None
    cache.put("e", lambda folder: (folder / "m").write_text("x"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "e"]


def test_keep_must_be_positive():
    with pytest.raises(InputError, match="at least one"):
        ModelCache(keep=0)


def _calibration_run(monkeypatch, tmp_path: Path, predictor, split, *, reuse: bool = True):
    """``calibrate_links`` as a sync calls it, the cache under ``tmp_path``; returns (result, report)."""
    from topo_graphdb.config import load_config
    from topo_graphdb.pipeline.clock import Clock
    from topo_graphdb.pipeline.phases import calibrate_links
    from topo_graphdb.pipeline.report import SyncReport

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cfg = load_config(None, environ={}, overrides={"predict.top_k": 5})
    report = SyncReport(run_id="r")
    clock = Clock(report, max_runtime=0, on_phase=None, on_progress=None)
    return calibrate_links(predictor, split, N, cfg, 0.5, clock, report, reuse=reuse), report


def test_the_link_calibration_of_a_cached_model_is_kept_and_reused(monkeypatch, tmp_path: Path):
    from topo_graphdb.model.predictor import LinkPredictor

    edges = simple(uniform_edges(N, 400, seed=5), N)
    split = random_split(edges, N, valid_fraction=0.1, test_fraction=0.2, seed=0)
    predictor = LinkPredictor("gcn", hidden=8, epochs=2, progress=False, device="cpu").fit(split)
    first, r1 = _calibration_run(monkeypatch, tmp_path, predictor, split)
    again, r2 = _calibration_run(monkeypatch, tmp_path, predictor, split)
    assert (r1.metrics["trust_cache"], r2.metrics["trust_cache"]) == ("miss", "hit")
    assert again.metrics == first.metrics and r2.metrics == {**r1.metrics, "trust_cache": "hit"}
    for part in ("links", "nodes"):
        for name, values in getattr(first, part).items():
            np.testing.assert_array_equal(getattr(again, part)[name], values, err_msg=name)
    probe = np.random.default_rng(1).random((7, first.calibrator.n_features_))
    np.testing.assert_array_equal(again.calibrator.predict_proba(probe), first.calibrator.predict_proba(probe))

    # another model (a new fit: a new identity) or another split is a miss; reuse=False never touches the cache
    other = LinkPredictor("gcn", hidden=8, epochs=2, progress=False, device="cpu").fit(split)
    assert _calibration_run(monkeypatch, tmp_path, other, split)[1].metrics["trust_cache"] == "miss"
    split2 = random_split(edges, N, valid_fraction=0.1, test_fraction=0.2, seed=1)
    assert _calibration_run(monkeypatch, tmp_path, predictor, split2)[1].metrics["trust_cache"] == "miss"
    entries = sorted((tmp_path / "topo-graphdb" / "models").iterdir())
    assert _calibration_run(monkeypatch, tmp_path, predictor, split, reuse=False)[1].metrics["trust_cache"] == "off"
    assert sorted((tmp_path / "topo-graphdb" / "models").iterdir()) == entries

    # an unreadable entry is a miss, fitted again and replaced
    for entry in entries:
        (entry / "calibration.pickle").write_bytes(b"not a pickle")
    third, r3 = _calibration_run(monkeypatch, tmp_path, predictor, split)
    assert r3.metrics["trust_cache"] == "miss"
    np.testing.assert_array_equal(third.links["prob"], first.links["prob"])  # (the metrics hold the fit's seconds)
