"""The value types of the sync settings: how each is spelled in a file, a variable or an option.

:mod:`topo_graphdb.config` declares the settings with these types. Their before-validators
accept the spellings a TOML file, an environment variable or a command-line option may use
(``"30m"``, ``"on"``, ``"Paper, Author"``, ``'["year >= 2010"]'``) and hand anything else on
unchanged, for pydantic's type, bound and choice checks to reject. ``ValueError()`` means "not of
this form" (the error then states the setting's :class:`Form`); ``ValueError(text)`` carries its
own detail, such as the identifier guard's reason.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types
from pydantic import BeforeValidator, Field, Strict, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from ._cypher import quote_identifier
from .errors import InputError
from .predicates import Predicate, parse_predicate
from .units import parse_size

__all__ = [
    "Form",
    "form_of",
    "Int",
    "Number",
    "Flag",
    "Names",
    "Predicates",
    "Name",
    "Duration",
    "STRIP",
    "LOWER",
    "AUTO",
    "empty_is",
    "checked_text",
    "parse_duration",
    "parse_since",
    "parse_memory",
]


# --------------------------------------------------------------------------- before-validators
@dataclass(frozen=True)
class Form:
    """The values a setting takes, in words (``"a duration such as 90, 30m or 2h"``), for errors."""

    text: str


def _no_bool(value: Any) -> Any:
    """``hops = true`` is a mistake, not 1 (pydantic's lax numbers would take it)."""
    if isinstance(value, bool):
        raise ValueError()
    return value


_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _flag(value: Any) -> Any:
    return _WORDS.get(value.strip().lower(), value) if isinstance(value, str) else value


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _lowered(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def empty_is(default: Any) -> BeforeValidator:
    """An empty value (``""`` in a file or a variable) means ``default``."""

    def before(value: Any) -> Any:
        return default if value is None or (isinstance(value, str) and not value.strip()) else _no_bool(value)

    return BeforeValidator(before)


def _auto(value: Any) -> Any:
    """``""``, ``"auto"`` and ``None``: the default beta, 1 / mean degree."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto")):
        return None
    return _no_bool(value)


def _json_list(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ValueError() from None


def _identifier(name: str) -> str:
    try:
        quote_identifier(name)  # the one identifier guard
    except InputError as err:
        raise ValueError(str(err)) from None
    return name


def _names(value: Any) -> tuple[str, ...]:
    """A list of names, a JSON list (``'["A", "B"]'``) or a comma-separated string."""
    if isinstance(value, str):
        value = _json_list(value) if value.strip().startswith("[") else [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError()
    return tuple(_identifier(v) for v in value)


def _name(value: Any) -> str:
    """One name, or ``""`` for none."""
    if not isinstance(value, str):
        raise ValueError()
    return _identifier(value) if value else value


def _predicate(item: Any) -> Predicate:
    if isinstance(item, str):
        return parse_predicate(item)
    if isinstance(item, (list, tuple)) and len(item) in (2, 3):
        return Predicate(*item)
    raise InputError(f"a predicate must be text or [property, operator, value]; got {item!r}")


def _predicates(value: Any) -> tuple[str, ...]:
    """Predicates as text (``"year >= 2010"``) or ``[property, operator, value]`` triples, one or a list."""
    if isinstance(value, str):
        text = value.strip()
        value = _json_list(text) if text.startswith("[") else [text] if text else []
    if not isinstance(value, (list, tuple)):
        raise ValueError()
    try:
        return tuple(str(_predicate(item)) for item in value)
    except InputError as err:
        raise ValueError(str(err)) from None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$", re.IGNORECASE)
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def _seconds(value: Any) -> Any:
    """Seconds from ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"``, ``"250ms"``; numbers are seconds already."""
    if isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError()
        return float(m.group(1)) * _UNIT[(m.group(2) or "s").lower()]
    return _no_bool(value)


def checked_text(parse: Callable[[str], Any]) -> BeforeValidator:
    """Keep the text (stripped, ``None`` as ``""``) when ``parse`` accepts it; it is parsed again where used."""

    def before(value: Any) -> str:
        text = "" if value is None else str(value).strip()
        try:
            parse(text)
        except InputError:
            raise ValueError() from None
        return text

    return BeforeValidator(before)


# --------------------------------------------------------------------------- the types
Int = Annotated[int, BeforeValidator(_no_bool)]
Number = Annotated[float, BeforeValidator(_no_bool), Field(allow_inf_nan=False)]
Flag = Annotated[bool, Strict(), BeforeValidator(_flag)]
Names = Annotated[tuple[str, ...], BeforeValidator(_names), Form('a list of names such as ["A", "B"] (or a comma-separated string)')]
Predicates = Annotated[tuple[str, ...], BeforeValidator(_predicates), Form('a list of predicates such as ["year >= 2010"]')]
Name = Annotated[str, BeforeValidator(_name), Form("a name")]
_DURATION_FORM = "a duration such as 90, 30m or 2h"
Duration = Annotated[float, BeforeValidator(_seconds), Field(ge=0, allow_inf_nan=False), Form(_DURATION_FORM)]
STRIP = BeforeValidator(_stripped)
LOWER = BeforeValidator(_lowered)
AUTO = BeforeValidator(_auto)


# --------------------------------------------------------------------------- parsers
_DURATION_ADAPTER = TypeAdapter(Duration)


def parse_duration(value: Any, *, what: str = "duration") -> float:
    """Seconds from ``90``, ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` or ``"250ms"``.

    >>> parse_duration("30m"), parse_duration(90), parse_duration("1.5h")
    (1800.0, 90.0, 5400.0)
    """
    try:
        return _DURATION_ADAPTER.validate_python(value)
    except ValidationError:
        raise InputError(f"{what} must be {_DURATION_FORM}; got {value!r}") from None


def parse_since(value: str, *, what: str = "since") -> str | float:
    """``""`` (full run), ``"last"``, or a timestamp as a number.

    Numbers are taken as they are (the unit of the relationship timestamp
    property); an ISO-8601 date or date-time becomes Unix seconds (UTC when no
    zone is given).

    >>> parse_since("last"), parse_since("1700000000"), parse_since("2024-01-01")
    ('last', 1700000000.0, 1704067200.0)
    """
    text = str(value).strip()
    if text in ("", "last"):
        return text
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):
            raise InputError(f"{what} must be 'last', a number or an ISO date; got {value!r}")
        return number
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise InputError(f"{what} must be 'last', a number or an ISO date (2024-01-31T00:00:00); got {value!r}") from err
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    try:
        return stamp.timestamp()
    except (OverflowError, ValueError) as err:  # e.g. year 1 with a positive offset
        raise InputError(f"{what} is out of the date range; got {value!r}") from err


def parse_memory(value: str, *, what: str = "memory_budget") -> int | None:
    """Bytes from a size in :func:`topo_graphdb.units.parse_size` notation; ``""`` is ``None``.

    Units are binary: ``"4GB"`` is ``4 * 2**30``. At least 1 MiB.

    >>> parse_memory("4GB"), parse_memory("512MiB"), parse_memory("")
    (4294967296, 536870912, None)
    """
    text = str(value).strip()
    if not text:
        return None
    return parse_size(text, name=what, minimum=2**20)


def form_of(info: FieldInfo) -> str:
    """The values a setting takes, in words: its :class:`Form`, else from its type and bounds."""
    forms = [m.text for m in info.metadata if isinstance(m, Form)]
    kind = info.annotation
    if forms:
        return forms[-1]
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(get_args(kind))
    if kind is bool:
        return "true or false"
    if kind is not int and float not in (kind, *get_args(kind)):
        raise TypeError(f"a setting of type {kind} needs a Form")  # a bug in the field table
    words = "an integer" if kind is int else "a number"
    lo = [m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)]
    hi = [m.le for m in info.metadata if isinstance(m, annotated_types.Le)]
    return f"{words} in {lo[-1]}..{hi[-1]}" if lo and hi else f"{words} >= {lo[-1]}" if lo else words
