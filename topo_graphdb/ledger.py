"""The run ledger, the sync lock and retention, all kept in the user's database.

Ledger
------
Every sync is a ``(:TopoRun)`` node, created with ``status = 'running'``
before any work and completed at the end (``succeeded`` or ``failed`` with
``error``). Properties are scalars so Cypher can read them directly:
``run_id, scope, database, selection, mode (full | incremental), status,
started_at, finished_at, seconds, heartbeat_at, params (JSON), params_hash,
host, pid, phase, nodes, edges, relationships, watermark, beta, hops,
rescored``, the metrics (``tc_mean``, ``tc_defined``, ``atc_mean``,
``links_written``, ...), the drift monitor (``drift_*``), the per-phase times
(``seconds_<phase>``) and the versions (``version_<component>``: among them
``version_neo4j_server`` and ``version_neo4j_edition``, read from the server,
and ``version_neo4j_driver``, the Python driver's; see :func:`neo4j_versions`).
Ledgers written before these names had the driver's version in
``version_neo4j`` and ``version_server`` (``"Neo4j Kernel 5.26.0 community"``);
:func:`list_runs` and :func:`get_run` return them under the new names.

Lock
----
One ``(:TopoLock {scope})`` node per scope (database + selection), unique
by constraint so concurrent ``MERGE`` is race-free. A sync takes it in one
write transaction: it touches the node (which takes Neo4j's write lock on
it), reads it under that lock and decides. The lock is *free* when it has no
owner, *stale* when its holder stopped heart-beating for ``ttl`` seconds
(``expires_at`` in server milliseconds) or, on the same host, when the
holder's process no longer exists (pid and process start time are compared,
so a recycled pid does not count as alive); otherwise it is *held* and the
second sync gets :class:`~topo_graphdb.errors.LockHeld` (exit code 10), or
waits with ``wait=True``. While a sync runs, a daemon thread renews the lock
every ``ttl / 4`` seconds; when a renewal finds the lock taken over, the
holder stops before its next write (:meth:`SyncLock.check`). A run whose
holder died is marked ``failed`` by the next sync that takes the lock.

Retention
---------
:func:`clean` removes ledger nodes beyond the newest ``keep_runs`` per scope
and the predicted links of those runs, except runs whose output is still
current on some node; ``everything=True`` removes every node property,
relationship, node and constraint the tool wrote.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psutil

from ._cypher import load_query, quote_identifier
from .connection import ConnectionSettings
from .db import Database, connect
from .errors import InputError, LockHeld, TopoGraphError
from .progress import Message

__all__ = [
    "LEDGER_LABEL",
    "LOCK_LABEL",
    "new_run_id",
    "check_run_id",
    "ensure_ledger_schema",
    "Ledger",
    "SyncLock",
    "lock_state",
    "process_alive",
    "list_runs",
    "get_run",
    "CleanReport",
    "clean",
    "plain_value",
    "neo4j_versions",
]

log = logging.getLogger(__name__)

LEDGER_LABEL = "TopoRun"
LOCK_LABEL = "TopoLock"


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus 8 random hex digits (``20250131T020000Z-1a2b3c4d``)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


def check_run_id(run_id: str | None) -> str:
    """``run_id`` when it is a usable run id (a non-empty string of at most 200 characters), a new one for None."""
    if run_id is None:
        return new_run_id()
    if not isinstance(run_id, str) or not run_id.strip() or len(run_id) > 200:
        raise InputError(f"run_id must be a non-empty string of at most 200 characters; got {run_id!r}")
    return run_id


def plain_value(value: Any) -> Any:
    """Driver values as plain Python (temporal values as ISO-8601 text)."""
    if hasattr(value, "iso_format"):
        return value.iso_format()
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    return value


def to_properties(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten ``values`` into Neo4j-storable properties.

    Nested dicts become ``prefix_key`` entries; lists of scalars stay lists;
    anything else that Neo4j cannot store (lists of dicts, None inside lists)
    becomes JSON text. Non-finite floats are dropped (Neo4j stores NaN, but
    Cypher comparisons with it surprise users).

    >>> to_properties({"a": 1, "t": {"export": 1.5}, "n": float("nan"), "l": [{"x": 1}]})
    {'a': 1, 't_export': 1.5, 'l': '[{"x": 1}]'}
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(to_properties(value, prefix=f"{name}_"))
        elif isinstance(value, float) and not math.isfinite(value):
            continue
        elif value is None:
            continue
        elif isinstance(value, (list, tuple)):
            items = list(value)
            kinds = {type(v) for v in items}
            if items and (len(kinds) > 1 or not kinds <= {int, float, str, bool}):
                out[name] = json.dumps(items, default=str)
            else:
                out[name] = items
        elif hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalar
            v = value.item()
            if not (isinstance(v, float) and not math.isfinite(v)):
                out[name] = v
        else:
            out[name] = value
    return out


def neo4j_versions(db: Database) -> dict[str, str]:
    """The Neo4j versions of a run: ``neo4j_server``, ``neo4j_edition`` and ``neo4j_driver``.

    The server's come from ``dbms.components()`` (left out when the server does not answer
    it); the driver's is the installed ``neo4j`` package.
    """
    import neo4j  # noqa: PLC0415
    from neo4j import exceptions as ne  # noqa: PLC0415

    out = {"neo4j_driver": str(neo4j.__version__)}
    try:
        row = db.read(lambda tx: tx.run(load_query("server_version"), component="Neo4j Kernel").single())
    except (ne.Neo4jError, ne.DriverError, TopoGraphError) as err:  # versions are informative only
        log.warning("could not read the Neo4j server version: %s", " ".join(str(err).split())[:200])
        return out
    if row is not None:
        out["neo4j_server"] = str(row["version"])
        out["neo4j_edition"] = str(row["edition"])
    return out


def _current_names(run: dict[str, Any]) -> dict[str, Any]:
    """A ledger entry with the version names of older ledgers translated.

    >>> _current_names({"version_neo4j": "5.28.1", "version_server": "Neo4j Kernel 5.26.0 community"})
    {'version_neo4j_driver': '5.28.1', 'version_neo4j_server': '5.26.0', 'version_neo4j_edition': 'community'}
    """
    if not isinstance(run, dict) or ("version_neo4j" not in run and "version_server" not in run):
        return run
    run = dict(run)
    driver = run.pop("version_neo4j", None)
    if driver is not None:
        run.setdefault("version_neo4j_driver", driver)
    server = run.pop("version_server", None)
    if isinstance(server, str):
        words = server.split()
        if len(words) >= 2:
            run.setdefault("version_neo4j_server", words[-2])
            run.setdefault("version_neo4j_edition", words[-1])
    return run


# --------------------------------------------------------------------------- schema
def ensure_ledger_schema(db: Database) -> None:
    """Create the ledger's constraints and index (idempotent)."""
    for name in ("ledger_constraint_run", "ledger_constraint_lock", "ledger_index_scope"):
        db.run(load_query(name))


