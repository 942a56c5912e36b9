"""Cypher helpers: package query files and the one identifier guard.

Cypher text the code runs lives in ``topo_graphdb/queries/*.cypher`` and is
loaded with :mod:`importlib.resources`. Values travel only as ``$parameters``;
labels, relationship types and property names (which Cypher cannot take as
parameters) go through :func:`quote_identifier`, the one validate-and-backtick
helper. Query files may contain ``{{name}}`` placeholders that are filled only
with quoted identifiers via :func:`render`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from importlib import resources

from .errors import InputError

__all__ = ["quote_identifier", "load_query", "render"]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_MAX_IDENTIFIER = 255


def quote_identifier(name: str, *, what: str = "identifier") -> str:
    """Validate a label, relationship type or property name and backtick-quote it.

    Any printable Unicode text is allowed (spaces, backticks and non-ASCII
    letters included); embedded backticks are doubled, as Cypher requires.
    Empty names, control characters, NUL and over-long names are refused.

    >>> quote_identifier("Paper")
    '`Paper`'
    >>> quote_identifier("my `odd` label")
    '`my ``odd`` label`'
    """
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{what} must be a non-empty name; got {name!r}")
    if len(name) > _MAX_IDENTIFIER:
        raise InputError(f"{what} is longer than {_MAX_IDENTIFIER} characters: {name[:40]!r}...")
    for ch in name:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise InputError(f"{what} contains a control or unassigned character: {name!r}")
    return "`" + name.replace("`", "``") + "`"


@functools.cache
def load_query(name: str) -> str:
    """Text of ``topo_graphdb/queries/<name>.cypher`` (comments kept; Cypher ignores them)."""
    return resources.files("topo_graphdb.queries").joinpath(f"{name}.cypher").read_text("utf-8")


def render(name: str, **identifiers: str) -> str:
    """Load query ``name`` and fill its ``{{placeholders}}`` with already-quoted identifiers.

    Every value must come from :func:`quote_identifier` (or be a fragment built
    only from such values); a placeholder without a value is an error.
    """
    text = load_query(name)

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in identifiers:
            raise KeyError(f"query {name!r} needs identifier {key!r}")
        return identifiers[key]

    return _PLACEHOLDER.sub(fill, text)
