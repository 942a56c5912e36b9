"""Where the package keeps files of its own on the user's machine (XDG base directories).

* ``user_cache_dir()``: ``$XDG_CACHE_HOME/topo-graphdb`` (default ``~/.cache/topo-graphdb``):
  things that can be rebuilt (assembled Neo4j homes, trained link predictors);
* ``user_state_dir()``: ``$XDG_STATE_HOME/topo-graphdb`` (default ``~/.local/state/topo-graphdb``):
  things that must survive (the local server's data).

A relative ``XDG_*`` value is ignored, as the XDG specification asks.
"""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value and os.path.isabs(value) else Path.home() / fallback


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/topo-graphdb`` (default ``~/.cache/topo-graphdb``)."""
    return _xdg("XDG_CACHE_HOME", ".cache") / "topo-graphdb"


def user_state_dir() -> Path:
    """``$XDG_STATE_HOME/topo-graphdb`` (default ``~/.local/state/topo-graphdb``)."""
    return _xdg("XDG_STATE_HOME", ".local/state") / "topo-graphdb"
