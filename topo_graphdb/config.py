"""Settings of ``topo-graphdb sync``: a TOML file, environment variables, CLI options.

Precedence, lowest first: built-in defaults, the TOML file (``--config`` or
``TOPO_SYNC_CONFIG``), environment variables ``TOPO_SYNC_<SECTION>_<KEY>``
(for example ``TOPO_SYNC_SCORE_HOPS=2``), then command-line options. The
sections are pydantic models (types, bounds and choices are declared on their
fields); :func:`load_config` merges the sources and validates once. A bad
value is a one-line :class:`~topo_graphdb.errors.InputError` that names where
it came from (``sync.toml: score.hops``, ``TOPO_SYNC_SCORE_HOPS`` or
``--hops``), the allowed values and the value received.

The file has five sections (see ``examples/sync.toml`` for every key)::

    [selection]  which part of the graph: labels, relationship types, key, timestamp
    [score]      TC hops and beta, ATC
    [predict]    link predictor, top-k, seed
    [write]      property prefix, predicted-link type, batch size
    [run]        backend, --only, incremental mode, lock, drift, runtime limit

Connection settings are not part of this file: they come from ``--uri`` and
``NEO4J_*`` variables (see :mod:`topo_graphdb.connection`); a password in a
config file would end up in version control.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types
from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, Strict, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from ._cypher import quote_identifier
from .backend import BACKENDS
from .connector import GraphSpec, Predicate, parse_predicate
from .errors import InputError
from .model.names import GNN_MODELS, HEURISTIC_MODELS, PREDICTORS
from .units import parse_size

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "SelectionSettings",
    "ScoreSettings",
    "PredictSettings",
    "WriteSettings",
    "RunSettings",
    "SyncConfig",
    "load_config",
    "describe_settings",
    "parse_duration",
    "parse_since",
    "parse_memory",
    "ENV_PREFIX",
]

ENV_PREFIX = "TOPO_SYNC_"


# --------------------------------------------------------------------------- value forms
# Before-validators accept the spellings a TOML file, a variable or an option may use and hand
# anything else on unchanged for the field's type and bounds to reject. ``ValueError()`` means
# "not of this form" (the error names the field's form); ``ValueError(text)`` carries its own detail.
@dataclass(frozen=True)
class _Form:
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


def _empty_is(default: Any) -> BeforeValidator:
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


def _checked_text(parse: Any) -> BeforeValidator:
    """Keep the text (stripped, ``None`` as ``""``) when ``parse`` accepts it; it is parsed again where used."""

    def before(value: Any) -> str:
        text = "" if value is None else str(value).strip()
        try:
            parse(text)
        except InputError:
            raise ValueError() from None
        return text

    return BeforeValidator(before)


Int = Annotated[int, BeforeValidator(_no_bool)]
Number = Annotated[float, BeforeValidator(_no_bool), Field(allow_inf_nan=False)]
Flag = Annotated[bool, Strict(), BeforeValidator(_flag)]
Names = Annotated[tuple[str, ...], BeforeValidator(_names), _Form('a list of names such as ["A", "B"] (or a comma-separated string)')]
Predicates = Annotated[tuple[str, ...], BeforeValidator(_predicates), _Form('a list of predicates such as ["year >= 2010"]')]
Name = Annotated[str, BeforeValidator(_name), _Form("a name")]
_DURATION_FORM = "a duration such as 90, 30m or 2h"
Duration = Annotated[float, BeforeValidator(_seconds), Field(ge=0, allow_inf_nan=False), _Form(_DURATION_FORM)]
_STRIP = BeforeValidator(_stripped)


# --------------------------------------------------------------------------- parsing helpers
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


# --------------------------------------------------------------------------- sections
class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SelectionSettings(_Section):
    """Which part of the database is analysed (see :class:`topo_graphdb.connector.GraphSpec`)."""

    labels: Names = Field((), description="Node labels (any of them; all nodes when empty).")
    rel_types: Names = Field((), description="Relationship types (any of them; all types when empty).")
    where: Predicates = Field((), description="Node predicates such as \"year >= 2010\" (all must hold).")
    rel_where: Predicates = Field((), description="Relationship predicates such as \"weight > 0.5\".")
    key_property: Name = Field("", description="Unique node key property (recommended); Neo4j elementIds when empty.")
    timestamp_property: Name = Field("", description="Relationship property holding a time (number or date/time) for --since and drift.")
    feature_properties: Names = Field((), description="Numeric node properties (scalars or lists) used as model features.")


class ScoreSettings(_Section):
    """TC and ATC."""

    tc: Flag = Field(True, description="Compute exact TC (train variant).")
    hops: Int = Field(2, ge=1, le=4, description="TC hops K (1..4).")
    beta: Annotated[float | None, BeforeValidator(_auto), _Form("a number > 0, or 'auto'")] = Field(
        None, gt=0, allow_inf_nan=False, description="Decay beta > 0; empty or 'auto' = 1 / mean degree.")
    atc: Flag = Field(True, description="Compute approximate TC (ATC).")
    atc_hops: Annotated[Int, _Form("an integer in 0..6 (0 = hops)")] = Field(0, ge=0, le=6, description="ATC hops (0 = the same as hops).")
    atc_dim: Int = Field(128, ge=8, le=4096, description="ATC sketch dimension (8..4096).")
    seed: Int = Field(0, ge=0, le=2**32 - 1, description="Seed of ATC and of the link predictor.")
    memory_budget: Annotated[str, _checked_text(parse_memory),
                             _Form("a size like 512M or 8G (binary units), at least 1 MiB")] = Field(
        "", description="Memory budget of the TC kernel, e.g. '4GB' (empty = what is free).")


class PredictSettings(_Section):
    """The link predictor, its predictions and how far to believe them."""

    enabled: Flag = Field(True, description="Train a link predictor and write predicted links.")
    model: Annotated[Literal[PREDICTORS], BeforeValidator(_lowered)] = Field(
        "gcn", description=f"{' | '.join(GNN_MODELS)} (GNNs) | {' | '.join(HEURISTIC_MODELS)} (common-neighbour heuristics).")
    epochs: Int = Field(200, ge=1, le=100_000, description="Maximum training epochs (1..100000).")
    hidden: Int = Field(256, ge=8, le=4096, description="Embedding width of the model (8..4096).")
    batch_size: Int = Field(0, ge=0, description="Training positives per step (0 = the model's default, 1152); "
                                                 "larger = faster epochs on big graphs.")
    top_k: Int = Field(10, ge=1, le=1000, description="Predicted links per node (1..1000).")
    min_score: Annotated[float | None, _empty_is(None)] = Field(
        None, allow_inf_nan=False, description="Keep only predicted links scoring at least this (the model's score).")
    trust: Flag = Field(True, validation_alias=AliasChoices("trust", "indicator"), description=(
        "Calibrate a probability on every predicted link and an expected precision per node on held-out links."))
    trust_holdout: Number = Field(0.1, ge=0.01, le=0.5, description="Share of the edges held out to calibrate the link probability (0.01..0.5).")
    device: Annotated[Literal["auto", "cpu", "cuda"], _STRIP] = Field("auto", description="auto | cpu | cuda.")


class WriteSettings(_Section):
    """What is written back and how."""

    prefix: Annotated[str, Strict(), _Form("a property-name prefix of letters, digits and _ (e.g. topo_)")] = Field(
        "topo_", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$", description="Prefix of every node property the tool writes.")
    relationship_type: Annotated[Name, _Form("a relationship type name")] = Field(
        "PREDICTED_LINK", min_length=1, description="Type of the predicted-link relationships.")
    batch_size: Int = Field(10_000, ge=1, le=1_000_000, description="Rows per write transaction (1..1000000).")
    rate_limit: Number = Field(0.0, ge=0, description="Maximum rows written per second (0 = no limit).")


class RunSettings(_Section):
    """How a run behaves: backend, incremental mode, lock, drift, limits."""

    backend: Annotated[Literal[BACKENDS], _STRIP] = Field("auto", description="auto | cpu | gpu.")
    only: Annotated[Literal["all", "score", "predict"], _STRIP] = Field("all", description="all | score | predict.")
    since: Annotated[str, _checked_text(parse_since),
                     _Form("'last', a number or an ISO date (2024-01-31T00:00:00)")] = Field(
        "", description="Incremental: 'last' or a timestamp; empty = full run.")
    full_every: Int = Field(0, ge=0, description="Force a full run after N-1 incremental runs (0 = never).")
    max_runtime: Duration = Field(0.0, description="Stop cleanly after this long (e.g. 45m; 0 = no limit).")
    wait: Flag = Field(False, description="Wait for a lock held by another sync instead of exiting with code 10.")
    wait_timeout: Duration = Field(3600.0, description="Longest wait for the lock with --wait (e.g. 1h).")
    lock_ttl: Annotated[Duration, _Form("a duration in 10s..1d")] = Field(
        120.0, ge=10, le=86400, description="Seconds without heartbeat after which a lock counts as abandoned (10..86400).")
    drift_threshold: Annotated[float, _empty_is(0.0)] = Field(
        0.0, ge=0, le=1, allow_inf_nan=False, description="Alert when mean TC^New / mean TC^Train falls below this (0 = off).")
    drift_action: Annotated[Literal["warn", "fail"], _STRIP] = Field("warn", description="warn | fail (exit code 11).")
    keep_runs: Int = Field(0, ge=0, description="After a successful run, keep only the N newest ledger entries (0 = all).")


class SyncConfig(BaseModel):
    """The validated settings of one sync (immutable).

    Build it with :func:`load_config`; ``SyncConfig()`` holds the defaults. Two configs
    are equal when their settings are, wherever they came from (``source``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    selection: SelectionSettings = Field(default_factory=SelectionSettings)
    score: ScoreSettings = Field(default_factory=ScoreSettings)
    predict: PredictSettings = Field(default_factory=PredictSettings)
    write: WriteSettings = Field(default_factory=WriteSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    source: str = Field("defaults", exclude=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SyncConfig) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.as_dict(), sort_keys=True))

    def as_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists), without ``source``."""
        return self.model_dump(mode="json")

    def result_params(self) -> dict[str, Any]:
        """The settings that change what is written (hashed into ``params_hash``)."""
        d = self.as_dict()
        run = d.pop("run")
        d["backend"] = run["backend"]  # GPU and CPU results may differ in the last bits
        d["only"] = run["only"]  # an incremental run builds on a run that wrote the same things
        return d

    def graph_spec(self) -> GraphSpec:
        """The connector's :class:`~topo_graphdb.connector.GraphSpec` for this selection."""
        sel = self.selection
        return GraphSpec(
            labels=sel.labels,
            rel_types=sel.rel_types,
            orientation="undirected",
            node_where=sel.where,
            rel_where=sel.rel_where,
            time_property=sel.timestamp_property or None,
            feature_properties=sel.feature_properties,
            key_property=sel.key_property or None,
        )

    def params_hash(self) -> str:
        """Short SHA-256 of :meth:`result_params` (stable across runs and machines)."""
        text = json.dumps(self.result_params(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def scope(self, database: str) -> str:
        """Lock scope: the database plus the selection (two syncs on the same scope never overlap)."""
        text = json.dumps({"database": database, "selection": self.as_dict()["selection"]}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def atc_hops(self) -> int:
        return self.score.atc_hops or self.score.hops

    def with_changes(self, **sections: Mapping[str, Any]) -> SyncConfig:
        """A copy with some keys replaced, validated like any other source (``source`` names them)."""
        settings = [(section, key, value, f"{section}.{key}") for section, values in sections.items() for key, value in values.items()]
        return _validate(self.as_dict(), settings, source=self.source)


_SECTIONS: dict[str, type[_Section]] = {name: info.annotation for name, info in SyncConfig.model_fields.items() if name != "source"}

#: Old names that still work: ``predict.indicator`` is ``predict.trust``.
_ALIASES = {
    (section, alias): name
    for section, model in _SECTIONS.items()
    for name, info in model.model_fields.items()
    if isinstance(info.validation_alias, AliasChoices)
    for alias in info.validation_alias.choices
}


def _form(info: FieldInfo) -> str:
    """The values a setting takes, in words: its :class:`_Form`, else from its type and bounds."""
    forms = [m.text for m in info.metadata if isinstance(m, _Form)]
    kind = info.annotation
    if forms:
        return forms[-1]
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(get_args(kind))
    if kind is bool:
        return "true or false"
    if kind is not int and float not in (kind, *get_args(kind)):
        raise TypeError(f"a setting of type {kind} needs a _Form")  # a bug in the field table
    words = "an integer" if kind is int else "a number"
    lo = [m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)]
    hi = [m.le for m in info.metadata if isinstance(m, annotated_types.Le)]
    return f"{words} in {lo[-1]}..{hi[-1]}" if lo and hi else f"{words} >= {lo[-1]}" if lo else words


_FORMS = {(section, name): _form(info) for section, model in _SECTIONS.items() for name, info in model.model_fields.items()}


# --------------------------------------------------------------------------- loading
#: One setting from one source: ``(section, key, value, origin)``; ``origin`` names it in errors.
Setting = tuple[str, str, Any, str]


def _unknown(origin: str, name: str, known: list[str]) -> InputError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(known)
    return InputError(f"{origin}: unknown setting {name!r}", hint=hint)


def _file_settings(path: Path) -> list[Setting]:
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"config file not found: {path}") from None
    except OSError as err:
        raise InputError(f"config file cannot be read: {path} ({err.strerror})") from None
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not valid TOML: {err}") from None
    except RecursionError:
        raise InputError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None
    settings = []
    for section, values in data.items():
        if section not in _SECTIONS:
            raise _unknown(path.name, section, list(_SECTIONS))
        if not isinstance(values, dict):
            raise InputError(f"{path.name}: [{section}] must be a table of settings; got {values!r}")
        settings += [(section, key, value, f"{path.name}: {section}.{key}") for key, value in values.items()]
    return settings


def _env_settings(environ: Mapping[str, str]) -> list[Setting]:
    """``TOPO_SYNC_<SECTION>_<KEY>`` variables (empty ones count as unset)."""
    settings = []
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG" or value == "":
            continue
        rest = name[len(ENV_PREFIX):].lower()
        section = next((s for s in _SECTIONS if rest.startswith(s + "_")), None)
        if section is None:
            raise InputError(f"{name}: unknown setting",
                             hint=f"use {ENV_PREFIX}<SECTION>_<KEY> with a section of {', '.join(_SECTIONS)}")
        settings.append((section, rest[len(section) + 1:], value, name))
    return settings


def _override_settings(overrides: Mapping[str, Any]) -> list[Setting]:
    settings = []
    for dotted, value in overrides.items():
        option = None
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str) and value[1].startswith("-"):
            value, option = value
        if value is None:
            continue
        section, _, key = dotted.partition(".")
        if section not in _SECTIONS:
            raise _unknown(option or "override", section, list(_SECTIONS))
        settings.append((section, key, value, option or dotted))
    return settings


