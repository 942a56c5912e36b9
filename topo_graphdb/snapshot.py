"""The one object passed between stages: an immutable graph snapshot.

Row ``i`` of every per-node array is the node ``node_ids[i]`` (a Neo4j
``elementId``, the user's key property, or the id from an input file). Only
the snapshot maps ids to indices and back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .errors import EmptyGraphError, InputError

__all__ = ["GraphSnapshot", "simple_undirected", "adjacency_matrix"]


def simple_undirected(edge_index: np.ndarray, num_nodes: int) -> tuple[np.ndarray, dict[str, int]]:
    """Canonical undirected simple edges of ``edge_index``.

    Each undirected pair appears once as ``(min, max)``, sorted; self-loops
    and duplicates (in either direction) are removed.

    Returns
    -------
    edges : ndarray of shape (2, M), int64
    stats : dict with ``input``, ``self_loops``, ``duplicates``, ``edges`` counts

    >>> e, s = simple_undirected(np.array([[0, 1, 1, 2], [1, 0, 1, 0]]), 3)
    >>> e.tolist(), s["self_loops"], s["duplicates"]
    ([[0, 0], [1, 2]], 1, 1)
    """
    ei = np.asarray(edge_index, dtype=np.int64)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise InputError(f"edge_index must have shape (2, E); got {ei.shape}")
    src, dst = ei
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= num_nodes):
        raise InputError(f"edge_index refers to nodes outside 0..{num_nodes - 1}")
    loops = src == dst
    lo = np.minimum(src[~loops], dst[~loops])
    hi = np.maximum(src[~loops], dst[~loops])
    keys = np.unique(lo * np.int64(num_nodes) + hi)
    edges = np.stack([keys // num_nodes, keys % num_nodes]) if keys.size else np.zeros((2, 0), np.int64)
    stats = {
        "input": int(src.size),
        "self_loops": int(loops.sum()),
        "duplicates": int(lo.size - keys.size),
        "edges": int(keys.size),
    }
    return edges, stats


def adjacency_matrix(edges: np.ndarray, num_nodes: int, dtype: Any = np.int8):
    """Symmetric 0/1 ``scipy.sparse.csr_matrix`` (num_nodes, num_nodes) of undirected ``edges`` (2, E).

    Both directions of every edge, duplicates counted once.

    >>> adjacency_matrix(np.array([[0, 0], [1, 1]]), 3).toarray().tolist()
    [[0, 1, 0], [1, 0, 0], [0, 0, 0]]
    """
    import scipy.sparse as sp  # noqa: PLC0415

    e = np.asarray(edges, dtype=np.int64).reshape(2, -1)
    rows = np.concatenate([e[0], e[1]])
    cols = np.concatenate([e[1], e[0]])
    a = sp.csr_matrix((np.ones(rows.size, dtype), (rows, cols)), shape=(num_nodes, num_nodes))
    a.sum_duplicates()
    a.data[:] = 1
    return a


@dataclass(frozen=True, eq=False)
class GraphSnapshot:
    """A graph exported from Neo4j or read from files.

    Attributes
    ----------
    node_ids : ndarray, shape (n,)
        External id of each node: int64 ids or ``str`` element ids / keys.
    edge_index : ndarray, shape (2, E), int64
        Relationships as dense indices into ``node_ids`` (as stored; may be
        directed, may hold duplicates; see :meth:`undirected`).
    edge_time, edge_weight : ndarray, shape (E,), optional
    x : ndarray, shape (n, f), optional
        Node features.
    y : ndarray, shape (n,), optional
        Node labels.
    meta : dict
        Provenance (selection, counts, export report).
    origin : str, optional
        The snapshot folder (path or URL) this snapshot was read from
        (:meth:`from_parquet`), unchanged since; :meth:`with_` drops it. Dask
        workers read the graph there instead of receiving it
        (:func:`topo_graphdb.kernels.distributed.distributed_tc`).
    """

    node_ids: np.ndarray
    edge_index: np.ndarray
    edge_time: np.ndarray | None = None
    edge_weight: np.ndarray | None = None
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    origin: str | None = None

    def __post_init__(self) -> None:
        ei = np.asarray(self.edge_index, dtype=np.int64).reshape(2, -1)
        object.__setattr__(self, "edge_index", ei)
        n = len(self.node_ids)
        if ei.size and (ei.min() < 0 or ei.max() >= n):
            raise InputError(f"edge_index refers to nodes outside 0..{n - 1}")
        for name in ("edge_time", "edge_weight"):
            arr = getattr(self, name)
            if arr is not None and len(arr) != ei.shape[1]:
                raise InputError(f"{name} has {len(arr)} entries for {ei.shape[1]} edges")
        for name in ("x", "y"):
            arr = getattr(self, name)
            if arr is not None and arr.shape[0] != n:
                raise InputError(f"{name} has {arr.shape[0]} rows for {n} nodes")

    # ------------------------------------------------------------------ build
    @classmethod
    def from_edges(
        cls,
        src: np.ndarray,
        dst: np.ndarray,
        *,
        nodes: np.ndarray | None = None,
        edge_time: np.ndarray | None = None,
        edge_weight: np.ndarray | None = None,
        meta: dict[str, Any] | None = None,
    ) -> GraphSnapshot:
        """Snapshot from edge endpoint ids; the node set is every id in ``src``,
        ``dst`` and ``nodes``, sorted (so dense index order = id order)."""
        src = np.asarray(src)
        dst = np.asarray(dst)
        parts = [src, dst] + ([np.asarray(nodes)] if nodes is not None else [])
        node_ids, inverse = np.unique(np.concatenate(parts), return_inverse=True)
        m = src.size
        edge_index = np.stack([inverse[:m], inverse[m : 2 * m]]).astype(np.int64)
        return cls(node_ids, edge_index, edge_time=edge_time, edge_weight=edge_weight, meta=dict(meta or {}))

    # --------------------------------------------------------------- queries
    @property
    def num_nodes(self) -> int:
        return int(len(self.node_ids))

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    def undirected(self) -> tuple[np.ndarray, dict[str, int]]:
        """Simple undirected edges (see :func:`simple_undirected`)."""
        return simple_undirected(self.edge_index, self.num_nodes)

    def require_edges(self) -> None:
        if self.num_edges == 0:
            raise EmptyGraphError("the graph has no edges", hint="check the selection or the input file")

    def index_of(self, ids: np.ndarray) -> np.ndarray:
        """Dense indices of external ``ids`` (an :class:`InputError` names unknown ones)."""
        ids = np.asarray(ids)
        order = np.argsort(self.node_ids, kind="stable")
        sorted_ids = self.node_ids[order]
        pos = np.searchsorted(sorted_ids, ids)
        pos_clipped = np.minimum(pos, len(sorted_ids) - 1)
        ok = (pos < len(sorted_ids)) & (sorted_ids[pos_clipped] == ids) if len(sorted_ids) else np.zeros(ids.shape, bool)
        if not np.all(ok):
            missing = ids[~ok][:5].tolist()
            raise InputError(f"unknown node ids: {missing}{' ...' if (~ok).sum() > 5 else ''}")
        return order[pos_clipped]

    def with_(self, **changes: Any) -> GraphSnapshot:
        """A copy with some fields replaced (snapshots are immutable); the copy has no ``origin`` unless given."""
        return replace(self, **{"origin": None, **changes})

    # --------------------------------------------------------------- parquet
    def to_parquet(self, directory: str | Path) -> Path:
        """Write ``nodes.parquet``, ``edges.parquet`` and ``meta.json`` into ``directory``."""
        import pyarrow as pa  # noqa: PLC0415
        import pyarrow.parquet as pq  # noqa: PLC0415

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        node_cols: dict[str, Any] = {"node_id": pa.array(self.node_ids)}
        if self.x is not None:
            x = np.asarray(self.x)
            node_cols["x"] = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), x.shape[1])
        if self.y is not None:
            node_cols["y"] = pa.array(self.y)
        pq.write_table(pa.table(node_cols), out / "nodes.parquet")
        edge_cols: dict[str, Any] = {"src": self.edge_index[0], "dst": self.edge_index[1]}
        if self.edge_time is not None:
            edge_cols["time"] = self.edge_time
        if self.edge_weight is not None:
            edge_cols["weight"] = self.edge_weight
        pq.write_table(pa.table(edge_cols), out / "edges.parquet")
        (out / "meta.json").write_text(json.dumps(self.meta, indent=2, default=str))
        return out

    @classmethod
    def from_parquet(cls, directory: str | Path) -> GraphSnapshot:
        """Read a snapshot written by :meth:`to_parquet`: a folder, or the URL of one
        (``s3://bucket/snap``, ``file://``, any fsspec protocol; needs fsspec and the
        protocol's package, e.g. s3fs). The snapshot's ``origin`` is the folder's URL
        (``file://`` and the absolute path for a local folder)."""
        import pyarrow.parquet as pq  # noqa: PLC0415

        fs, root = _folder(directory)
        files = {name: f"{root}/{name}" for name in ("nodes.parquet", "edges.parquet", "meta.json")}
        if not fs.isfile(files["nodes.parquet"]) or not fs.isfile(files["edges.parquet"]):
            raise InputError(f"{directory} is not a snapshot directory (nodes.parquet/edges.parquet missing)")
        nodes = pq.read_table(files["nodes.parquet"], filesystem=fs)
        edges = pq.read_table(files["edges.parquet"], filesystem=fs)
        node_ids = nodes.column("node_id").to_numpy(zero_copy_only=False)
        x = None
        if "x" in nodes.column_names:
            col = nodes.column("x").combine_chunks()
            x = col.flatten().to_numpy().reshape(len(col), col.type.list_size)
        y = nodes.column("y").to_numpy() if "y" in nodes.column_names else None
        ei = np.stack([edges.column("src").to_numpy(), edges.column("dst").to_numpy()]).astype(np.int64)
        et = edges.column("time").to_numpy() if "time" in edges.column_names else None
        ew = edges.column("weight").to_numpy() if "weight" in edges.column_names else None
        meta = json.loads(fs.cat_file(files["meta.json"])) if fs.isfile(files["meta.json"]) else {}
        return cls(node_ids, ei, edge_time=et, edge_weight=ew, x=x, y=y, meta=meta, origin=fs.unstrip_protocol(root))


def _folder(location: str | Path) -> tuple[Any, str]:
    """The fsspec filesystem of ``location`` (a folder path or URL) and the folder's path on it."""
    from fsspec.core import url_to_fs  # noqa: PLC0415  (imported by the readers only)

    try:
        fs, root = url_to_fs(str(location))
    except (ImportError, ValueError) as err:  # unknown protocol, or its package missing
        raise InputError(f"cannot read the snapshot {location}: {err}",
                         hint="install the protocol's package (e.g. s3fs for s3://), or give a local folder") from err
    return fs, root.rstrip("/")
