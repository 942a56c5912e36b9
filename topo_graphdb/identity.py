"""How result rows find their nodes: the label guard and, optionally, a key property.

Results are matched to nodes by the identity the export used (see
:mod:`topo_graphdb.writeback` for what each choice means for a write):

* **Key property**: ``(n:Label {key: value})``, exact while the key is unique.
* **Element id**: ``elementId(n) = id AND n:Label``, only valid for short
  export-to-write windows; with no label at all only the element id is checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._cypher import quote_identifier
from .errors import InputError
from .graphspec import GraphSpec
from .snapshot import GraphSnapshot

__all__ = ["NodeIdentity", "node_id_list", "resolve_identity"]


@dataclass(frozen=True)
class NodeIdentity:
    """How ids find their nodes: the label guard and, optionally, the key property."""

    labels: tuple[str, ...] = ()
    key_property: str | None = None

    def __post_init__(self) -> None:
        labels = (self.labels,) if isinstance(self.labels, str) else tuple(self.labels or ())
        for label in labels:
            quote_identifier(label, what="label")
        object.__setattr__(self, "labels", labels)
        if self.key_property is not None:
            quote_identifier(self.key_property, what="key property")

    @property
    def kind(self) -> str:
        return "key" if self.key_property else "elementId"

    def match(self, var: str, value: str) -> str:
        """A pattern + WHERE for ``OPTIONAL MATCH``/``MATCH`` of node ``var`` with id expression ``value``."""
        labels = ":" + "|".join(quote_identifier(x, what="label") for x in self.labels) if self.labels else ""
        if self.key_property:
            key = quote_identifier(self.key_property, what="key property")
            if len(self.labels) == 1:
                return f"({var}{labels} {{{key}: {value}}})"
            return f"({var}{labels}) WHERE {var}.{key} = {value}"
        guard = f" AND {var}{labels}" if labels else ""
        return f"({var}) WHERE elementId({var}) = {value}{guard}"

    def id_of(self, var: str) -> str:
        """The id expression of a bound node ``var``."""
        if self.key_property:
            return f"{var}.{quote_identifier(self.key_property, what='key property')}"
        return f"elementId({var})"

    def describe(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "key_property": self.key_property, "id_kind": self.kind}


def resolve_identity(
    target: Any, spec: GraphSpec | None, labels: str | Sequence[str] | None, key_property: str | None
) -> NodeIdentity:
    """Explicit arguments, then the spec, then the snapshot's ``meta["identity"]``."""
    meta_ident = target.meta.get("identity", {}) if isinstance(target, GraphSnapshot) else {}
    if labels is None:
        labels = spec.labels if spec is not None else tuple(meta_ident.get("labels") or ())
    if key_property is None:
        key_property = spec.key_property if spec is not None else meta_ident.get("key_property")
    return NodeIdentity(tuple([labels] if isinstance(labels, str) else labels), key_property)


def node_id_list(target: Any) -> list[Any]:
    ids = target.node_ids if isinstance(target, GraphSnapshot) else target
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise InputError(f"node ids must be one-dimensional; got shape {arr.shape}")
    out = arr.tolist()
    for v in out[:1]:
        if not isinstance(v, (int, str)) or isinstance(v, bool):
            raise InputError(f"node ids must be integers or strings; got {type(v).__name__}")
    return out
