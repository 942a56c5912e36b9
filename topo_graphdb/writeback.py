"""Neo4j out: write results back as node properties and predicted links, safely and idempotently.

Three writers, all batched ``UNWIND`` write transactions:

* :func:`write_node_properties` sets one property per column (``topo_<name>``
  by default) plus ``topo_run_id`` and ``topo_updated_at`` on each node.
  A missing value (NaN or None) *removes* the property instead of writing 0.
* :func:`write_predicted_links` writes
  ``(a)-[:PREDICTED_LINK {score, rank, model, run_id, created_at}]->(b)`` and
  the node lists ``topo_predicted`` / ``topo_predicted_scores`` on ``a``.
* :func:`cleanup_predicted_links` removes links (and node lists) of earlier
  runs that a run did not replace.

Node identity
-------------
Results are matched to nodes by the identity the export used:

* **Key property** (``key_property``, recommended): the node is matched on
  ``(n:Label {key: value})``. This is exact as long as the key is unique
  (create a uniqueness constraint), survives restarts, dumps and reloads,
  and uses the constraint's index.
* **Element id** (no key property): the node is matched with
  ``elementId(n) = id AND n:Label``. Element ids are only guaranteed within
  one transaction, and Neo4j reuses the ids of deleted nodes. Between the
  export and the write a node may be deleted and its id given to a new node:
  the label check stops a write to a node of another kind, but a new node
  *with the same label* would receive the old node's values. Nodes that no
  longer match are not written; the report counts them and shows a few ids.
  Use element ids only for short export-to-write windows on databases that
  are not deleting nodes meanwhile; otherwise pass a key property. With no
  label at all (a projection export) only the element id is checked.

Idempotency and failures
------------------------
Every batch is a complete, idempotent statement: ``SET`` of given values,
``MERGE`` of links on their two end nodes (so a re-run never duplicates a
link) and deletion of what the run replaces. Re-running the same write after
a crash (of this process or of the server) leaves the same final state as an
uninterrupted run, apart from run ids and timestamps. Transient errors are
retried by the driver; when the server goes away between or during batches
(a restart), a new session retries the batch until ``reconnect_timeout``
seconds have passed. An unknown commit outcome is simply retried, which is
safe because batches are idempotent.

Runs and replacement
--------------------
Each write carries a ``run_id``. With ``replace_previous=True`` (default), each
batch replaces, in the same transaction, the outgoing ``PREDICTED_LINK``
relationships of its source nodes: links to nodes this run does not predict
are deleted (whatever run wrote them), links to nodes it predicts again are
taken over (updated in place: new score, rank, model, run id, timestamp) and
the others are created. So after the batch a source node holds exactly this
run's predictions, never a mix: the later run wins and the earlier run's
links of that node are gone. Source nodes that a run does not cover keep
their earlier links until :func:`cleanup_predicted_links` is called with
``keep_run_id``. Node properties follow the same rule: the later write's
values win; properties it does not name are left alone.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ._cypher import quote_identifier, render
from .connection import ConnectionSettings, open_driver, translate_errors
from .connector import PREDICTED_LINK, GraphSpec, check_names
from .edgefile import read_node_values, read_scored_links
from .errors import InputError, Neo4jUnavailable
from .ledger import LEDGER_LABEL, LOCK_LABEL, new_run_id
from .snapshot import GraphSnapshot

__all__ = [
    "PREDICTED_LINK",
    "LEDGER_LABEL",
    "LOCK_LABEL",
    "NodeIdentity",
    "WriteReport",
    "new_run_id",
    "write_node_properties",
    "write_predicted_links",
    "cleanup_predicted_links",
    "write_from_csv",
]

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

_MAX_BATCH = 100_000
_MAX_WORKERS = 16
_SAMPLE_IDS = 5


# --------------------------------------------------------------------------- identity
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


def _identity(
    target: Any, spec: GraphSpec | None, labels: str | Sequence[str] | None, key_property: str | None
) -> NodeIdentity:
    """Explicit arguments, then the spec, then the snapshot's ``meta["identity"]``."""
    meta_ident = target.meta.get("identity", {}) if isinstance(target, GraphSnapshot) else {}
    if labels is None:
        labels = spec.labels if spec is not None else tuple(meta_ident.get("labels") or ())
    if key_property is None:
        key_property = spec.key_property if spec is not None else meta_ident.get("key_property")
    return NodeIdentity(tuple([labels] if isinstance(labels, str) else labels), key_property)


def _ids(target: Any) -> list[Any]:
    ids = target.node_ids if isinstance(target, GraphSnapshot) else target
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise InputError(f"node ids must be one-dimensional; got shape {arr.shape}")
    out = arr.tolist()
    for v in out[:1]:
        if not isinstance(v, (int, str)) or isinstance(v, bool):
            raise InputError(f"node ids must be integers or strings; got {type(v).__name__}")
    return out


