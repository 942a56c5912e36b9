"""Command-line interface (thin): each command parses options, calls one API function, renders.

Heavy libraries (torch, torch_geometric, cupy, the Neo4j driver) are imported
inside the commands that need them so that ``--help`` answers fast.
"""

from ._group import main
from . import _neo4j, _data, _tc, _model, _connector, _sync  # noqa: F401,E402  (register commands)

__all__ = ["main"]
