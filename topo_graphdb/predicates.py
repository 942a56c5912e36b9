"""The ``--where`` mini-language: property predicates of a selection.

A predicate tests one property of a node or relationship, ``prop OP value``, with
``OP`` from an allowlist (:data:`OPERATORS`). Values always travel as Cypher
parameters and the property name passes the one validate-and-backtick helper, so
a predicate can never inject Cypher. :func:`parse_predicate` reads the text form of
the CLI (``"year >= 2010"``, ``"name STARTS WITH 'A'"``, ``"kind IN ['a', 'b']"``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._cypher import quote_identifier
from .errors import InputError

__all__ = ["OPERATORS", "Predicate", "as_predicates", "parse_predicate"]

#: The allowlist of predicate operators (values always travel as parameters).
OPERATORS = ("=", "<>", "<", "<=", ">", ">=", "IN", "STARTS WITH", "CONTAINS", "IS NULL", "IS NOT NULL")
_UNARY = ("IS NULL", "IS NOT NULL")
_MAX_DEPTH = 32  # nesting of lists/maps in a predicate value (JSON or Python); deeper is refused, not recursed into


@dataclass(frozen=True)
class Predicate:
    """A property test ``<entity>.prop <op> $value``.

    ``op`` is one of :data:`OPERATORS`; ``value`` is ``None`` for ``IS NULL``
    and ``IS NOT NULL``, a list (stored as a tuple) for ``IN``, a string for
    ``STARTS WITH`` and ``CONTAINS``, otherwise any Cypher parameter value.
    """

    prop: str
    op: str
    value: Any = None

    def __post_init__(self) -> None:
        quote_identifier(self.prop, what="predicate property")
        op = " ".join(str(self.op).upper().split())
        if op not in OPERATORS:
            raise InputError(f"predicate operator must be one of {', '.join(OPERATORS)}; got {self.op!r}")
        object.__setattr__(self, "op", op)
        value = self.value
        if op in _UNARY:
            if value is not None:
                raise InputError(f"predicate {self.prop!r} {op} takes no value; got {value!r}")
        elif op == "IN":
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise InputError(f"predicate {self.prop!r} IN needs a list value; got {value!r}")
            object.__setattr__(self, "value", tuple(value))
        elif op in ("STARTS WITH", "CONTAINS"):
            if not isinstance(value, str):
                raise InputError(f"predicate {self.prop!r} {op} needs a string value; got {value!r}")
        elif value is None:
            raise InputError(f"predicate {self.prop!r} {op} needs a value (use IS NULL to test for a missing property)")
        problem = _value_problem(self.value, 0)
        if problem:
            raise InputError(f"predicate on {self.prop!r} ({op}): {problem}")

    def cypher(self, var: str, param: str) -> str:
        """``var.`prop` OP $param`` (the property quoted, the value a parameter)."""
        lhs = f"{var}.{quote_identifier(self.prop, what='predicate property')}"
        return f"{lhs} {self.op}" if self.op in _UNARY else f"{lhs} {self.op} ${param}"

    def param_value(self) -> Any:
        return list(self.value) if isinstance(self.value, tuple) else self.value

    def __str__(self) -> str:
        return f"{self.prop} {self.op}" + ("" if self.op in _UNARY else f" {json.dumps(self.param_value(), default=str)}")


def _value_problem(value: Any, depth: int) -> str | None:
    """Why Neo4j cannot take ``value`` as a parameter (None if it can): integers beyond 64 bits,
    text that is not valid Unicode, lists or maps nested deeper than :data:`_MAX_DEPTH`."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if -(2**63) <= value < 2**63 else f"the integer {_short(str(value))} is outside the 64-bit range Neo4j stores"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"the text {_short(ascii(value))} is not valid Unicode (a lone surrogate)"
        return None
    if isinstance(value, (list, tuple, dict)):
        if depth >= _MAX_DEPTH:
            return f"the value nests lists or maps deeper than {_MAX_DEPTH} levels"
        items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
        for key, item in items:
            problem = _value_problem(key, depth + 1) if key is not None else None
            problem = problem or _value_problem(item, depth + 1)
            if problem:
                return problem
    return None


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:60] + "..."