# --------------------------------------------------------------------------- report
@dataclass
class WriteReport:
    """What a write did (or, with ``dry_run``, would do)."""

    kind: str
    run_id: str
    dry_run: bool
    identity: dict[str, Any]
    properties: list[str]
    rows: int = 0
    matched: int = 0
    missing: int = 0
    missing_sample: list[Any] = field(default_factory=list)
    removed: int = 0
    relationships: int = 0
    missing_targets: int = 0
    deleted: int = 0
    batches: int = 0
    retries: int = 0
    seconds: float = 0.0
    sample: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else math.nan

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["seconds"] = round(self.seconds, 4)
        return d

    def summary(self) -> str:
        """One paragraph for people."""
        verb = "would write" if self.dry_run else "wrote"
        if self.kind == "node_properties":
            text = f"{verb} {', '.join(self.properties)} on {self.matched:,} of {self.rows:,} nodes"
            if self.removed:
                text += f" ({self.removed:,} missing values remove the property)"
        elif self.kind == "predicted_links":
            text = f"{verb} {self.relationships:,} predicted links from {self.matched:,} of {self.rows:,} source nodes"
            if self.deleted:
                text += f"; deleted {self.deleted:,} links no longer predicted"
            if self.missing_targets:
                text += f"; {self.missing_targets:,} target nodes not found"
        else:
            text = f"{'would delete' if self.dry_run else 'deleted'} {self.deleted:,} links and cleared {self.matched:,} node lists"
        if self.missing:
            text += f"; {self.missing:,} nodes no longer match (e.g. {', '.join(map(str, self.missing_sample))})"
        text += f" [run {self.run_id}, {self.batches} batches, {self.seconds:.1f} s]"
        return text


# --------------------------------------------------------------------------- running batches
class RatePacer:
    """Holds a stream of batches to at most ``rate`` rows per second.

    Call :meth:`wait` before each batch: batch ``k`` starts no earlier than
    ``(rows of batches 0..k-1) / rate`` seconds after batch 0 started. So the rows
    sent per second since the start never exceed ``rate`` when a batch starts, no
    pause follows the last batch, and after a slow batch the next ones start at
    once until the average is back at ``rate``. With ``rate=None`` it never waits.
    ``clock`` and ``sleep`` can be replaced (tests).
    """

    def __init__(self, rate: float | None, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._start: float | None = None
        self.rows = 0  # rows of the batches started so far
        self.waited = 0.0  # seconds slept so far

    def wait(self, rows: int) -> float:
        """Sleep until a batch of ``rows`` rows may start; returns the seconds slept."""
        now = self._clock()
        if self._start is None:
            self._start = now
        pause = self.rows / self.rate - (now - self._start) if self.rate else 0.0
        self.rows += rows
        if pause <= 0:
            return 0.0
        self._sleep(pause)
        self.waited += pause
        return pause


class _Writer:
    """Runs idempotent batches; survives a server restart (new session, retry the batch).

    With ``workers > 1`` that many batches run at once, each in its own session
    (batches touch disjoint nodes, so they do not wait on each other's locks):
    the client packs the next batch while the server executes the last one.
    """

    def __init__(self, conn: ConnectionSettings, *, reconnect_timeout: float, rate_limit: float | None, workers: int = 1):
        self.conn = conn
        self.reconnect_timeout = reconnect_timeout
        self.rate_limit = rate_limit
        self.workers = workers
        self.retries = 0
        self._lock = threading.Lock()
        self.driver = open_driver(conn)

    def close(self) -> None:
        self.driver.close()

    def write(self, query: str, params: dict[str, Any]) -> dict[str, Any]:
        """One batch in one write transaction, retried while the server is away."""
        from neo4j.exceptions import ServiceUnavailable, SessionExpired, TransientError  # noqa: PLC0415

        def work(tx: Any) -> dict[str, Any]:
            return tx.run(query, params).single(strict=True).data()

        deadline = None
        pause = 0.5
        while True:
            try:
                with self.driver.session(database=self.conn.database) as session:
                    return session.execute_write(work)
            except (ServiceUnavailable, SessionExpired, TransientError) as err:
                # IncompleteCommit is a ServiceUnavailable: retrying is safe since batches are idempotent.
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + self.reconnect_timeout
                if now >= deadline:
                    raise Neo4jUnavailable(
                        f"lost Neo4j at {self.conn.describe()} and it did not come back within "
                        f"{self.reconnect_timeout:g} s ({type(err).__name__})",
                        hint="re-run the same write when the server is back: writes are idempotent",
                    ) from err
                with self._lock:
                    self.retries += 1
                log.warning("batch failed (%s); retrying in %.1f s", type(err).__name__, pause)
                time.sleep(min(pause, max(0.0, deadline - now)))
                pause = min(pause * 2, 5.0)

    def write_all(
        self, query: str, jobs: Iterable[tuple[dict[str, Any], int]], on_done: Callable[[dict[str, Any], int], None]
    ) -> None:
        """Run ``jobs`` (``(params, rows)`` per batch); ``on_done(result, rows)`` for each, in this thread.

        The rate limit holds back submission (:class:`RatePacer`). On an error
        no new batch starts; those already running finish (each is a whole
        transaction) and the error is raised.
        """
        pacer = RatePacer(self.rate_limit)
        if self.workers <= 1:
            for params, rows in jobs:
                pacer.wait(rows)
                on_done(self.write(query, params), rows)
            return
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="topo-write") as pool:
            running: dict[Future, int] = {}  # batches in flight -> their rows
            try:
                for params, rows in jobs:
                    if len(running) >= self.workers:
                        finished, _ = wait(running, return_when=FIRST_COMPLETED)
                        for f in finished:
                            on_done(f.result(), running.pop(f))
                    pacer.wait(rows)
                    running[pool.submit(self.write, query, params)] = rows
                for f in as_completed(list(running)):
                    on_done(f.result(), running.pop(f))
            except BaseException:
                for f in running:
                    f.cancel()
                raise

    def read(self, query: str, params: dict[str, Any]) -> dict[str, Any]:
        import neo4j  # noqa: PLC0415

        with self.driver.session(database=self.conn.database, default_access_mode=neo4j.READ_ACCESS) as session:
            return session.execute_read(lambda tx: tx.run(query, params).single(strict=True).data())


