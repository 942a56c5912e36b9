"""Command-line interface (thin): each command parses options, calls one API function, renders.

Heavy libraries (torch, torch_geometric, cupy, the Neo4j driver) are imported
inside the commands that need them so that ``--help`` answers fast.
"""

from . import _connector, _data, _model, _neo4j, _sync, _tc  # noqa: F401,E402  (register commands)
from ._group import main

__all__ = ["main"]