def _is_triple(value: Any) -> bool:
    """``("prop", "op")`` or ``("prop", "op", value)`` with a known operator."""
    return (
        isinstance(value, tuple)
        and len(value) in (2, 3)
        and isinstance(value[0], str)
        and isinstance(value[1], str)
        and " ".join(value[1].upper().split()) in OPERATORS
    )


def as_predicates(value: Any, what: str) -> tuple[Predicate, ...]:
    """``value`` as predicates: one or many of :class:`Predicate`, ``"prop op value"`` text or
    ``(prop, op[, value])`` triples; ``what`` names the setting in the message."""
    if value is None:
        return ()
    if isinstance(value, (Predicate, str)) or _is_triple(value):
        value = [value]
    out = []
    for item in value:
        if isinstance(item, Predicate):
            out.append(item)
        elif isinstance(item, str):
            out.append(parse_predicate(item))
        elif isinstance(item, (tuple, list)) and len(item) in (2, 3):
            out.append(Predicate(*item))
        else:
            raise InputError(f"{what} must hold (property, operator, value) triples; got {item!r}")
    return tuple(out)


_OP_RE = re.compile(
    r"(IS\s+NOT\s+NULL|IS\s+NULL|STARTS\s+WITH|CONTAINS|IN(?=[\s\[])|<>|<=|>=|=|<|>)", re.IGNORECASE
)
_PROP_RE = re.compile(r"\s*(`(?:[^`]|``)+`|[^\s=<>`\[]+)\s*")


def _nesting(text: str) -> int:
    """Deepest bracket nesting of ``text`` outside quotes (an upper bound is enough)."""
    depth = deepest = 0
    quote = None
    escaped = False
    for ch in text:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _parse_value(text: str) -> Any:
    text = text.strip()
    if not text:
        raise ValueError("missing value")
    if _nesting(text) > _MAX_DEPTH:
        raise ValueError(f"a value nested deeper than {_MAX_DEPTH} levels")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("\\'", "'")
    if text.startswith("[") and text.endswith("]"):  # list with single-quoted strings
        return [_parse_value(part) for part in _split_list(text[1:-1])]
    return text


def _split_list(body: str) -> list[str]:
    parts, depth, quote, cur = [], 0, None, []
    for ch in body:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            cur.append(ch)
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            depth += ch == "["
            depth -= ch == "]"
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return parts


def parse_predicate(text: str) -> Predicate:
    """Parse ``"PROPERTY OP VALUE"`` (the CLI's ``--where`` / ``--rel-where``).

    ``PROPERTY`` is a bare name or a backtick-quoted one (```my prop```);
    ``OP`` one of :data:`OPERATORS` (case-insensitive); ``VALUE`` is JSON
    (numbers, ``"strings"``, ``[lists]``, ``true``/``false``), or a
    ``'single-quoted'`` string, or else taken as a plain string. ``IS NULL``
    and ``IS NOT NULL`` take no value.

    >>> parse_predicate("year >= 2010")
    Predicate(prop='year', op='>=', value=2010)
    >>> parse_predicate("`first name` STARTS WITH 'Al'")
    Predicate(prop='first name', op='STARTS WITH', value='Al')
    >>> parse_predicate("kind IN ['a', 'b']").value
    ('a', 'b')
    >>> parse_predicate("email is not null")
    Predicate(prop='email', op='IS NOT NULL', value=None)
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"a predicate must look like 'property operator value'; got {_short(repr(text))}")
    m = _PROP_RE.match(text)
    if not m:
        raise InputError(f"cannot read a property name in predicate {_short(repr(text))}")
    prop = m.group(1)
    if prop.startswith("`"):
        prop = prop[1:-1].replace("``", "`")
    rest = text[m.end():]
    om = _OP_RE.match(rest)
    if not om:
        raise InputError(
            f"predicate {_short(repr(text))}: expected one of {', '.join(OPERATORS)} after {prop!r}",
            hint="write e.g. \"year >= 2010\" or \"name STARTS WITH 'A'\"",
        )
    op = " ".join(om.group(1).upper().split())
    raw = rest[om.end():]
    if op in _UNARY:
        if raw.strip():
            raise InputError(f"predicate {_short(repr(text))}: {op} takes no value")
        return Predicate(prop, op)
    try:
        value = _parse_value(raw)
    except (ValueError, RecursionError) as err:
        raise InputError(f"predicate {_short(repr(text))}: {err} after {op}") from err
    return Predicate(prop, op, value)