def _check_batch(batch_size: int, rate_limit: float | None, reconnect_timeout: float) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= _MAX_BATCH:
        raise InputError(f"batch_size must be an integer in 1..{_MAX_BATCH}; got {batch_size!r}")
    if rate_limit is not None and not (isinstance(rate_limit, (int, float)) and rate_limit > 0 and math.isfinite(rate_limit)):
        raise InputError(f"rate_limit must be a positive number of rows per second (or None); got {rate_limit!r}")
    if not (isinstance(reconnect_timeout, (int, float)) and reconnect_timeout >= 0):
        raise InputError(f"reconnect_timeout must be >= 0 seconds; got {reconnect_timeout!r}")


def _check_workers(workers: int) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= _MAX_WORKERS:
        raise InputError(f"workers must be an integer in 1..{_MAX_WORKERS}; got {workers!r}")


def _check_run_id(run_id: str | None) -> str:
    if run_id is None:
        return new_run_id()
    if not isinstance(run_id, str) or not run_id.strip() or len(run_id) > 200:
        raise InputError(f"run_id must be a non-empty string of at most 200 characters; got {run_id!r}")
    return run_id


def _names(prefix: str, identity: NodeIdentity) -> dict[str, str]:
    if not isinstance(prefix, str):
        raise InputError(f"prefix must be a string; got {prefix!r}")
    names = {
        "run_id": prefix + "run_id",
        "updated_at": prefix + "updated_at",
        "predicted": prefix + "predicted",
        "predicted_scores": prefix + "predicted_scores",
    }
    for name in names.values():
        quote_identifier(name, what="property name")
    if identity.key_property in names.values():
        raise InputError(f"prefix {prefix!r} would overwrite the key property {identity.key_property!r}")
    return names