# --------------------------------------------------------------------------- ledger
class Ledger:
    """The ledger of one scope, in an open database.

    Parameters
    ----------
    db : the database (:class:`~topo_graphdb.db.Database`).
    scope : the lock scope (see :meth:`topo_graphdb.config.SyncConfig.scope`).
    """

    def __init__(self, db: Database, scope: str):
        self.db = db
        self.scope = scope

    def _write(self, name: str, **params: Any) -> list[dict[str, Any]]:
        query = load_query(name)

        def work(tx: Any) -> list[dict[str, Any]]:
            return [plain_value(dict(r)) for r in tx.run(query, **params)]

        return self.db.write(work)

    def _read(self, name: str, **params: Any) -> list[dict[str, Any]]:
        query = load_query(name)

        def work(tx: Any) -> list[dict[str, Any]]:
            return [plain_value(dict(r)) for r in tx.run(query, **params)]

        return self.db.read(work)

    def start(self, run_id: str, props: dict[str, Any]) -> str:
        """Create the run's ledger node (``running``); returns its ``started_at``."""
        rows = self._write("ledger_create_run", props={**to_properties(props), "run_id": run_id, "scope": self.scope})
        return rows[0]["started_at"]

    def update(self, run_id: str, props: dict[str, Any]) -> None:
        """Add or change properties of a run (and renew its heartbeat)."""
        self._write("ledger_update_run", run_id=run_id, props=to_properties(props))

    def finish(self, run_id: str, status: str, props: dict[str, Any]) -> None:
        """Complete a run with ``status`` ``succeeded`` or ``failed``."""
        if status not in ("succeeded", "failed"):
            raise InputError(f"status must be succeeded or failed; got {status!r}")
        self._write("ledger_finish_run", run_id=run_id, status=status, props=to_properties(props))

    def fail_stale(self, run_id: str, reason: str) -> list[str]:
        """Mark every other ``running`` run of this scope failed (call while holding the lock)."""
        rows = self._write("ledger_fail_stale_runs", scope=self.scope, run_id=run_id, error=reason)
        return [r["run_id"] for r in rows]

    def recent(self, *, limit: int = 100, exclude: str = "") -> list[dict[str, Any]]:
        """The newest runs of this scope (dicts), newest first."""
        rows = self._read("ledger_recent_runs", scope=self.scope, exclude=exclude, limit=int(limit))
        return [_current_names(r["run"]) for r in rows]


