"""Settings of ``topo-graphdb sync``: a TOML file, environment variables, CLI options.

Precedence, lowest first: built-in defaults, the TOML file (``--config`` or
``TOPO_SYNC_CONFIG``), environment variables ``TOPO_SYNC_<SECTION>_<KEY>``
(for example ``TOPO_SYNC_SCORE_HOPS=2``), then command-line options. Every
value is validated once, in :func:`load_config`, and a bad one is a one-line
:class:`~topo_graphdb.errors.InputError` that names where it came from
(``sync.toml: score.hops``, ``TOPO_SYNC_SCORE_HOPS`` or ``--hops``), the
allowed range and the value received.

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

import dataclasses
import difflib
import hashlib
import json
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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
    "parse_duration",
    "parse_since",
    "ENV_PREFIX",
]

ENV_PREFIX = "TOPO_SYNC_"


# --------------------------------------------------------------------------- sections
# Each field carries ``metadata``: ``check`` (a validator name below) and ``help``.
def _f(default: Any, check: str, help: str, **extra: Any) -> Any:
    meta = {"check": check, "help": help, **extra}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class SelectionSettings:
    """Which part of the database is analysed (see :class:`topo_graphdb.connector.GraphSpec`)."""

    labels: tuple[str, ...] = _f((), "names", "Node labels (any of them; all nodes when empty).")
    rel_types: tuple[str, ...] = _f((), "names", "Relationship types (any of them; all types when empty).")
    where: tuple[str, ...] = _f((), "predicates", "Node predicates such as \"year >= 2010\" (all must hold).")
    rel_where: tuple[str, ...] = _f((), "predicates", "Relationship predicates such as \"weight > 0.5\".")
    key_property: str = _f("", "optional_name", "Unique node key property (recommended); Neo4j elementIds when empty.")
    timestamp_property: str = _f("", "optional_name", "Relationship property holding a time (number or date/time) for --since and drift.")
    feature_properties: tuple[str, ...] = _f((), "names", "Numeric node properties (scalars or lists) used as model features.")


@dataclass(frozen=True)
class ScoreSettings:
    """TC and ATC."""

    tc: bool = _f(True, "bool", "Compute exact TC (train variant).")
    hops: int = _f(2, "hops", "TC hops K (1..4).")
    beta: float | None = _f(None, "beta", "Decay beta > 0; empty or 'auto' = 1 / mean degree.")
    atc: bool = _f(True, "bool", "Compute approximate TC (ATC).")
    atc_hops: int = _f(0, "atc_hops", "ATC hops (0 = the same as hops).")
    atc_dim: int = _f(128, "dim", "ATC sketch dimension (8..4096).")
    seed: int = _f(0, "seed", "Seed of ATC and of the link predictor.")
    memory_budget: str = _f("", "memory", "Memory budget of the TC kernel, e.g. '4GB' (empty = what is free).")


@dataclass(frozen=True)
class PredictSettings:
    """The link predictor, its predictions and how far to believe them."""

    enabled: bool = _f(True, "bool", "Train a link predictor and write predicted links.")
    model: str = _f("gcn", "model", f"{' | '.join(GNN_MODELS)} (GNNs) | {' | '.join(HEURISTIC_MODELS)} (common-neighbour heuristics).")
    epochs: int = _f(200, "epochs", "Maximum training epochs (1..100000).")
    hidden: int = _f(256, "hidden", "Embedding width of the model (8..4096).")
    batch_size: int = _f(0, "non_negative_int", "Training positives per step (0 = the model's default, 1152); larger = faster epochs on big graphs.")
    top_k: int = _f(10, "top_k", "Predicted links per node (1..1000).")
    min_score: float | None = _f(None, "optional_number", "Keep only predicted links scoring at least this (the model's score).")
    trust: bool = _f(True, "bool", "Calibrate a probability on every predicted link and an expected precision per node on held-out links.")
    trust_holdout: float = _f(0.1, "holdout", "Share of the edges held out to calibrate the link probability (0.01..0.5).")
    device: str = _f("auto", "device", "auto | cpu | cuda.")


@dataclass(frozen=True)
class WriteSettings:
    """What is written back and how."""

    prefix: str = _f("topo_", "prefix", "Prefix of every node property the tool writes.")
    relationship_type: str = _f("PREDICTED_LINK", "rel_type", "Type of the predicted-link relationships.")
    batch_size: int = _f(10_000, "batch_size", "Rows per write transaction (1..1000000).")
    rate_limit: float = _f(0.0, "non_negative", "Maximum rows written per second (0 = no limit).")


@dataclass(frozen=True)
class RunSettings:
    """How a run behaves: backend, incremental mode, lock, drift, limits."""

    backend: str = _f("auto", "backend", "auto | cpu | gpu.")
    only: str = _f("all", "only", "all | score | predict.")
    since: str = _f("", "since", "Incremental: 'last' or a timestamp; empty = full run.")
    full_every: int = _f(0, "non_negative_int", "Force a full run after N-1 incremental runs (0 = never).")
    max_runtime: float = _f(0.0, "duration", "Stop cleanly after this long (e.g. 45m; 0 = no limit).")
    wait: bool = _f(False, "bool", "Wait for a lock held by another sync instead of exiting with code 10.")
    wait_timeout: float = _f(3600.0, "duration", "Longest wait for the lock with --wait (e.g. 1h).")
    lock_ttl: float = _f(120.0, "ttl", "Seconds without heartbeat after which a lock counts as abandoned (10..86400).")
    drift_threshold: float = _f(0.0, "probability", "Alert when mean TC^New / mean TC^Train falls below this (0 = off).")
    drift_action: str = _f("warn", "drift_action", "warn | fail (exit code 11).")
    keep_runs: int = _f(0, "non_negative_int", "After a successful run, keep only the N newest ledger entries (0 = all).")


_SECTIONS: dict[str, type] = {
    "selection": SelectionSettings,
    "score": ScoreSettings,
    "predict": PredictSettings,
    "write": WriteSettings,
    "run": RunSettings,
}


@dataclass(frozen=True)
class SyncConfig:
    """The validated settings of one sync (immutable).

    Build it with :func:`load_config`; ``SyncConfig()`` holds the defaults.
    """

    selection: SelectionSettings = field(default_factory=SelectionSettings)
    score: ScoreSettings = field(default_factory=ScoreSettings)
    predict: PredictSettings = field(default_factory=PredictSettings)
    write: WriteSettings = field(default_factory=WriteSettings)
    run: RunSettings = field(default_factory=RunSettings)
    source: str = field(default="defaults", compare=False)

    def as_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists), without ``source``."""
        return {name: _plain(dataclasses.asdict(getattr(self, name))) for name in _SECTIONS}

    def result_params(self) -> dict[str, Any]:
        """The settings that change what is written (hashed into ``params_hash``)."""
        d = self.as_dict()
        run = d.pop("run")
        d["backend"] = run["backend"]  # GPU and CPU results may differ in the last bits
        d["only"] = run["only"]  # an incremental run builds on a run that wrote the same things
        return d

    def graph_spec(self) -> Any:
        """The connector's :class:`~topo_graphdb.connector.GraphSpec` for this selection."""
        from .connector import GraphSpec  # noqa: PLC0415

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
        raw = self.as_dict()
        origins: dict[tuple[str, str], str] = {}
        for section, values in sections.items():
            for key, value in values.items():
                raw.setdefault(section, {})[key] = value
                origins[(section, key)] = f"{section}.{key}"
        return _build(raw, origins, source=self.source)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# --------------------------------------------------------------------------- parsing helpers
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$", re.IGNORECASE)
_UNIT = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any, *, what: str = "duration") -> float:
    """Seconds from ``90``, ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` or ``"250ms"``.

    >>> parse_duration("30m"), parse_duration(90), parse_duration("1.5h")
    (1800.0, 90.0, 5400.0)
    """
    if isinstance(value, bool):
        raise InputError(f"{what} must be a duration such as 90, 30m or 2h; got {value!r}")
    try:
        if isinstance(value, (int, float)):
            seconds = float(value)
        else:
            m = _DURATION.match(str(value))
            if not m:
                raise InputError(f"{what} must be a duration such as 90, 30m or 2h; got {value!r}")
            seconds = float(m.group(1)) * _UNIT[m.group(2).lower() if m.group(2) else None]
    except OverflowError:  # an integer beyond float range
        seconds = math.inf
    if not math.isfinite(seconds) or seconds < 0:
        raise InputError(f"{what} must be a non-negative duration; got {value!r}")
    return seconds


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