def _batches(n: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(n, start + size)


# --------------------------------------------------------------------------- node properties
def _column_values(name: str, values: Any, n: int) -> tuple[list[Any], int]:
    """A column as Python values (NaN/None -> None) and the number of missing values."""
    arr = np.asarray(values)
    if arr.shape[:1] != (n,) or arr.ndim > 2:
        raise InputError(f"column {name!r} must have shape ({n},) or ({n}, d); got {arr.shape}")
    if arr.dtype.kind in "fc":
        if arr.dtype.kind == "c":
            raise InputError(f"column {name!r} is complex; write real numbers")
        miss = np.isnan(arr) if arr.ndim == 1 else np.isnan(arr).all(axis=1)
        out = arr.tolist()
        for i in np.flatnonzero(miss):
            out[i] = None
        return out, int(miss.sum())
    if arr.dtype.kind in "iub":
        return arr.tolist(), 0
    if arr.dtype.kind in "OUS":
        out = []
        missing = 0
        for v in arr.tolist():
            if v is None or (isinstance(v, float) and math.isnan(v)):
                out.append(None)
                missing += 1
            elif isinstance(v, np.generic):
                out.append(v.item())
            else:
                out.append(v)
        return out, missing
    raise InputError(f"column {name!r} has unsupported dtype {arr.dtype}; use numbers, booleans or strings")


def write_node_properties(
    conn: ConnectionSettings,
    target: GraphSnapshot | Sequence[Any] | np.ndarray,
    columns: Mapping[str, Any],
    *,
    spec: GraphSpec | None = None,
    labels: str | Sequence[str] | None = None,
    key_property: str | None = None,
    prefix: str = "topo_",
    run_id: str | None = None,
    batch_size: int = 10_000,
    rate_limit: float | None = None,
    dry_run: bool = False,
    reconnect_timeout: float = 300.0,
    progress: Progress | None = None,
    workers: int = 2,
) -> WriteReport:
    """Write ``columns`` as node properties ``prefix + name`` on the nodes ``target`` names.

    Parameters
    ----------
    conn : connection settings.
    target : a :class:`GraphSnapshot` (its ``node_ids`` and ``meta["identity"]``)
        or a sequence of node ids (key values or element ids).
    columns : ``{name: array}``; each array has shape (n,) or (n, d) (a list
        property per node). Numbers, booleans and strings are written as they
        are; NaN or None *removes* the property.
    spec, labels, key_property : how ids find nodes (see the module docstring);
        explicit arguments win over ``spec``, which wins over the snapshot's meta.
    prefix : prepended to every property name written (default ``topo_``).
    run_id : stored as ``<prefix>run_id`` (default: a fresh id); a timestamp is
        stored as ``<prefix>updated_at``.
    batch_size : nodes per write transaction (1..100,000; 10,000 stays well
        under the server's transaction memory limit).
    rate_limit : at most this many rows per second (None: as fast as possible).
    dry_run : report what would be written (counts, names, one sample row,
        how many ids match) and write nothing.
    reconnect_timeout : seconds to keep retrying a batch while the server is away.
    progress : callback ``(phase, done, total)`` with phase ``"write"``.
    workers : batches written at once (1..16), each in its own transaction on
        disjoint nodes; 2 keeps the server busy while the client packs the next batch.

    Returns
    -------
    WriteReport
        ``rows`` sent, ``matched`` nodes, ``missing`` (ids that no longer
        match, with ``missing_sample``), ``removed`` (missing values), batches,
        retries and seconds.
    """
    _check_batch(batch_size, rate_limit, reconnect_timeout)
    _check_workers(workers)
    run_id = _check_run_id(run_id)
    identity = _identity(target, spec, labels, key_property)
    names = _names(prefix, identity)
    ids = _ids(target)
    n = len(ids)
    if not isinstance(columns, Mapping) or not columns:
        raise InputError("columns must be a non-empty mapping {name: array}")
    props: list[str] = []
    values: list[list[Any]] = []
    removed = 0
    for name, col in columns.items():
        if not isinstance(name, str) or not name:
            raise InputError(f"column names must be non-empty strings; got {name!r}")
        full = prefix + name
        quote_identifier(full, what="property name")
        if full in names.values() or full == identity.key_property:
            raise InputError(f"column {name!r} would overwrite the reserved property {full!r}")
        vals, miss = _column_values(name, col, n)
        props.append(full)
        values.append(vals)
        removed += miss
    if len(set(props)) != len(props):
        raise InputError(f"column names repeat: {props}")
    # one map update (``+=``; a null value removes the key) is cheaper than one SET per property
    assignments = "n += {" + ", ".join(
        [f"{quote_identifier(p, what='property name')}: row[{i + 1}]" for i, p in enumerate(props)]
        + [f"{quote_identifier(names['run_id'])}: $run_id", f"{quote_identifier(names['updated_at'])}: $now"]
    ) + "}"
    rows = [list(r) for r in zip(ids, *values)] if n else []
    report = WriteReport(
        kind="node_properties",
        run_id=run_id,
        dry_run=dry_run,
        identity=identity.describe(),
        properties=props + [names["run_id"], names["updated_at"]],
        rows=n,
        removed=removed,
        sample=({"id": rows[0][0], **{p: v for p, v in zip(props, rows[0][1:])}} if rows else None),
    )
    if not identity.labels:
        report.notes.append("no label guard: nodes are matched by element id only")
    now = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    writer = _Writer(conn, reconnect_timeout=reconnect_timeout, rate_limit=rate_limit, workers=workers)
    try:
        with translate_errors(conn):
            if dry_run:
                text = render("write_match_nodes", match_node=identity.match("n", "id"))
                for start, stop in _batches(n, batch_size):
                    out = writer.read(text, {"ids": ids[start:stop], "sample_size": _SAMPLE_IDS})
                    _add_missing(report, out)
                    report.batches += 1
            else:
                text = render("write_node_properties", match_node=identity.match("n", "row[0]"), assignments=assignments)
                done = 0

                def on_done(out: dict[str, Any], count: int) -> None:
                    nonlocal done
                    _add_missing(report, out)
                    report.batches += 1
                    done += count
                    if progress:
                        progress("write", done, n)

                jobs = (
                    ({"rows": rows[start:stop], "run_id": run_id, "now": now, "sample_size": _SAMPLE_IDS}, stop - start)
                    for start, stop in _batches(n, batch_size)
                )
                writer.write_all(text, jobs, on_done)
    finally:
        writer.close()
        report.retries = writer.retries
        report.seconds = time.perf_counter() - t0
    report.matched = n - report.missing
    return report


def _add_missing(report: WriteReport, out: dict[str, Any]) -> None:
    report.missing += int(out["missing"])
    room = _SAMPLE_IDS - len(report.missing_sample)
    if room > 0:
        report.missing_sample.extend(out["missing_sample"][:room])


# --------------------------------------------------------------------------- predicted links
def _sorted_distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort-based; faster than ``np.unique`` on large int arrays here)."""
    v = np.sort(values)
    return v[np.concatenate([[True], v[1:] != v[:-1]])] if v.size else v


def _rank_links(
    n: int, src: np.ndarray, dst: np.ndarray, scores: np.ndarray, top_k: int | None, min_score: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Per source: drop self-links and repeated pairs (best score kept), filter, sort by score, cut top_k.

    Returns (sources, src, dst, scores, pos) with src sorted and score descending
    per source, ``sources`` being every distinct valid source of the input (its
    links are replaced even when none survive the filters), ``pos`` the input
    position of each kept link, plus counts.
    """
    stats = {"input": int(src.size)}
    ok = np.isfinite(scores)
    stats["non_finite_scores"] = int((~ok).sum())
    sources = _sorted_distinct(src[ok])
    loops = src == dst
    stats["self_links"] = int((loops & ok).sum())
    ok &= ~loops
    if min_score is not None:
        below = ok & (scores < min_score)
        stats["below_min_score"] = int(below.sum())
        ok &= ~below
    pos = np.flatnonzero(ok)
    s, d, sc = src[ok], dst[ok], scores[ok]
    order = np.lexsort((d, -sc, s))
    s, d, sc, pos = s[order], d[order], sc[order], pos[order]
    # sorted by (s, -score, d): the first row of each (s, d) pair has its best score
    keys = s * np.int64(n) + d
    order2 = np.argsort(keys, kind="stable")
    ks = keys[order2]
    first = order2[np.concatenate([[True], ks[1:] != ks[:-1]])] if ks.size else order2
    keep = np.zeros(s.size, bool)
    keep[first] = True
    stats["repeated_pairs"] = int(s.size - keep.sum())
    s, d, sc, pos = s[keep], d[keep], sc[keep], pos[keep]
    if top_k is not None and s.size:
        starts = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]]))
        group_start = np.repeat(starts, np.diff(np.append(starts, s.size)))
        rank = np.arange(s.size) - group_start
        cut = rank < top_k
        stats["beyond_top_k"] = int((~cut).sum())
        s, d, sc, pos = s[cut], d[cut], sc[cut], pos[cut]
    return sources, s, d, sc, pos, stats