# --------------------------------------------------------------------------- lock
def process_alive(pid: int | None, started: float | None) -> bool:
    """Whether process ``pid`` (started at ``started``, epoch seconds) still runs on this host.

    A pid that now belongs to a process started at another time (a recycled
    pid) counts as not alive; a process we may not inspect counts as alive.
    """
    if not pid:
        return False

    try:
        proc = psutil.Process(int(pid))
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(proc.create_time() - float(started)) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def lock_state(
    lock: dict[str, Any] | None,
    now_ms: int,
    *,
    host: str,
    alive: Callable[[int | None, float | None], bool] = process_alive,
) -> tuple[str, str]:
    """Classify a lock node as ``("free" | "held" | "stale", reason)``.

    >>> lock_state(None, 0, host="a")
    ('free', 'no lock')
    >>> lock_state({"owner": "x", "expires_at": 10, "host": "b", "pid": 1}, 20, host="a")[0]
    'stale'
    >>> lock_state({"owner": "x", "expires_at": 30, "host": "b", "pid": 1}, 20, host="a")[0]
    'held'
    >>> lock_state({"owner": "x", "expires_at": 30, "host": "a", "pid": 1}, 20, host="a", alive=lambda p, s: False)[0]
    'stale'
    """
    if not lock or not lock.get("owner"):
        return "free", "no lock"
    who = f"run {lock.get('run_id')} (pid {lock.get('pid')} on {lock.get('host')})"
    expires = lock.get("expires_at")
    if expires is None or int(expires) < int(now_ms):
        silent = (int(now_ms) - int(lock.get("heartbeat_at") or 0)) / 1000.0
        return "stale", f"{who} stopped renewing its lock {silent:.0f} s ago"
    if lock.get("host") == host and not alive(lock.get("pid"), lock.get("pid_started")):
        return "stale", f"{who} is no longer running"
    return "held", f"{who} holds the lock"


