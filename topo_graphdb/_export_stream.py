"""The two grouped passes of an export, streamed into arrays (:class:`Collector`).

Node pass: each record carries a group of nodes (their ids, and key and
feature/label values); relationship pass: for each source node of a group,
the list of its selected targets (and times, weights). Each record becomes
numpy arrays at once (see :mod:`topo_graphdb._export_arrays`).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ._export_arrays import EdgeColumns, Growing, lookup, records, to_float
from ._export_plan import Plan
from .errors import InputError
from .graphspec import GraphSpec
from .progress import Progress

__all__ = ["Collector"]

#: ``progress(phase, done, total)`` callback of an export.


class Collector:
    """Builds the snapshot arrays from streamed records (one instance per transaction attempt).

    Node pass: records of ``ids`` (a group of element ids), ``count``, and
    optionally ``keys`` and ``vals`` (per node ``[y, f0, f1, ...]``); the dict
    ``index`` maps element id -> dense index. Relationship pass: records of
    ``sources`` and per-source lists ``targets`` (element ids; ``times``,
    ``weights``); each record becomes int64/float64 arrays at once. The
    export procedure fills both, or the relationships after a node pass
    (:meth:`_read_rels_procedure`). A projection query fills it instead
    (``plan`` None) through
    :func:`topo_graphdb._export_projection.read_projection`.
    """

    def __init__(self, spec: GraphSpec, plan: Plan | None, progress: Progress | None, group_size: int):
        self.spec, self.plan, self.progress, self.group_size = spec, plan, progress, group_size
        self.index: dict[Any, int] = {}  # element id (or projection id) -> dense index
        self.ids: list[Any] = []  # element ids (or projection ids) in dense order
        self.keys: list[Any] = []  # key property values in dense order (key_property only)

    # nodes --------------------------------------------------------------
    def read_nodes(self, tx: Any, total: int) -> tuple[np.ndarray | None, np.ndarray | None, dict[str, Any]]:
        spec, plan = self.spec, self.plan
        assert plan is not None
        result = tx.run(plan.nodes, {**plan.params, "group_size": self.group_size})
        index, ids, keys = self.index, self.ids, self.keys
        y_raw: list[Any] = []
        feat_cols: list[list[Any]] = [[] for _ in spec.feature_properties]
        has_vals = bool(spec.label_property or spec.feature_properties)
        has_keys = spec.key_property is not None
        seen_keys: set[Any] = set()
        for rec in records(result, 1):
            part, count = rec[0], rec[1]
            start = len(ids)
            index.update(zip(part, range(start, start + len(part))))
            ids.extend(part)
            if has_keys:
                part_keys = rec[2]
                if len(part_keys) != count:
                    raise _missing_keys(spec, count - len(part_keys))
                seen_keys.update(part_keys)
                keys.extend(part_keys)
                if len(seen_keys) != len(keys):
                    raise _duplicate_key(spec, keys)
            if has_vals:
                vals = rec[3 if has_keys else 2]
                cols = list(zip(*vals)) if vals else [()] * (bool(spec.label_property) + len(spec.feature_properties))
                pos = 0
                if spec.label_property:
                    y_raw.extend(cols[0])
                    pos = 1
                for j in range(len(spec.feature_properties)):
                    feat_cols[j].extend(cols[pos + j])
            if self.progress:
                self.progress("nodes", len(ids), max(total, len(ids)))
        info: dict[str, Any] = {}
        y = self._labels(y_raw, info) if spec.label_property else None
        x = self._features(feat_cols, info) if spec.feature_properties else None
        return x, y, info

    def _labels(self, raw: list[Any], info: dict[str, Any]) -> np.ndarray:
        present = [v for v in raw if v is not None]
        info["y_missing"] = len(raw) - len(present)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
            return np.array([-1 if v is None else v for v in raw], dtype=np.int64)
        classes = sorted({str(v) for v in present})
        code = {c: i for i, c in enumerate(classes)}
        info["y_classes"] = classes
        return np.array([-1 if v is None else code[str(v)] for v in raw], dtype=np.int64)

    def _features(self, cols: list[list[Any]], info: dict[str, Any]) -> np.ndarray:
        n = len(self.ids)
        blocks, missing = [], 0
        for name, values in zip(self.spec.feature_properties, cols):
            width = None
            for v in values:
                if v is not None:
                    width = len(v) if isinstance(v, (list, tuple)) else 0
                    break
            if width is None:  # property absent on every selected node
                blocks.append(np.full((n, 1), np.nan))
                missing += n
                continue
            if width == 0:
                blocks.append(to_float(values, f"feature property {name!r}").reshape(n, 1))
                missing += sum(v is None for v in values)
                continue
            block = np.full((n, width), np.nan)
            for i, v in enumerate(values):
                if v is None:
                    missing += 1
                    continue
                if not isinstance(v, (list, tuple)) or len(v) != width:
                    raise InputError(
                        f"feature property {name!r} must hold lists of one length ({width}) or scalars; "
                        f"node {self.ids[i]!r} has {v!r:.60}"
                    )
                block[i] = to_float(v, f"feature property {name!r}")
            blocks.append(block)
        info["x_missing"] = int(missing)
        info["x_columns"] = [
            {"property": name, "width": int(b.shape[1])} for name, b in zip(self.spec.feature_properties, blocks)
        ]
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((n, 0))

    # relationships ------------------------------------------------------
    def read_rels(self, tx: Any, total: int, *, procedure: bool = False) -> dict[str, Any]:
        """Stream the grouped relationship pass into src/dst (and time/weight) buffers; with
        ``procedure`` (the server has ``topo.export.relationships``) through it where the plan allows."""
        plan = self.plan
        assert plan is not None
        if procedure and plan.procedure is not None:
            return self._read_rels_procedure(tx, total, plan.procedure)
        result = tx.run(plan.rels, {**plan.params, "group_size": self.group_size})
        has_time = "times" in plan.rel_columns
        has_weight = "weights" in plan.rel_columns
        edges = EdgeColumns(has_time, has_weight, max(total, 1024))
        index = self.index
        chain = itertools.chain.from_iterable
        read = dangling = 0
        for rec in records(result, 1):
            sources, targets = rec[0], rec[1]
            k = len(sources)
            lengths = np.fromiter(map(len, targets), dtype=np.int64, count=k)
            read += int(lengths.sum())
            dangling += edges.add(
                np.repeat(lookup(index, sources), lengths),
                lookup(index, list(chain(targets))),
                list(chain(rec[2])) if has_time else None,
                list(chain(rec[2 + has_time])) if has_weight else None,
            )
            if self.progress:
                self.progress("relationships", read, max(total, read))
        return edges.finish(self, {"relationships_read": read, "dangling": dangling, "relationships_via": "cypher"})

    def _read_rels_procedure(self, tx: Any, total: int, args: dict[str, list[str]]) -> dict[str, Any]:
        """The relationship pass through ``export_rels_procedure.cypher``: its records of element ids
        give the procedure's node order, its packed positions the relationships in that order. After
        a node pass (:meth:`read_nodes`) the order is mapped onto :attr:`index` (the same nodes, or an
        error); without one it is the node list."""
        from ._cypher import load_query  # noqa: PLC0415
        from .errors import TopoGraphError  # noqa: PLC0415

        node_pass = bool(self.ids)
        key = "" if node_pass else args["key"]  # after a node pass the keys are read
        result = tx.run(load_query("export_rels_procedure"), {**args, "key": key, "group_size": self.group_size, "mode": "auto"})
        order: list[str] = []
        keys: list[Any] = []
        src, dst = Growing(np.int32, max(total, 1024)), Growing(np.int32, max(total, 1024))
        for rec in records(result, 1):
            ids, s, t, count = rec[0], np.frombuffer(rec[2], dtype="<i4"), np.frombuffer(rec[3], dtype="<i4"), rec[4]
            if s.size != count or t.size != count:
                raise TopoGraphError(f"topo.export.relationships sent {s.size} sources and {t.size} targets for {count} relationships")
            if ids:
                order.extend(ids.split("\n"))
                keys.extend(rec[1])
                if self.progress and not self.ids:
                    self.progress("nodes", len(order), len(order))
            src.extend(s)
            dst.extend(t)
            if self.progress and s.size:
                self.progress("relationships", src.size, max(total, src.size))
        read = int(src.size)
        if not node_pass:  # the procedure's order is the node list
            if key:
                if len(keys) != len(order):
                    raise TopoGraphError(f"topo.export.relationships sent {len(keys):,} keys for {len(order):,} nodes")
                missing = sum(v is None for v in keys)
                if missing:
                    raise _missing_keys(self.spec, missing)
                if len(set(keys)) != len(keys):
                    raise _duplicate_key(self.spec, keys)
            self.ids, self.keys = order, keys
            self.src, self.dst = src.array().astype(np.int64), dst.array().astype(np.int64)
        else:
            place = lookup(self.index, order)
            if len(order) != len(self.ids) or (place < 0).any():
                raise TopoGraphError(f"topo.export.relationships selected {len(order):,} nodes where the node pass read {len(self.ids):,}")
            self.src, self.dst = place[src.array()], place[dst.array()]
        self.time = self.weight = None
        return {"relationships_read": read, "dangling": 0, "relationships_via": "procedure"}


def _missing_keys(spec: GraphSpec, missing: int) -> InputError:
    return InputError(
        f"{missing} selected node(s) lack the key property {spec.key_property!r}",
        hint=f"select only nodes that have it (--where \"{spec.key_property} IS NOT NULL\") or export without it",
    )


def _duplicate_key(spec: GraphSpec, keys: list[Any]) -> InputError:
    seen: set[Any] = set()
    dup = next(v for v in keys if v in seen or seen.add(v))  # type: ignore[func-returns-value]
    return InputError(
        f"key property {spec.key_property!r} is not unique: value {dup!r} appears more than once",
        hint="create a uniqueness constraint, or export without --key-property (element ids)",
    )