def _link_columns(link_properties: dict[str, Any] | None, m: int) -> dict[str, np.ndarray]:
    """Validated extra link columns: property names checked, float arrays of length ``m``."""
    out: dict[str, np.ndarray] = {}
    for name, values in (link_properties or {}).items():
        quote_identifier(name, what="property name")
        if name in ("score", "rank", "model", "run_id", "created_at"):
            raise InputError(f"link property {name!r} is written by the tool itself; choose another name")
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape != (m,):
            raise InputError(f"link property {name!r} must have one value per link ({m}); got shape {arr.shape}")
        out[name] = arr
    return out


def _link_maps(extra: dict[str, np.ndarray], pos: np.ndarray) -> list[dict[str, float | None]]:
    """One property map per kept link (NaN -> None, i.e. no property)."""
    if not extra:
        return [{}] * pos.size
    cols = {name: [None if math.isnan(v) else v for v in arr[pos].tolist()] for name, arr in extra.items()}
    return [dict(zip(cols, values)) for values in zip(*cols.values())]


def write_predicted_links(
    conn: ConnectionSettings,
    node_ids: GraphSnapshot | Sequence[Any] | np.ndarray,
    src_idx: Any,
    dst_idx: Any,
    scores: Any,
    *,
    model: str,
    run_id: str | None = None,
    rel_type: str = PREDICTED_LINK,
    top_k: int | None = None,
    min_score: float | None = None,
    replace_previous: bool = True,
    spec: GraphSpec | None = None,
    labels: str | Sequence[str] | None = None,
    key_property: str | None = None,
    prefix: str = "topo_",
    node_lists: bool = True,
    batch_size: int = 10_000,
    rate_limit: float | None = None,
    dry_run: bool = False,
    reconnect_timeout: float = 300.0,
    progress: Progress | None = None,
    workers: int = 1,
    link_properties: dict[str, Any] | None = None,
) -> WriteReport:
    """Write predicted links ``(a)-[:PREDICTED_LINK {score, rank, model, run_id, created_at}]->(b)``.

    Parameters
    ----------
    conn : connection settings.
    node_ids : a :class:`GraphSnapshot` or the node id array that ``src_idx``
        and ``dst_idx`` index into.
    src_idx, dst_idx : int arrays of shape (m,): dense indices of the pairs.
    scores : float array (m,); higher is more likely. Non-finite scores and
        self-links are dropped; a pair given twice keeps its best score.
    model : model name stored on each link.
    run_id : run id (default: a fresh one).
    rel_type : relationship type (default ``PREDICTED_LINK``).
    top_k : keep at most this many links per source node (best first).
    min_score : drop links scoring below this.
    replace_previous : per batch and in the same transaction, delete the
        source nodes' links of this type to nodes this run does not predict
        and take over the others, so that each source holds exactly this
        run's links; see the module docstring.
    spec, labels, key_property : node identity (see :func:`write_node_properties`).
    prefix : prefix of the node list properties ``predicted``,
        ``predicted_scores`` (ids of the predicted nodes, best first, and
        their scores), ``run_id`` and ``updated_at``.
    node_lists : write those node list properties (default True).
    batch_size : links per write transaction (all links of one source node
        stay in one batch).
    rate_limit, dry_run, reconnect_timeout, progress : as in
        :func:`write_node_properties`; the rate counts links.
    workers : batches written at once (default 1). Creating a relationship
        locks both end nodes, so concurrent batches sharing targets wait on
        each other (a detected deadlock is retried); more than 1 pays off only
        when the batches' targets rarely overlap.
    link_properties : dict of name -> float array (m,), optional
        More properties of each link, aligned with ``src_idx`` (e.g.
        ``probability``, ``tc``); NaN is written as no property.

    Returns
    -------
    WriteReport
        ``rows`` = source nodes, ``matched`` = those found, ``relationships``
        written, ``deleted`` (links removed), ``missing_targets``.
    """
    _check_batch(batch_size, rate_limit, reconnect_timeout)
    _check_workers(workers)
    run_id = _check_run_id(run_id)
    if not isinstance(model, str) or not model.strip():
        raise InputError(f"model must be a non-empty name; got {model!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise InputError(f"top_k must be a positive integer (or None); got {top_k!r}")
    if min_score is not None and not (isinstance(min_score, (int, float)) and math.isfinite(min_score)):
        raise InputError(f"min_score must be a finite number (or None); got {min_score!r}")
    identity = _identity(node_ids, spec, labels, key_property)
    names = _names(prefix, identity)
    ids = _ids(node_ids)
    n = len(ids)
    src = np.asarray(src_idx)
    dst = np.asarray(dst_idx)
    sc = np.asarray(scores, dtype=np.float64)
    if not (src.shape == dst.shape == sc.shape) or src.ndim != 1:
        raise InputError(f"src_idx, dst_idx and scores must be 1-D of one length; got {src.shape}, {dst.shape}, {sc.shape}")
    for name, arr in (("src_idx", src), ("dst_idx", dst)):
        if arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() >= n):
            raise InputError(f"{name} must hold integer indices in 0..{n - 1}; got dtype {arr.dtype}, range {arr.min()}..{arr.max()}")
    src = src.astype(np.int64)
    dst = dst.astype(np.int64)
    extra = _link_columns(link_properties, src.size)
    sources, s, d, scr, pos, stats = _rank_links(n, src, dst, sc, top_k, min_score)

    # one row per source node: [source id, [target ids], [scores], [{more properties}]]
    starts = np.searchsorted(s, sources, side="left")
    stops = np.searchsorted(s, sources, side="right")
    d_ids = [ids[j] for j in d.tolist()]
    scr_list = scr.tolist()
    more = _link_maps(extra, pos)
    rows = [[ids[a], d_ids[b:e], scr_list[b:e], more[b:e]] for a, b, e in zip(sources.tolist(), starts.tolist(), stops.tolist())]
    report = WriteReport(
        kind="predicted_links",
        run_id=run_id,
        dry_run=dry_run,
        identity=identity.describe(),
        properties=(["score", "rank", "model", "run_id", "created_at", *extra] + ([names["predicted"], names["predicted_scores"]] if node_lists else [])),
        rows=len(rows),
        relationships=0,
        sample=({"source": rows[0][0], "targets": rows[0][1][:3], "scores": rows[0][2][:3], "rel_type": rel_type} if rows else None),
        notes=[f"{k}: {v}" for k, v in stats.items() if v and k != "input"],
    )
    if not identity.labels:
        report.notes.append("no label guard: nodes are matched by element id only")
    rt = quote_identifier(rel_type, what="relationship type")
    node_sets = "a += {" + (
        f"{quote_identifier(names['predicted'])}: CASE WHEN size(got) = 0 THEN null ELSE got END, "
        f"{quote_identifier(names['predicted_scores'])}: CASE WHEN size(got) = 0 THEN null ELSE got_scores END, "
        f"{quote_identifier(names['run_id'])}: $run_id, {quote_identifier(names['updated_at'])}: $now"
        if node_lists
        else f"{quote_identifier(names['run_id'])}: $run_id, {quote_identifier(names['updated_at'])}: $now"
    ) + "}"
    # batches: consecutive source rows holding at most batch_size links (at least one row)
    bounds = []
    start, acc = 0, 0
    for i, row in enumerate(rows):
        k = max(1, len(row[1]))
        if acc and acc + k > batch_size:
            bounds.append((start, i))
            start, acc = i, 0
        acc += k
    if start < len(rows):
        bounds.append((start, len(rows)))
    total_links = int(s.size)
    now = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    writer = _Writer(conn, reconnect_timeout=reconnect_timeout, rate_limit=rate_limit, workers=workers)
    try:
        with translate_errors(conn):
            if dry_run:
                text = render("write_match_nodes", match_node=identity.match("n", "id"))
                for b, e in bounds:
                    out = writer.read(text, {"ids": [r[0] for r in rows[b:e]], "sample_size": _SAMPLE_IDS})
                    _add_missing(report, out)
                    report.batches += 1
                report.relationships = total_links
            else:
                text = render(
                    "write_predicted_links",
                    match_source=identity.match("a", "row[0]"),
                    match_target=identity.match("b", "row[1][i]"),
                    target_id=identity.id_of("x"),
                    rel_type=rt,
                    node_sets=node_sets,
                )
                done = 0

                def on_done(out: dict[str, Any], links: int) -> None:
                    nonlocal done
                    _add_missing(report, out)
                    report.relationships += int(out["written"])
                    report.deleted += int(out["deleted"])
                    report.missing_targets += int(out["missing_targets"])
                    report.batches += 1
                    done += links
                    if progress:
                        progress("links", done, total_links)

                common = {"run_id": run_id, "model": model, "now": now, "replace": bool(replace_previous),
                          "sample_size": _SAMPLE_IDS}
                jobs = (({"rows": rows[b:e], **common}, sum(len(r[1]) for r in rows[b:e])) for b, e in bounds)
                writer.write_all(text, jobs, on_done)
    finally:
        writer.close()
        report.retries = writer.retries
        report.seconds = time.perf_counter() - t0
    report.matched = len(rows) - report.missing
    return report


