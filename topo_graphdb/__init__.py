"""topo_graphdb: Topological Concentration and link prediction for Neo4j graphs.

The package follows the data flow: ``connector`` (Neo4j in/out) -> ``kernels``
(TC, ATC, heuristics) -> ``model`` (PyG link predictor and evaluation) ->
``writeback`` -> ``pipeline`` (sync) -> ``cli`` (thin).
"""

__version__ = "0.1.0"

from . import _memory

_memory.prefer_huge_pages()  # before anything here imports torch

__all__ = ["__version__"]