# --------------------------------------------------------------------------- validators
def _bad(origin: str, expected: str, value: Any) -> InputError:
    return InputError(f"{origin} must be {expected}; got {value!r}")


def _as_int(origin: str, value: Any, lo: int, hi: int | None, expected: str) -> int:
    if isinstance(value, bool):
        raise _bad(origin, expected, value)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise _bad(origin, expected, value) from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        raise _bad(origin, expected, value)
    return value


def _as_float(origin: str, value: Any, expected: str) -> float:
    if isinstance(value, bool):
        raise _bad(origin, expected, value)
    try:
        out = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise _bad(origin, expected, value) from None
    if not math.isfinite(out):
        raise _bad(origin, expected, value)
    return out


def _as_bool(origin: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise _bad(origin, "true or false", value)


def _as_choice(origin: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.strip() not in choices:
        raise _bad(origin, "one of " + ", ".join(choices), value)
    return value.strip()


def _as_names(origin: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            raise _bad(origin, 'a list of names such as ["A", "B"] (or a comma-separated string)', value) from None
    elif isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _bad(origin, "a list of names (or a comma-separated string)", value)
    from ._cypher import quote_identifier  # noqa: PLC0415  (the one identifier guard)

    for v in value:
        try:
            quote_identifier(v)
        except InputError as err:
            raise InputError(f"{origin}: {err}") from None
    return tuple(value)


def _as_name(origin: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _bad(origin, "a name", value)
    if value == "":
        return ""
    from ._cypher import quote_identifier  # noqa: PLC0415

    try:
        quote_identifier(value)
    except InputError as err:
        raise InputError(f"{origin}: {err}") from None
    return value


def _as_predicates(origin: str, value: Any) -> tuple[str, ...]:
    """Predicates as text (``"year >= 2010"``) or ``[property, operator, value]`` triples."""
    from .connector import Predicate, parse_predicate  # noqa: PLC0415

    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except (json.JSONDecodeError, RecursionError):
                raise _bad(origin, "a list of predicates such as [\"year >= 2010\"]", value) from None
        else:
            value = [text] if text else []
    if not isinstance(value, (list, tuple)):
        raise _bad(origin, "a list of predicates such as [\"year >= 2010\"]", value)
    out = []
    for item in value:
        try:
            if isinstance(item, str):
                out.append(str(parse_predicate(item)))
            elif isinstance(item, (list, tuple)) and len(item) in (2, 3):
                out.append(str(Predicate(*item)))
            else:
                raise _bad(origin, "predicates as text or [property, operator, value]", item)
        except InputError as err:
            raise InputError(f"{origin}: {err}") from None
    return tuple(out)


def _check(kind: str, origin: str, value: Any) -> Any:  # noqa: PLR0911, PLR0912
    if kind == "bool":
        return _as_bool(origin, value)
    if kind == "names":
        return _as_names(origin, value)
    if kind == "optional_name":
        return _as_name(origin, value)
    if kind == "predicates":
        return _as_predicates(origin, value)
    if kind == "hops":
        return _as_int(origin, value, 1, 4, "an integer in 1..4")
    if kind == "atc_hops":
        return _as_int(origin, value, 0, 6, "an integer in 0..6 (0 = hops)")
    if kind == "beta":
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto")):
            return None
        beta = _as_float(origin, value, "a number > 0, or 'auto'")
        if beta <= 0:
            raise _bad(origin, "a number > 0, or 'auto'", value)
        return beta
    if kind == "dim":
        return _as_int(origin, value, 8, 4096, "an integer in 8..4096")
    if kind == "seed":
        return _as_int(origin, value, 0, 2**32 - 1, "an integer in 0..4294967295")
    if kind == "memory":
        value = "" if value is None else str(value)
        parse_memory(value, what=origin)
        return value
    if kind == "model":
        return _as_choice(origin, value.lower() if isinstance(value, str) else value, PREDICTORS)
    if kind == "hidden":
        return _as_int(origin, value, 8, 4096, "an integer in 8..4096")
    if kind == "epochs":
        return _as_int(origin, value, 1, 100_000, "an integer in 1..100000")
    if kind == "top_k":
        return _as_int(origin, value, 1, 1000, "an integer in 1..1000")
    if kind == "optional_number":
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return _as_float(origin, value, "a number")
    if kind == "probability":
        if value is None or (isinstance(value, str) and not value.strip()):
            return 0.0
        p = _as_float(origin, value, "a number in 0..1")
        if not 0 <= p <= 1:
            raise _bad(origin, "a number in 0..1", value)
        return p
    if kind == "holdout":
        p = _as_float(origin, value, "a number in 0.01..0.5")
        if not 0.01 <= p <= 0.5:
            raise _bad(origin, "a number in 0.01..0.5", value)
        return p
    if kind == "device":
        return _as_choice(origin, value, ("auto", "cpu", "cuda"))
    if kind == "prefix":
        if not isinstance(value, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$", value):
            raise _bad(origin, "a property-name prefix of letters, digits and _ (e.g. topo_)", value)
        return value
    if kind == "rel_type":
        name = _as_name(origin, value)
        if not name:
            raise _bad(origin, "a relationship type name", value)
        return name
    if kind == "batch_size":
        return _as_int(origin, value, 1, 1_000_000, "an integer in 1..1000000")
    if kind == "non_negative":
        x = _as_float(origin, value, "a number >= 0")
        if x < 0:
            raise _bad(origin, "a number >= 0", value)
        return x
    if kind == "non_negative_int":
        return _as_int(origin, value, 0, None, "an integer >= 0")
    if kind == "backend":
        return _as_choice(origin, value, ("auto", "cpu", "gpu"))
    if kind == "only":
        return _as_choice(origin, value, ("all", "score", "predict"))
    if kind == "since":
        text = "" if value is None else str(value).strip()
        parse_since(text, what=origin)
        return text
    if kind == "duration":
        return parse_duration(value, what=origin)
    if kind == "ttl":
        ttl = parse_duration(value, what=origin)
        if not 10 <= ttl <= 86400:
            raise _bad(origin, "a duration in 10s..1d", value)
        return ttl
    if kind == "drift_action":
        return _as_choice(origin, value, ("warn", "fail"))
    raise AssertionError(f"unknown check {kind}")  # a bug in the field table


# --------------------------------------------------------------------------- loading
def _fields(section: str) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(_SECTIONS[section])}


#: Settings that were renamed: the old key still works and means the new one.
_RENAMED = {("predict", "indicator"): "trust"}


def _unknown(origin: str, name: str, known: list[str]) -> InputError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(known)
    return InputError(f"{origin}: unknown setting {name!r}", hint=hint)


def _read_toml(path: Path) -> dict[str, Any]:
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
    return data


def _env_settings(environ: Mapping[str, str]) -> dict[tuple[str, str], tuple[str, str]]:
    """``(section, key) -> (value, variable name)`` from ``TOPO_SYNC_<SECTION>_<KEY>``."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG" or value == "":
            continue
        rest = name[len(ENV_PREFIX):].lower()
        for section in _SECTIONS:
            if rest.startswith(section + "_"):
                key = rest[len(section) + 1:]
                key = _RENAMED.get((section, key), key)
                known = list(_fields(section))
                if key not in known:
                    raise _unknown(name, key, known)
                out[(section, key)] = (value, name)
                break
        else:
            raise InputError(
                f"{name}: unknown setting", hint=f"use {ENV_PREFIX}<SECTION>_<KEY> with a section of {', '.join(_SECTIONS)}"
            )
    return out


def _build(raw: dict[str, dict[str, Any]], origins: dict[tuple[str, str], str], *, source: str) -> SyncConfig:
    sections: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        values = raw.get(section, {})
        kwargs = {}
        for name, f in _fields(section).items():
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            value = values.get(name, default)
            origin = origins.get((section, name), f"{section}.{name}")
            kwargs[name] = _check(f.metadata["check"], origin, value)
        sections[section] = cls(**kwargs)
    cfg = SyncConfig(**sections, source=source)
    _cross_check(cfg, origins)
    return cfg


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
    raw: dict[str, dict[str, Any]] = {s: {} for s in _SECTIONS}
    origins: dict[tuple[str, str], str] = {}
    source = "defaults"
    if path is not None:
        p = Path(path)
        data = _read_toml(p)
        source = str(p)
        for section, values in data.items():
            if section not in _SECTIONS:
                raise _unknown(p.name, section, list(_SECTIONS))
            if not isinstance(values, dict):
                raise InputError(f"{p.name}: [{section}] must be a table of settings; got {values!r}")
            known = list(_fields(section))
            for key, value in values.items():
                key = _RENAMED.get((section, key), key)
                if key not in known:
                    raise _unknown(f"{p.name}: [{section}]", key, known)
                raw[section][key] = value
                origins[(section, key)] = f"{p.name}: {section}.{key}"
    for (section, key), (value, var) in _env_settings(environ).items():
        raw[section][key] = value
        origins[(section, key)] = var
    for dotted, value in (overrides or {}).items():
        option = None
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str) and value[1].startswith("-"):
            value, option = value
        if value is None:
            continue
        section, _, key = dotted.partition(".")
        if section not in _SECTIONS:
            raise _unknown("override", section, list(_SECTIONS))
        known = list(_fields(section))
        if key not in known:
            raise _unknown(f"override [{section}]", key, known)
        raw[section][key] = value
        origins[(section, key)] = option or dotted
    return _build(raw, origins, source=source)


def describe_settings() -> list[tuple[str, str, Any, str]]:
    """``(section, key, default, help)`` of every setting (for docs and ``--help``)."""
    out = []
    for section in _SECTIONS:
        for name, f in _fields(section).items():
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            out.append((section, name, default, f.metadata["help"]))
    return out