def cleanup_predicted_links(
    conn: ConnectionSettings,
    *,
    keep_run_id: str,
    rel_type: str = PREDICTED_LINK,
    model: str | None = None,
    prefix: str = "topo_",
    batch_size: int = 10_000,
    dry_run: bool = False,
) -> WriteReport:
    """Delete ``rel_type`` links whose ``run_id`` is not ``keep_run_id`` (optionally only of ``model``),
    and clear the node lists ``<prefix>predicted[_scores]`` of nodes left without a link of that run.

    Runs as ``CALL {...} IN TRANSACTIONS`` (batches of ``batch_size``); an
    interrupted cleanup is finished by running it again.
    """
    _check_batch(batch_size, None, 0)
    if not isinstance(keep_run_id, str) or not keep_run_id:
        raise InputError(f"keep_run_id must be a non-empty run id; got {keep_run_id!r}")
    names = _names(prefix, NodeIdentity())
    q = {
        "rel_type": quote_identifier(rel_type, what="relationship type"),
        "predicted": quote_identifier(names["predicted"]),
        "predicted_scores": quote_identifier(names["predicted_scores"]),
    }
    params = {"keep": keep_run_id, "model": model, "batch": batch_size}
    report = WriteReport(
        kind="cleanup", run_id=keep_run_id, dry_run=dry_run, identity={}, properties=[names["predicted"], names["predicted_scores"]]
    )
    t0 = time.perf_counter()
    driver = open_driver(conn)
    try:
        with translate_errors(conn), driver.session(database=conn.database) as session:
            if dry_run:
                rec = session.run(render("write_cleanup_count", **q), params).single(strict=True)
                report.deleted, report.matched = int(rec["links"]), int(rec["nodes"])
            else:
                rec = session.run(render("write_cleanup_links", **q), params).single(strict=True)
                report.deleted = int(rec["deleted"] or 0)
                rec = session.run(render("write_cleanup_lists", **q), params).single(strict=True)
                report.matched = int(rec["cleared"] or 0)
            report.batches = 1
    finally:
        driver.close()
        report.seconds = time.perf_counter() - t0
    return report


