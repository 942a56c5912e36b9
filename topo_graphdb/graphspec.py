"""Graph selection: which part of the database an export reads (:class:`GraphSpec`).

A selection names node labels, relationship types, an orientation, property
predicates and the properties that become arrays (time, weight, features,
node labels, node key). It is validated once, here, when it is built; the
export itself lives in :mod:`topo_graphdb.connector`, whose docstring states
what a selection selects.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ._cypher import quote_identifier
from .errors import InputError
from .ledger import LEDGER_LABEL, LOCK_LABEL
from .predicates import Predicate, as_predicates, parse_predicate

__all__ = [
    "ORIENTATIONS",
    "PREDICTED_LINK",
    "GraphSpec",
    "spec_from_options",
    "describe_selection",
]

#: Orientations of the exported edges.
ORIENTATIONS = ("natural", "reverse", "undirected")


# Labels and relationship types the tool writes itself; kept out of label-/type-free selections.
# The ledger's labels are defined in ``ledger``; ``writeback`` re-exports all three.
PREDICTED_LINK = "PREDICTED_LINK"


def _as_tuple(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = (value,)
    out = tuple(value)
    for name in out:
        quote_identifier(name, what=what)
    if len(set(out)) != len(out):
        raise InputError(f"{what}s must not repeat; got {list(out)}")
    return out


@dataclass(frozen=True)
class GraphSpec:
    """Which part of the database to export, and which properties become arrays.

    Parameters
    ----------
    labels : node labels (any of them); all nodes if empty.
    rel_types : relationship types (any of them); all types if empty (except
        ``exclude_rel_types``).
    orientation : ``"natural"``, ``"reverse"`` or ``"undirected"`` (default).
    node_where, rel_where : predicates ``(property, operator, value)`` (all must
        hold); operators from :data:`OPERATORS`; strings such as
        ``"year >= 2010"`` are parsed with :func:`parse_predicate`
        (:mod:`topo_graphdb.predicates`).
    time_property : relationship property exported as ``edge_time`` (numeric).
    since : keep only relationships with ``time_property >= since``.
    weight_property : relationship property exported as ``edge_weight``
        (float; a missing value counts as 1.0).
    feature_properties : numeric node properties (scalars or equal-length
        lists) concatenated into ``x`` (float64; missing values are NaN).
    label_property : node property exported as ``y`` (integers as they are,
        other values as codes into ``meta["y_classes"]``; missing is -1).
    key_property : the user's unique node id property; ``node_ids`` then hold
        its values (else element ids).
    projection : escape hatch: the text of a read-only Cypher query returning
        columns ``source, target`` and optionally ``time``, ``weight`` (element
        ids, or key values when ``key_property`` is set). It runs in a read
        transaction; only ``orientation`` and ``key_property`` combine with it.
    exclude_rel_types, exclude_labels : the tool's own output, left out of
        type-free / label-free selections.

    >>> GraphSpec(labels="Paper", rel_types="CITES", node_where=["year >= 2010"]).node_where
    (Predicate(prop='year', op='>=', value=2010),)
    """

    labels: tuple[str, ...] = ()
    rel_types: tuple[str, ...] = ()
    orientation: str = "undirected"
    node_where: tuple[Predicate, ...] = ()
    rel_where: tuple[Predicate, ...] = ()
    time_property: str | None = None
    since: Any = None
    weight_property: str | None = None
    feature_properties: tuple[str, ...] = ()
    label_property: str | None = None
    key_property: str | None = None
    projection: str | None = None
    exclude_rel_types: tuple[str, ...] = (PREDICTED_LINK,)
    exclude_labels: tuple[str, ...] = (LEDGER_LABEL, LOCK_LABEL)

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("labels", _as_tuple(self.labels, "label"))
        set_("rel_types", _as_tuple(self.rel_types, "relationship type"))
        set_("feature_properties", _as_tuple(self.feature_properties, "feature property"))
        set_("exclude_rel_types", _as_tuple(self.exclude_rel_types, "excluded relationship type"))
        set_("exclude_labels", _as_tuple(self.exclude_labels, "excluded label"))
        set_("node_where", as_predicates(self.node_where, "node_where"))
        set_("rel_where", as_predicates(self.rel_where, "rel_where"))
        if self.orientation not in ORIENTATIONS:
            raise InputError(f"orientation must be one of {', '.join(ORIENTATIONS)}; got {self.orientation!r}")
        for name in ("time_property", "weight_property", "label_property", "key_property"):
            value = getattr(self, name)
            if value is not None:
                quote_identifier(value, what=name.replace("_", " "))
        if self.since is not None:
            if self.time_property is None:
                raise InputError("since needs time_property (the relationship property it compares)")
            if isinstance(self.since, bool) or not isinstance(self.since, (int, float)) or (isinstance(self.since, float) and math.isnan(self.since)):
                raise InputError(f"since must be a number (same unit as the time property); got {self.since!r}")
        if self.projection is not None:
            if not str(self.projection).strip():
                raise InputError("the projection query is empty")
            other = [
                name
                for name in ("labels", "rel_types", "node_where", "rel_where", "feature_properties")
                if getattr(self, name)
            ] + [n for n in ("time_property", "since", "weight_property", "label_property") if getattr(self, n) is not None]
            if other:
                raise InputError(
                    f"a projection query cannot be combined with {', '.join(other)}",
                    hint="return source, target[, time, weight] from the query itself",
                )

    # ----------------------------------------------------------------- helpers
    def describe(self) -> dict[str, Any]:
        """JSON-friendly description (predicates as text, the projection as its text)."""
        d = asdict(self)
        d["node_where"] = [str(p) for p in self.node_where]
        d["rel_where"] = [str(p) for p in self.rel_where]
        for k in ("labels", "rel_types", "feature_properties", "exclude_rel_types", "exclude_labels"):
            d[k] = list(d[k])
        return d

    @property
    def identity(self) -> dict[str, Any]:
        """How ``node_ids`` identify nodes: ``{"labels": [...], "key_property": ...}``."""
        return {"labels": list(self.labels), "key_property": self.key_property}


def spec_from_options(
    *,
    labels: Sequence[str] = (),
    rel_types: Sequence[str] = (),
    orientation: str = "undirected",
    where: Sequence[str] = (),
    rel_where: Sequence[str] = (),
    time_property: str | None = None,
    since: str | float | None = None,
    weight_property: str | None = None,
    feature_properties: Sequence[str] = (),
    label_property: str | None = None,
    key_property: str | None = None,
    projection_file: str | Path | None = None,
) -> GraphSpec:
    """A :class:`GraphSpec` from CLI-style options (predicates as strings, a projection file path)."""
    projection = None
    if projection_file is not None:
        p = Path(projection_file)
        try:
            projection = p.read_text("utf-8")
        except OSError as err:
            raise InputError(f"projection file cannot be read: {p} ({err.strerror})") from err
    if isinstance(since, str):
        try:
            since = json.loads(since)
        except json.JSONDecodeError as err:
            raise InputError(f"--since must be a number; got {since!r}") from err
    return GraphSpec(
        labels=tuple(labels),
        rel_types=tuple(rel_types),
        orientation=orientation,
        node_where=tuple(parse_predicate(w) for w in where),
        rel_where=tuple(parse_predicate(w) for w in rel_where),
        time_property=time_property or None,
        since=since,
        weight_property=weight_property or None,
        feature_properties=tuple(feature_properties),
        label_property=label_property or None,
        key_property=key_property or None,
        projection=projection,
    )


def describe_selection(spec: GraphSpec) -> str:
    """The selection in a few words, for messages (``labels A; types (all); where ...``)."""
    if spec.projection:
        return "projection query"
    parts = [
        "labels " + (", ".join(spec.labels) if spec.labels else "(all)"),
        "types " + (", ".join(spec.rel_types) if spec.rel_types else "(all)"),
    ]
    if spec.node_where:
        parts.append("where " + " AND ".join(map(str, spec.node_where)))
    if spec.rel_where:
        parts.append("rel-where " + " AND ".join(map(str, spec.rel_where)))
    if spec.since is not None:
        parts.append(f"since {spec.since}")
    return "; ".join(parts)