def _validate(base: dict[str, Any], settings: list[Setting], *, source: str) -> SyncConfig:
    """``base`` with ``settings`` applied in order (later ones win), validated into a :class:`SyncConfig`."""
    raw = {section: dict(base.get(section, {})) for section in _SECTIONS}
    origins: dict[tuple[str, str], str] = {}
    for section, key, value, origin in settings:
        key = _ALIASES.get((section, key), key)
        raw.setdefault(section, {})[key] = value
        origins[(section, key)] = origin
    try:
        cfg = SyncConfig.model_validate({**raw, "source": source})
    except ValidationError as err:
        raise _one_line(err, raw, origins) from None
    _cross_check(cfg, origins)
    return cfg


def _one_line(err: ValidationError, raw: dict[str, dict[str, Any]], origins: dict[tuple[str, str], str]) -> InputError:
    """pydantic's first error as one line: where the value came from, the values allowed, the value given."""
    first = min(err.errors(), key=lambda e: e["type"] != "extra_forbidden")  # an unknown key before a bad value
    section, key = (*map(str, first["loc"]), "", "")[:2]
    origin = origins.get((section, key), f"{section}.{key}".strip("."))
    if first["type"] == "extra_forbidden":
        known = list(_SECTIONS[section].model_fields) if section in _SECTIONS else list(_SECTIONS)
        return _unknown(origin, key or section, known)
    detail = str(first.get("ctx", {}).get("error", "")) if first["type"] == "value_error" else ""
    if detail:
        return InputError(f"{origin}: {detail}")
    value = raw.get(section, {}).get(key, first["input"])
    return InputError(f"{origin} must be {_FORMS.get((section, key), 'valid')}; got {value!r}")