# --------------------------------------------------------------------------- CSV input (the CLI)
def write_from_csv(
    conn: ConnectionSettings,
    *,
    nodes_csv: Any = None,
    id_column: str = "node",
    links_csv: Any = None,
    model: str | None = None,
    rel_type: str = PREDICTED_LINK,
    top_k: int | None = None,
    min_score: float | None = None,
    replace_previous: bool = True,
    labels: str | Sequence[str] | None = None,
    key_property: str | None = None,
    snapshot: Any = None,
    prefix: str = "topo_",
    run_id: str | None = None,
    batch_size: int = 10_000,
    rate_limit: float | None = None,
    reconnect_timeout: float = 300.0,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> list[WriteReport]:
    """Write node values (``nodes_csv``: ``id_column`` + one column per property) and/or predicted
    links (``links_csv``: ``src,dst,score`` node ids) with one run id; the CLI's ``write``.

    Ids are key values when ``key_property`` is given (integers when every id
    is one, text when none is; a mix is an error), else element ids; the files
    are read by :mod:`topo_graphdb.edgefile`. ``snapshot`` (an exported
    snapshot folder) supplies labels and key property not given explicitly.
    Labels and the key property must exist in the database
    (:class:`SchemaError`), and a file none of whose ids matches a node is an
    :class:`InputError` (a write that changed nothing).
    """
    import json  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    if nodes_csv is None and links_csv is None:
        raise InputError("nothing to write: give a node CSV (--from) and/or a links CSV (--links)")
    if links_csv is not None and not model:
        raise InputError("writing links needs a model name (--model)")
    if snapshot is not None:
        meta_path = Path(snapshot) / "meta.json"
        try:
            ident = json.loads(meta_path.read_text()).get("identity", {})
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read the snapshot's identity from {meta_path}: {err}") from err
        labels = labels if labels else tuple(ident.get("labels") or ())
        key_property = key_property or ident.get("key_property")
    run_id = _check_run_id(run_id)
    common = dict(
        labels=labels or (), key_property=key_property, prefix=prefix, run_id=run_id, batch_size=batch_size,
        rate_limit=rate_limit, dry_run=dry_run, reconnect_timeout=reconnect_timeout, progress=progress,
    )
    integer_keys = key_property is not None
    node_input = read_node_values(nodes_csv, id_column=id_column, integer_keys=integer_keys) if nodes_csv is not None else None
    link_input = read_scored_links(links_csv, integer_keys=integer_keys) if links_csv is not None else None
    if common["labels"] or key_property:
        check_names(conn, GraphSpec(labels=common["labels"], key_property=key_property))
    reports = []
    if node_input is not None:
        ids, columns = node_input
        reports.append(write_node_properties(conn, ids, columns, **common))
        _none_matched(reports[-1], nodes_csv, "ids")
    if link_input is not None:
        src, dst, scores = link_input
        node_ids, inverse = np.unique(np.concatenate([src, dst]), return_inverse=True)
        m = src.size
        reports.append(
            write_predicted_links(
                conn, node_ids, inverse[:m], inverse[m:], scores, model=model, rel_type=rel_type, top_k=top_k,
                min_score=min_score, replace_previous=replace_previous, **common,
            )
        )
        _none_matched(reports[-1], links_csv, "source ids")
    return reports


def _none_matched(report: WriteReport, path: Any, what: str) -> None:
    """A write from a file that found none of its nodes did nothing: an error, not a silent success."""
    if report.rows and report.matched == 0:
        ident = report.identity
        how = f"key {ident['key_property']!r}" if ident.get("key_property") else "element id"
        labels = ":".join(ident.get("labels") or []) or "any label"
        raise InputError(
            f"{'nothing would be written' if report.dry_run else 'nothing written'}: none of the {report.rows:,} "
            f"{what} in {path} matches a node ({labels}, by {how}; e.g. {', '.join(map(str, report.missing_sample))})",
            hint="check --label and --key-property (or the snapshot the ids came from)",
        )