@dataclass
class _Holder:
    owner: str
    run_id: str
    host: str
    pid: int
    pid_started: float | None

    def props(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _me(run_id: str) -> _Holder:
    started = None
    try:
        started = psutil.Process().create_time()
    except Exception:  # pragma: no cover
        pass
    return _Holder(owner=uuid.uuid4().hex, run_id=run_id, host=socket.gethostname(), pid=os.getpid(), pid_started=started)


class SyncLock:
    """The scope's lock, held for the duration of one sync (a context manager).

    Parameters
    ----------
    db, scope : where the lock lives (a :class:`~topo_graphdb.db.Database`) and its scope.
    run_id : the run that holds it (stored on the lock, for messages and recovery).
    ttl : seconds without renewal after which the lock counts as abandoned.
    """

    def __init__(self, db: Database, scope: str, *, run_id: str, ttl: float = 120.0):
        if not 1 <= ttl <= 86400:
            raise InputError(f"lock ttl must be in 1..86400 seconds; got {ttl!r}")
        self.db = db
        self.scope = scope
        self.ttl = float(ttl)
        self.me = _me(run_id)
        self.taken_over: dict[str, Any] | None = None
        self._held = False
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- acquire
    def _try(self) -> tuple[bool, str, dict[str, Any] | None]:
        touch, take = load_query("ledger_lock_touch"), load_query("ledger_lock_take")
        host = self.me.host

        def work(tx: Any) -> tuple[bool, str, dict[str, Any] | None]:
            row = tx.run(touch, scope=self.scope).single()
            lock, now = dict(row["lock"]), int(row["now"])
            state, reason = lock_state(lock, now, host=host)
            if state == "held" and lock.get("owner") != self.me.owner:
                return False, reason, lock
            tx.run(take, scope=self.scope, holder=self.me.props(), ttl_ms=int(self.ttl * 1000)).consume()
            return True, reason if state == "stale" else "", (lock if state == "stale" else None)

        return self.db.write(work)

    def acquire(self, *, wait: bool = False, timeout: float = 3600.0, poll: float = 2.0, on_wait: Message | None = None) -> SyncLock:
        """Take the lock, or raise :class:`LockHeld` (after ``timeout`` seconds with ``wait``).

        When the previous holder was stale, :attr:`taken_over` holds its lock
        properties (``run_id``, ``host``, ``pid``) and ``reason``.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        told = False
        while True:
            ok, reason, previous = self._try()
            if ok:
                break
            if not wait or time.monotonic() >= deadline:
                waited = f" after waiting {timeout:.0f} s" if wait else ""
                raise LockHeld(
                    f"another sync is running on this database and selection{waited}: {reason}",
                    hint="wait for it, pass --wait, or if its process is gone the lock expires after the lock TTL",
                )
            if on_wait and not told:
                on_wait(reason)
                told = True
            time.sleep(min(poll, max(0.05, deadline - time.monotonic())))
        self._held = True
        if previous is not None:
            self.taken_over = {**plain_value(previous), "reason": reason}
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name="topo-lock-heartbeat", daemon=True)
        self._thread.start()
        return self

    # -------------------------------------------------------------- heartbeat
    def _beat(self) -> None:
        query = load_query("ledger_lock_heartbeat")
        interval = max(0.5, self.ttl / 4.0)
        failures = 0
        while not self._stop.wait(interval):
            try:
                held = self.db.write(
                    lambda tx: tx.run(
                        query, scope=self.scope, owner=self.me.owner, run_id=self.me.run_id, ttl_ms=int(self.ttl * 1000)
                    ).single()["held"]
                )
                failures = 0
                if not held:
                    log.error("the sync lock of scope %s was taken over; this run stops before its next write", self.scope)
                    self._lost.set()
                    return
            except Exception as err:  # the server may be briefly unreachable: keep trying until the TTL passes
                failures += 1
                log.warning("lock heartbeat failed (%s: %s)", type(err).__name__, str(err).splitlines()[0] if str(err) else "")
                if failures * interval >= self.ttl:
                    self._lost.set()
                    return

    def check(self) -> None:
        """Raise :class:`LockHeld` if the lock was lost (call before each write phase)."""
        if self._lost.is_set():
            raise LockHeld(
                "this sync lost its lock (it was taken over after the TTL, or the server was unreachable)",
                hint="raise run.lock_ttl if the database is slow to answer",
            )

    # ----------------------------------------------------------------- release
    def release(self) -> bool:
        """Stop renewing and release the lock if still held; True when it was released."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if not self._held:
            return False
        self._held = False
        query = load_query("ledger_lock_release")
        try:
            return bool(self.db.write(lambda tx: tx.run(query, scope=self.scope, owner=self.me.owner).single()["released"]))
        except Exception as err:  # it expires after the TTL anyway
            log.warning("could not release the sync lock (%s); it expires after %.0f s", type(err).__name__, self.ttl)
            return False

    def __enter__(self) -> SyncLock:
        if not self._held:
            self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def read_lock(db: Database, scope: str) -> dict[str, Any] | None:
    """The lock node of ``scope`` with its state (``state``, ``reason``), or None."""
    row = db.read(lambda tx: tx.run(load_query("ledger_lock_get"), scope=scope).single())
    if row is None or row["lock"] is None:
        return None
    lock = plain_value(dict(row["lock"]))
    state, reason = lock_state(lock, int(row["now"]), host=socket.gethostname())
    return {**lock, "state": state, "reason": reason}


# --------------------------------------------------------------------------- reading the ledger
def _read_rows(conn: ConnectionSettings | Database, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with connect(conn) as db:
        return db.read(lambda tx: [plain_value(dict(r)) for r in tx.run(query, **params)])


def list_runs(
    conn: ConnectionSettings | Database, *, scope: str | None = None, status: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Ledger entries, newest first (each a dict of the node's properties)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100_000:
        raise InputError(f"limit must be an integer in 1..100000; got {limit!r}")
    if status is not None and status not in ("running", "succeeded", "failed"):
        raise InputError(f"status must be running, succeeded or failed; got {status!r}")
    rows = _read_rows(conn, load_query("ledger_list_runs"), {"scope": scope, "status": status, "limit": limit})
    return [_current_names(r["run"]) for r in rows]


def get_run(conn: ConnectionSettings | Database, run_id: str) -> dict[str, Any]:
    """One ledger entry by id or unique id prefix (:class:`InputError` when none or several match)."""
    if not isinstance(run_id, str) or not run_id.strip():
        raise InputError(f"run id must be a non-empty string; got {run_id!r}")
    rows = _read_rows(conn, load_query("ledger_get_run"), {"run_id": run_id.strip()})
    runs = [_current_names(r["run"]) for r in rows]
    if not runs:
        raise InputError(f"no run with id {run_id!r}", hint="list them with `topo-graphdb runs`")
    if len(runs) > 1 and runs[0]["run_id"] != run_id.strip():
        raise InputError(f"run id prefix {run_id!r} matches several runs; give more characters")
    return runs[0]


# --------------------------------------------------------------------------- retention
@dataclass
class CleanReport:
    runs_deleted: int = 0
    runs_kept_live: int = 0
    links_deleted: int = 0
    properties_removed: dict[str, int] = field(default_factory=dict)
    locks_deleted: int = 0
    constraints_dropped: list[str] = field(default_factory=list)
    everything: bool = False
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _single(db: Database, query: str, **params: Any) -> Any:
    """The one record of an auto-commit query (None when it returns none)."""
    records = db.run(query, params).records
    return records[0] if records else None


def _count(db: Database, query: str, **params: Any) -> int:
    return int(_single(db, query, **params)["n"])


def _batched_delete_links(db: Database, rel_type: str, run_ids: Iterable[str] | None, batch: int) -> int:
    rel = quote_identifier(rel_type, what="predicted-link relationship type")
    where = "WHERE l.run_id IN $run_ids" if run_ids is not None else ""
    query = (
        f"MATCH ()-[l:{rel}]->() {where} "
        f"CALL {{ WITH l DELETE l }} IN TRANSACTIONS OF {int(batch)} ROWS "
        "RETURN count(*) AS n"
    )
    row = _single(db, query, run_ids=list(run_ids) if run_ids is not None else None)
    return int(row["n"]) if row else 0


def tool_property_keys(db: Database, prefix: str) -> list[str]:
    """Node property keys in the database that start with ``prefix`` (what sync wrote)."""
    keys = _single(db, "CALL db.propertyKeys() YIELD propertyKey RETURN collect(propertyKey) AS keys")["keys"]
    return sorted(k for k in keys if k.startswith(prefix))


def clean(
    conn: ConnectionSettings | Database,
    *,
    keep_runs: int | None = None,
    everything: bool = False,
    scope: str | None = None,
    prefix: str = "topo_",
    rel_type: str = "PREDICTED_LINK",
    batch_size: int = 10_000,
    dry_run: bool = False,
) -> CleanReport:
    """Retention and removal of what the tool wrote.

    Parameters
    ----------
    keep_runs : keep the newest N ledger entries of each scope (of ``scope`` only
        when given) and delete older ones with their predicted links (N >= 0).
        Running runs are never deleted, nor runs whose values some node still
        carries (``<prefix>run_id``; an incremental run leaves the nodes it did
        not re-score, and their predicted links, with an older run).
    everything : remove every ``prefix*`` node property, every ``rel_type``
        relationship, all ledger and lock nodes and the ledger constraints.
        Refused while a sync holds a lock (:class:`LockHeld`).
    prefix, rel_type : what the tool wrote (as configured for sync).
    dry_run : count only.
    """
    if everything == (keep_runs is not None):
        raise InputError("give either keep_runs (--keep-runs N) or everything (--all)")
    if keep_runs is not None and (isinstance(keep_runs, bool) or not isinstance(keep_runs, int) or keep_runs < 0):
        raise InputError(f"keep_runs must be an integer >= 0; got {keep_runs!r}")
    if not isinstance(prefix, str) or len(prefix) < 2:
        raise InputError(f"prefix must be at least 2 characters (it selects the properties to remove); got {prefix!r}")
    quote_identifier(rel_type, what="predicted-link relationship type")
    report = CleanReport(everything=everything, dry_run=dry_run)
    with connect(conn) as db:
        if everything:
            _remove_everything(db, report, prefix=prefix, rel_type=rel_type, batch_size=batch_size)
        else:
            _remove_old_runs(db, report, keep_runs=keep_runs, scope=scope, prefix=prefix, rel_type=rel_type, batch_size=batch_size)
    return report


def _remove_old_runs(
    db: Database, report: CleanReport, *, keep_runs: int | None, scope: str | None, prefix: str, rel_type: str, batch_size: int
) -> None:
    """``clean(keep_runs=...)``: ledger entries beyond the newest ``keep_runs`` and their links."""
    old = [r["run_id"] for r in db.run(load_query("ledger_old_runs"), {"scope": scope, "keep": keep_runs}).records]
    if old:  # a run whose values a node still carries (an incremental run left it alone) stays
        live = _single(
            db,
            f"MATCH (n) WHERE n.{quote_identifier(prefix + 'run_id')} IN $ids "
            f"RETURN collect(DISTINCT n.{quote_identifier(prefix + 'run_id')}) AS live",
            ids=old,
        )["live"]
        report.runs_kept_live = len(live)
        old = [r for r in old if r not in set(live)]
    report.runs_deleted = len(old)
    if report.dry_run:
        rel = quote_identifier(rel_type)
        report.links_deleted = _count(db, f"MATCH ()-[l:{rel}]->() WHERE l.run_id IN $ids RETURN count(l) AS n", ids=old)
        return
    if old:
        report.links_deleted = _batched_delete_links(db, rel_type, old, batch_size)
        db.run(load_query("ledger_delete_runs"), {"run_ids": old})


def _remove_everything(db: Database, report: CleanReport, *, prefix: str, rel_type: str, batch_size: int) -> None:
    """``clean(everything=True)``: every property, link, ledger and lock node and constraint the tool wrote."""
    held = _single(
        db, f"MATCH (l:{LOCK_LABEL}) WHERE l.owner IS NOT NULL AND l.expires_at > timestamp() RETURN l.run_id AS run_id LIMIT 1"
    )
    if held is not None and not report.dry_run:
        raise LockHeld(f"a sync (run {held['run_id']}) is running; clean --all would pull data from under it")
    keys = tool_property_keys(db, prefix)
    rel = quote_identifier(rel_type)
    if report.dry_run:
        report.links_deleted = _count(db, f"MATCH ()-[l:{rel}]->() RETURN count(l) AS n")
        for k in keys:
            report.properties_removed[k] = _count(db, f"MATCH (n) WHERE n.{quote_identifier(k)} IS NOT NULL RETURN count(n) AS n")
        report.runs_deleted = _count(db, f"MATCH (r:{LEDGER_LABEL}) RETURN count(r) AS n")
        report.locks_deleted = _count(db, f"MATCH (r:{LOCK_LABEL}) RETURN count(r) AS n")
        return
    report.links_deleted = _batched_delete_links(db, rel_type, None, batch_size)
    for k in keys:
        q = quote_identifier(k)
        row = _single(
            db,
            f"MATCH (n) WHERE n.{q} IS NOT NULL CALL {{ WITH n REMOVE n.{q} }} "
            f"IN TRANSACTIONS OF {int(batch_size)} ROWS RETURN count(*) AS n",
        )
        report.properties_removed[k] = int(row["n"]) if row else 0
    report.runs_deleted = _count(db, f"MATCH (r:{LEDGER_LABEL}) RETURN count(r) AS n")
    report.locks_deleted = _count(db, f"MATCH (r:{LOCK_LABEL}) RETURN count(r) AS n")
    db.run(load_query("ledger_delete_all"))
    names = _single(db, "SHOW CONSTRAINTS YIELD name WHERE name STARTS WITH 'topo_' RETURN collect(name) AS c")["c"]
    for name in names:
        db.run(f"DROP CONSTRAINT {quote_identifier(name)} IF EXISTS")
    idx = _single(
        db,
        "SHOW INDEXES YIELD name, owningConstraint WHERE name STARTS WITH 'topo_' AND owningConstraint IS NULL "
        "RETURN collect(name) AS i",
    )["i"]
    for name in idx:
        db.run(f"DROP INDEX {quote_identifier(name)} IF EXISTS")
    report.constraints_dropped = sorted(names + idx)