def _cross_check(cfg: SyncConfig, origins: dict[tuple[str, str], str]) -> None:
    run = cfg.run
    if run.only == "predict" and not cfg.predict.enabled:
        raise InputError(f"{origins.get(('run', 'only'), 'run.only')} is 'predict' but predict.enabled is false")
    if run.only == "score" and not (cfg.score.tc or cfg.score.atc):
        raise InputError(f"{origins.get(('run', 'only'), 'run.only')} is 'score' but both score.tc and score.atc are false")
    if run.since and not cfg.selection.timestamp_property:
        raise InputError(
            f"{origins.get(('run', 'since'), 'run.since')} needs selection.timestamp_property "
            "(the relationship property holding a time)",
        )


def load_config(
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> SyncConfig:
    """Read, merge and validate the sync settings.

    Parameters
    ----------
    path : TOML file; ``None`` uses ``TOPO_SYNC_CONFIG`` when set, else defaults only.
    overrides : ``{"section.key": value}`` from command-line options (``None`` values are skipped),
        or ``{"section.key": (value, "--option")}`` to name the option in errors.
    environ : environment (default ``os.environ``); ``TOPO_SYNC_<SECTION>_<KEY>`` variables apply.

    Returns
    -------
    SyncConfig

    Raises
    ------
    InputError
        A missing or malformed file, an unknown key, or a value out of range (one line).

    >>> cfg = load_config(None, overrides={"score.hops": 1}, environ={})
    >>> cfg.score.hops, cfg.predict.top_k
    (1, 10)
    """
    environ = os.environ if environ is None else environ
    if path is None and environ.get(ENV_PREFIX + "CONFIG"):
        path = environ[ENV_PREFIX + "CONFIG"]
    from_file = _file_settings(Path(path)) if path is not None else []
    settings = from_file + _env_settings(environ) + _override_settings(overrides or {})
    return _validate({}, settings, source=str(Path(path)) if path is not None else "defaults")


def describe_settings() -> list[tuple[str, str, Any, str]]:
    """``(section, key, default, help)`` of every setting (for docs and ``--help``)."""
    return [(section, name, info.default, info.description or "")
            for section, model in _SECTIONS.items() for name, info in model.model_fields.items()]
