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
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, Strict, ValidationError

from ._setting_types import (
    AUTO,
    LOWER,
    STRIP,
    Duration,
    Flag,
    Form,
    Int,
    Name,
    Names,
    Number,
    Predicates,
    checked_text,
    empty_is,
    form_of,
    parse_duration,
    parse_memory,
    parse_since,
)
from .backend import BACKENDS
from .errors import InputError
from .graphspec import GraphSpec
from .model.names import BATCHING, GNN_MODELS, HEURISTIC_MODELS, PREDICTORS
from .scheduler import parse_scheduler

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
    beta: Annotated[float | None, AUTO, Form("a number > 0, or 'auto'")] = Field(
        None, gt=0, allow_inf_nan=False, description="Decay beta > 0; empty or 'auto' = 1 / mean degree.")
    atc: Flag = Field(True, description="Compute approximate TC (ATC).")
    atc_hops: Annotated[Int, Form("an integer in 0..6 (0 = hops)")] = Field(0, ge=0, le=6, description="ATC hops (0 = the same as hops).")
    atc_dim: Int = Field(128, ge=8, le=4096, description="ATC sketch dimension (8..4096).")
    seed: Int = Field(0, ge=0, le=2**32 - 1, description="Seed of ATC and of the link predictor.")
    memory_budget: Annotated[str, checked_text(parse_memory),
                             Form("a size like 512M or 8G (binary units), at least 1 MiB")] = Field(
        "", description="Memory budget of the TC kernel and of a full-batch training step, e.g. '4GB' (empty = half of what is free).")


class PredictSettings(_Section):
    """The link predictor, its predictions and how far to believe them."""

    enabled: Flag = Field(True, description="Train a link predictor and write predicted links.")
    model: Annotated[Literal[PREDICTORS], LOWER] = Field(
        "gcn", description=f"{' | '.join(GNN_MODELS)} (GNNs) | {' | '.join(HEURISTIC_MODELS)} (common-neighbour heuristics).")
    epochs: Int = Field(200, ge=1, le=100_000, description="Maximum training epochs (1..100000).")
    hidden: Int = Field(0, ge=0, le=4096, description="Embedding width of the model (0 = the model's default; up to 4096).")
    batch_size: Int = Field(0, ge=0, description="Training positives per step (0 = the model's default); "
                                                 "larger = faster epochs on big graphs.")
    top_k: Int = Field(10, ge=1, le=1000, description="Predicted links per node (1..1000).")
    min_score: Annotated[float | None, empty_is(None)] = Field(
        None, allow_inf_nan=False, description="Keep only predicted links scoring at least this (the model's score).")
    trust: Flag = Field(True, validation_alias=AliasChoices("trust", "indicator"), description=(
        "Calibrate a probability on every predicted link and an expected precision per node on held-out links."))
    trust_holdout: Number = Field(0.1, ge=0.01, le=0.5, description="Share of the edges held out to calibrate the link probability (0.01..0.5).")
    device: Annotated[Literal["auto", "cpu", "cuda"], STRIP] = Field("auto", description="auto | cpu | cuda.")
    batching: Annotated[Literal[BATCHING], LOWER] = Field("auto", description=(
        "auto | full | sampled: training steps over the whole graph or over sampled subgraphs (gcn, sage); "
        "auto samples when a full-batch step does not fit score.memory_budget (or half the free memory)."))
    fanout: Int = Field(15, ge=1, le=1000, description="Neighbours sampled per node and layer with sampled batching (1..1000).")


class WriteSettings(_Section):
    """What is written back and how."""

    prefix: Annotated[str, Strict(), Form("a property-name prefix of letters, digits and _ (e.g. topo_)")] = Field(
        "topo_", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$", description="Prefix of every node property the tool writes.")
    relationship_type: Annotated[Name, Form("a relationship type name")] = Field(
        "PREDICTED_LINK", min_length=1, description="Type of the predicted-link relationships.")
    batch_size: Int = Field(10_000, ge=1, le=1_000_000, description="Rows per write transaction (1..1000000).")
    rate_limit: Number = Field(0.0, ge=0, description="Maximum rows written per second (0 = no limit).")


class RunSettings(_Section):
    """How a run behaves: backend, incremental mode, lock, drift, limits."""

    backend: Annotated[Literal[BACKENDS], STRIP] = Field("auto", description="auto | cpu | gpu.")
    only: Annotated[Literal["all", "score", "predict"], STRIP] = Field("all", description="all | score | predict.")
    since: Annotated[str, checked_text(parse_since),
                     Form("'last', a number or an ISO date (2024-01-31T00:00:00)")] = Field(
        "", description="Incremental: 'last' or a timestamp; empty = full run.")
    full_every: Int = Field(0, ge=0, description="Force a full run after N-1 incremental runs (0 = never).")
    max_runtime: Duration = Field(0.0, description="Stop cleanly after this long (e.g. 45m; 0 = no limit).")
    wait: Flag = Field(False, description="Wait for a lock held by another sync instead of exiting with code 10.")
    wait_timeout: Duration = Field(3600.0, description="Longest wait for the lock with --wait (e.g. 1h).")
    lock_ttl: Annotated[Duration, Form("a duration in 10s..1d")] = Field(
        120.0, ge=10, le=86400, description="Seconds without heartbeat after which a lock counts as abandoned (10..86400).")
    drift_threshold: Annotated[float, empty_is(0.0)] = Field(
        0.0, ge=0, le=1, allow_inf_nan=False, description="Alert when mean TC^New / mean TC^Train falls below this (0 = off).")
    drift_action: Annotated[Literal["warn", "fail"], STRIP] = Field("warn", description="warn | fail (exit code 11).")
    keep_runs: Int = Field(0, ge=0, description="After a successful run, keep only the N newest ledger entries (0 = all).")


class ComputeSettings(_Section):
    """Where the heavy work runs; never changes what is written (not part of ``params_hash``)."""

    scheduler: Annotated[str, checked_text(lambda text: text and parse_scheduler(text)),
                         Form("'', local, local:N or a scheduler address such as tcp://host:8786")] = Field("", description=(
        "Dask scheduler for TC, ATC and pair TC: an address, local or local:N (empty: this process)."))
    model_cache: Flag = Field(True, description=(
        "Reuse a link predictor trained on exactly the same split, features and settings (CPU only)."))


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
    compute: ComputeSettings = Field(default_factory=ComputeSettings)
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
        d.pop("compute")  # where it runs, not what it writes
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


_FORMS = {(section, name): form_of(info) for section, model in _SECTIONS.items() for name, info in model.model_fields.items()}


# --------------------------------------------------------------------------- loading
#: One setting from one source: ``(section, key, value, origin)``; ``origin`` names it in errors.
_Setting = tuple[str, str, Any, str]


def _unknown(origin: str, name: str, known: list[str]) -> InputError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(known)
    return InputError(f"{origin}: unknown setting {name!r}", hint=hint)


def _file_settings(path: Path) -> list[_Setting]:
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


def _env_settings(environ: Mapping[str, str]) -> list[_Setting]:
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


def _override_settings(overrides: Mapping[str, Any]) -> list[_Setting]:
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


def _validate(base: dict[str, Any], settings: list[_Setting], *, source: str) -> SyncConfig:
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
    if cfg.compute.scheduler and run.backend == "gpu":
        raise InputError(f"{origins.get(('compute', 'scheduler'), 'compute.scheduler')} runs the CPU kernels on Dask "
                         "workers; it does not combine with run.backend gpu")
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
