"""A cache of trained link predictors, keyed by everything that decides the training result.

A scheduled sync of a graph that did not change trains the same model again: same edges, same
split, same features, same settings, same seed. On the CPU that training is deterministic, so the
model trained last time can be loaded instead. The key is a SHA-256 over

* the package version, a digest of the model package's source code, and the torch version;
* the model name and its settings (hidden size, epochs, seed, batch size, ...);
* the number of nodes, the split's training, validation and held-out edges, and the features.

Anything else would change the key, so a hit returns the model a fresh fit would give. Models
trained on a GPU are not cached (their training is not bit-for-bit repeatable). A sync also keeps
the link calibration fitted on that model's held-out check (:func:`content_key` over the model's
identity, the trust settings, the split and the whole package's code), so that a run whose model
came from the cache does not fit the same calibrator again. Entries live in
``user_cache_dir()/models/<key>`` (written in a temporary folder, then renamed into place: a
crash never leaves half an entry); the newest ``keep`` entries are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import InputError
from ..paths import user_cache_dir

#: entries kept (about 1-20 MB each for graphs of Cora's to soc-slashdot0902's size): a sync stores
#: two, its model and its link calibration
DEFAULT_KEEP = 16


def default_dir() -> Path:
    """``$XDG_CACHE_HOME/topo-graphdb/models``."""
    return user_cache_dir() / "models"


def code_digest(root: str | Path | None = None) -> str:
    """SHA-256 of the source files under ``root`` (default: :mod:`topo_graphdb.model`; a code change is a new model)."""
    base = Path(root) if root is not None else Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(base.rglob("*.py")):
        h.update(str(path.relative_to(base)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def training_key(model: str, settings: Mapping[str, Any], num_nodes: int, split: Any, x: Any, *, code: str, torch_version: str) -> str:
    """SHA-256 (hex) of what decides a fit: versions, model code, settings, nodes, split parts, features."""
    return content_key({"package": __version__, "code": code, "torch": torch_version, "model": model,
                        "settings": dict(settings), "num_nodes": int(num_nodes)}, split, x=x)


def content_key(head: Mapping[str, Any], split: Any, **arrays: Any) -> str:
    """SHA-256 (hex) of ``head`` (JSON, keys sorted), the split's parts and the named ``arrays``."""
    h = hashlib.sha256()
    h.update(json.dumps(dict(head), sort_keys=True, default=str).encode())
    for name in ("train_pos", "valid_pos", "valid_neg", "test_pos", "test_neg"):
        _update(h, name, getattr(split, name, None))
    for name in sorted(arrays):
        _update(h, name, arrays[name])
    return h.hexdigest()


def _update(h: Any, name: str, value: Any) -> None:
    h.update(name.encode())
    if value is None:
        h.update(b"none")
        return
    if hasattr(value, "tocsr"):  # scipy sparse features
        c = value.tocsr()
        for part in (c.data, c.indices, c.indptr, np.asarray(c.shape)):
            _update(h, name, part)
        return
    arr = np.ascontiguousarray(value)
    h.update(str(arr.dtype).encode() + str(arr.shape).encode())
    h.update(arr.tobytes())


class ModelCache:
    """Trained predictors on disk by training key (see the module docstring)."""

    def __init__(self, directory: str | Path | None = None, *, keep: int = DEFAULT_KEEP):
        if keep < 1:
            raise InputError(f"the model cache keeps at least one entry; got keep={keep}")
        self.directory = Path(directory) if directory is not None else default_dir()
        self.keep = keep

    def get(self, key: str, load: Any) -> Any | None:
        """``load(path)`` of the entry for ``key``, or None. An unreadable entry is removed (a miss)."""
        path = self.directory / key
        if not path.is_dir():
            return None
        try:
            found = load(path)
        except (InputError, OSError, ValueError, KeyError, RuntimeError):
            shutil.rmtree(path, ignore_errors=True)
            return None
        os.utime(path)  # most recently used
        return found

    def put(self, key: str, save: Any) -> Path:
        """``save(folder)`` into a temporary folder, renamed to the entry; then keep the newest ``keep``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / key
        tmp = Path(tempfile.mkdtemp(prefix=".part-", dir=self.directory))
        try:
            save(tmp)
            if final.exists():
                shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        self._prune()
        return final

    def _prune(self) -> None:
        entries = [p for p in self.directory.iterdir() if p.is_dir() and not p.name.startswith(".")]
        entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[self.keep:]:
            shutil.rmtree(old, ignore_errors=True)
