"""A local Neo4j server, assembled from Maven Central jars and started by topo-graphdb.

The server is Neo4j Community 5.26 (Java 17) with APOC core and the open-source Graph Data
Science library, started as ``org.neo4j.server.CommunityEntryPoint`` in its own session so
it outlives the Python process; clients talk to it over Bolt on ``127.0.0.1``.

Where things live:

* the assembled home (``lib/``, ``plugins/``): ``$XDG_CACHE_HOME/topo-graphdb/neo4j-<version>``
  (default ``~/.cache``), built once by :func:`assemble` with Maven (``~/.m2`` as usual);
* one instance (configuration, data, logs, pid file, ``state.json`` and, with
  authentication, the ``password`` file readable only by the user): ``data_dir``, default
  ``$XDG_STATE_HOME/topo-graphdb/neo4j`` (default ``~/.local/state``).

Modes (``status()["mode"]``): ``"server"`` runs with APOC and GDS; ``"server-without-gds"``
is what :func:`start` falls back to when the GDS jars stop the server from starting (the
reason is kept in ``status()["gds_error"]``).

Examples
--------
>>> from topo_graphdb import server                      # doctest: +SKIP
>>> server.start(port=7687)["uri"]                        # doctest: +SKIP
'bolt://127.0.0.1:7687'
>>> server.local_connection().password is not None        # doctest: +SKIP
True
>>> server.stop()                                         # doctest: +SKIP
True
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import socket
import string
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from .._cypher import load_query
from ..connection import ConnectionSettings
from ..db import Database
from ..errors import InputError, Neo4jUnavailable, ServerError, TopoGraphError
from ..passwords import check_password
from ..progress import Message
from ..units import format_size, parse_size
from ..writeproc import EXPORT_PROCEDURES, has_write_procedures, server_has
from ._assemble import assemble_home, versions
from ._conf import InstancePaths, check_memory, default_data_dir, render_conf
from ._java import find_java
from ._process import (
    alive,
    clear_stale_pid,
    driver_error,
    java_command,
    launch,
    log_problem,
    probe,
    running_pid,
    terminate,
)

__all__ = [
    "NEO4J_VERSION",
    "MODE_SERVER",
    "MODE_WITHOUT_GDS",
    "LocalConnection",
    "admin_password_arguments",
    "assemble",
    "free_port",
    "default_data_dir",
    "generate_password",
    "local_connection",
    "start",
    "status",
    "stop",
    "stored_password",
]

NEO4J_VERSION = versions()["neo4j"]
MODE_SERVER = "server"
MODE_WITHOUT_GDS = "server-without-gds"
USER = "neo4j"
_START_HINT = "start it with `topo-graphdb neo4j start` or set NEO4J_URI"


@dataclass(frozen=True)
class LocalConnection:
    """How to reach the running local server; ``password`` is None when authentication is off."""

    uri: str
    user: str = USER
    password: str | None = field(default=None, repr=False)


def assemble(*, progress: Message | None = None) -> Path:
    """Assemble the Neo4j home once and return it.

    Maven copies Neo4j, APOC and GDS (versions in the packaged ``pom.xml``) with all their
    dependencies, resolved to one version each, from Maven Central into
    ``$XDG_CACHE_HOME/topo-graphdb/neo4j-<version>/{lib,plugins}``. A marker file written
    last makes later calls return at once.

    Parameters
    ----------
    progress:
        Called with a one-line message before and after the long step.

    Raises
    ------
    ServerError
        Maven or Java 17 is missing, or Maven cannot resolve an artifact (named in the message).
    """
    return assemble_home(progress=progress)


def _paths(data_dir: str | os.PathLike[str] | None) -> InstancePaths:
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    return InstancePaths(root.resolve())


def _read_state(paths: InstancePaths) -> dict[str, Any]:
    try:
        state = json.loads(paths.state_file.read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(paths: InstancePaths, state: dict[str, Any]) -> None:
    tmp = paths.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, paths.state_file)


_LETTERS = string.ascii_letters
_ALPHANUMERIC = string.ascii_letters + string.digits


def generate_password(length: int = 24) -> str:
    """A random password from :mod:`secrets`: a letter, then ``length - 1`` letters or digits.

    Nothing in it is special to a command-line parser (no leading ``-`` or ``@``, no quotes,
    no spaces); 24 characters carry about 142 bits.
    """
    if length < 8:
        raise InputError(f"password length must be at least 8 (Neo4j's minimum); got {length!r}")
    return secrets.choice(_LETTERS) + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length - 1))


def _read_password(paths: InstancePaths) -> str | None:
    try:
        text = paths.password_file.read_text("utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def _write_password(paths: InstancePaths, password: str) -> None:
    fd = os.open(paths.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (password + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _check_port(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise ServerError(
                    f"port {port} on 127.0.0.1 is already in use",
                    hint="pass another --port, or stop what listens there",
                ) from err
            raise ServerError(f"cannot listen on 127.0.0.1:{port}: {err.strerror}", hint="pass another --port") from err


def admin_password_arguments(password: str) -> str:
    """The argument file of ``neo4j-admin dbms set-initial-password`` for ``password``.

    neo4j-admin reads it with picocli's @-file syntax: the password is one double-quoted
    argument (backslash and double quote escaped; ``#`` and quotes inside are then literal),
    after ``--`` so that a leading ``-`` is not an option, and with a leading ``@`` doubled
    so that it is not read as another argument file. A line break cannot be quoted there,
    which is why :func:`~topo_graphdb.passwords.check_password` refuses it.

    >>> print(admin_password_arguments('@a "b" -c'), end="")
    dbms set-initial-password -- "@@a \\"b\\" -c"
    """
    check_password(password)
    quoted = password.replace("\\", "\\\\").replace('"', '\\"')
    if quoted.startswith("@"):
        quoted = "@" + quoted
    return f'dbms set-initial-password -- "{quoted}"\n'


def _set_initial_password(java: Path, home: Path, paths: InstancePaths, password: str) -> None:
    """``neo4j-admin dbms set-initial-password`` before the first start (the password goes
    through a private argument file, never on a command line; the JVM reads it as UTF-8)."""
    env = dict(os.environ, NEO4J_HOME=str(home), NEO4J_CONF=str(paths.conf_dir))
    text = admin_password_arguments(password)
    fd, argfile = tempfile.mkstemp(prefix=".admin-args-", dir=paths.root)
    try:
        os.write(fd, text.encode("utf-8"))
        os.close(fd)
        proc = subprocess.run(
            [str(java), "-Dfile.encoding=UTF-8", "-cp", f"{home / 'lib'}/*", "org.neo4j.cli.AdminTool", f"@{argfile}"],
            env=env,
            cwd=paths.root,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as err:
        raise ServerError(f"cannot set the initial Neo4j password: {err}") from err
    finally:
        os.unlink(argfile)
    if proc.returncode != 0:
        why = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise ServerError(f"cannot set the initial Neo4j password: {why[-1] if why else proc.returncode}")


def _change_default_password(uri: str, password: str) -> bool:
    """Log in as neo4j/neo4j and set ``password``; False when the server is not ready for it yet."""
    from neo4j import exceptions as ne  # noqa: PLC0415

    settings = ConnectionSettings(uri=uri, user=USER, password="neo4j", database="system")
    try:
        with Database(settings, verify=False, config={"connection_timeout": 10}) as db:
            db.run(load_query("server_change_password"), {"old": "neo4j", "new": password})
        return True
    except (TopoGraphError, ne.TransientError, ne.SessionExpired) as caught:  # the seam translates the rest
        err = driver_error(caught)
        if isinstance(err, (ne.TransientError, ne.ServiceUnavailable, ne.SessionExpired)):
            return False
        if isinstance(err, ne.AuthError):
            raise ServerError(
                "the server's neo4j user has a password that is not stored in this data dir",
                hint="restore the password file, or start with a fresh --data-dir",
            ) from err
        raise


def _without_gds_plugins(home: Path, paths: InstancePaths) -> Path:
    """A plugins folder with links to every plugin jar except GDS."""
    shutil.rmtree(paths.plugins, ignore_errors=True)
    paths.plugins.mkdir(parents=True)
    for jar in sorted((home / "plugins").glob("*.jar")):
        if not jar.name.startswith("org.neo4j.gds."):
            (paths.plugins / jar.name).symlink_to(jar)
    return paths.plugins


def _gds_broke_start(paths: InstancePaths) -> bool:
    try:
        text = paths.console_log.read_text(errors="replace")
    except OSError:
        return False
    first = min((i for i in (text.find(" ERROR "), text.find("Exception")) if i >= 0), default=-1)
    return first >= 0 and ("org.neo4j.gds" in text[first:] or "org/neo4j/gds" in text[first:])


class _Died(Exception):
    pass


def _run_until_ready(
    *,
    java: Path,
    home: Path,
    paths: InstancePaths,
    mode: str,
    port: int,
    heap: int,
    pagecache: int,
    password: str | None,
    change_default: bool,
    timeout: float,
    state: dict[str, Any],
    progress: Message,
) -> dict[str, Any]:
    plugins_dir = home / "plugins" if mode == MODE_SERVER else _without_gds_plugins(home, paths)
    auth = password is not None
    paths.conf_file.write_text(
        render_conf(paths, plugins_dir=plugins_dir, port=port, heap=heap, pagecache=pagecache, auth=auth)
    )
    uri = f"bolt://127.0.0.1:{port}"
    started = time.monotonic()
    pid = launch(java_command(java, home, paths, plugins_dir=plugins_dir, heap=heap), paths)
    paths.pid_file.write_text(f"{pid}\n")
    state.update(pid=pid, port=port, uri=uri, mode=mode, auth=auth, started_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    _write_state(paths, state)
    progress(f"started Neo4j {state['version']} (pid {pid}, {mode}); waiting for Bolt on {uri} ...")

    credentials = (USER, "neo4j" if change_default else password) if auth else None
    deadline = started + timeout
    while True:
        if not alive(pid):
            clear_stale_pid(paths)
            raise _Died(log_problem(paths) or "no error in the log")
        kind, why = probe(uri, credentials, timeout=max(1.0, min(5.0, deadline - time.monotonic())))
        if kind == "ready":
            break
        if kind == "auth":
            try:
                if not (change_default and credentials is not None and credentials[1] == "neo4j"):
                    raise ServerError(
                        f"Neo4j started but refused the password stored in {paths.password_file} ({why})",
                        hint="restore the password file, or start with a fresh --data-dir",
                    )
                changed = _change_default_password(uri, password)  # type: ignore[arg-type]
            except ServerError:
                terminate(pid, timeout=60)
                clear_stale_pid(paths)
                raise
            if changed:
                _write_password(paths, password)  # type: ignore[arg-type]
                credentials = (USER, password)  # type: ignore[assignment]
                continue
        if time.monotonic() >= deadline:
            terminate(pid, timeout=60)
            clear_stale_pid(paths)
            problem = log_problem(paths)
            raise ServerError(
                f"Neo4j did not answer on {uri} within {timeout:g} s and was stopped"
                f" (log: {paths.console_log}{'; last problem: ' + problem if problem else ''})",
                hint="pass a longer --timeout on a busy machine",
            )
        time.sleep(0.5)
    state["startup_seconds"] = round(time.monotonic() - started, 1)
    _write_state(paths, state)
    progress(f"Neo4j is ready on {uri} after {state['startup_seconds']:.0f} s")
    return state


def start(
    *,
    data_dir: str | os.PathLike[str] | None = None,
    port: int = 7687,
    heap: str = "2g",
    pagecache: str = "512m",
    auth: bool = True,
    password: str | None = None,
    timeout: float = 240,
    progress: Message | None = None,
) -> dict[str, Any]:
    """Start the local server (assembling it first if needed) and wait until Bolt answers.

    Parameters
    ----------
    data_dir:
        Instance folder (configuration, data, logs, password); default :func:`default_data_dir`.
    port:
        Bolt port on 127.0.0.1, 1 to 65535.
    heap, pagecache:
        JVM heap and Neo4j page cache, e.g. ``"2g"``, ``"512m"``; together below physical RAM.
    auth:
        With authentication (default) the ``neo4j`` user's password is set on the first start
        and stored in ``data_dir/password`` (mode 0600); see :func:`local_connection`.
    password:
        That password (any characters but line breaks and NUL, at least 8); default one from
        :func:`generate_password`. A data dir that already has a different one is an error.
    timeout:
        Seconds to wait for ``RETURN 1`` over Bolt; on expiry the server is stopped.
    progress:
        Called with one-line messages about the long steps.

    Returns
    -------
    dict
        :func:`status` of the server, plus ``startup_seconds``; when it was already running,
        its status with ``already_running=True`` (the other arguments are then ignored).

    Raises
    ------
    InputError
        A parameter is out of range (the message names it).
    ServerError
        No Java 17, Maven failure, port in use, the server died or did not answer in time
        (the message names the log file).
    """
    # Long on purpose: the start-up order (checks, configuration, password, launch, wait) reads best in one place.
    say = progress or (lambda _msg: None)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InputError(f"port must be an integer between 1 and 65535; got {port!r}")
    if not timeout > 0:
        raise InputError(f"timeout must be positive (seconds); got {timeout!r}")
    if password is not None:
        if not auth:
            raise InputError("a password was given but authentication is off", hint="drop --no-auth or the password")
        check_password(password)
        if len(password) < 8:
            raise InputError(f"the password must have at least 8 characters (Neo4j's minimum); got {len(password)}")
    heap_bytes = parse_size(heap, name="heap")
    pagecache_bytes = parse_size(pagecache, name="pagecache")

    check_memory(heap_bytes, pagecache_bytes, total=psutil.virtual_memory().total)
    paths = _paths(data_dir)
    if running_pid(paths) is not None:
        return dict(status(data_dir=paths.root), already_running=True)
    _check_port(port)
    java = find_java()
    home = assemble(progress=say)
    for folder in (paths.conf_dir, paths.logs, paths.run, paths.import_dir, paths.data):
        folder.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.root, 0o700)

    given, password = password, None
    change_default = False
    if auth:
        password = _read_password(paths)
        if password is not None and given is not None and password != given:
            raise InputError(
                f"the data dir {paths.root} already has another password",
                hint="leave the password out to use the stored one, or start with a fresh --data-dir",
            )
        if password is None:
            password = given if given is not None else generate_password()
            change_default = paths.initialized  # created earlier without auth: neo4j/neo4j
            if not change_default:
                _write_password(paths, password)
        if not paths.initialized:
            paths.conf_file.write_text(
                render_conf(paths, plugins_dir=home / "plugins", port=port, heap=heap_bytes, pagecache=pagecache_bytes, auth=True)
            )
            _set_initial_password(java, home, paths, password)

    state: dict[str, Any] = {
        "version": NEO4J_VERSION,
        "home": str(home),
        "java": str(java),
        "heap": format_size(heap_bytes, jvm=True),
        "pagecache": format_size(pagecache_bytes, jvm=True),
    }
    common = dict(
        java=java, home=home, paths=paths, port=port, heap=heap_bytes, pagecache=pagecache_bytes,
        password=password, change_default=change_default, timeout=timeout, state=state, progress=say,
    )  # fmt: skip
    try:
        _run_until_ready(mode=MODE_SERVER, **common)
    except _Died as died:
        if not _gds_broke_start(paths):
            raise ServerError(
                f"Neo4j exited during start-up: {died} (log: {paths.console_log})",
                hint="see the log; `topo-graphdb neo4j start --help` lists the memory options",
            ) from None
        failed_log = paths.logs / "console.gds-failure.log"
        shutil.copyfile(paths.console_log, failed_log)
        state["gds_load_error"] = f"GDS stopped the server from starting: {died} (log: {failed_log})"
        say(f"GDS failed to load ({died}); starting without GDS")
        try:
            _run_until_ready(mode=MODE_WITHOUT_GDS, **common)
        except _Died as died_again:
            raise ServerError(
                f"Neo4j exited during start-up, also without GDS: {died_again} (log: {paths.console_log})"
            ) from None
    result = status(data_dir=paths.root)
    result["startup_seconds"] = state.get("startup_seconds")
    return result


def stop(*, data_dir: str | os.PathLike[str] | None = None, timeout: float = 60) -> bool:
    """Stop the local server: SIGTERM, wait up to ``timeout`` s, SIGKILL as a last resort.

    Returns
    -------
    bool
        True when a running server was stopped, False when none was running (a stale pid
        file is removed).

    Raises
    ------
    ServerError
        The process survived SIGKILL.
    """
    if not timeout > 0:
        raise InputError(f"timeout must be positive (seconds); got {timeout!r}")
    paths = _paths(data_dir)
    pid = running_pid(paths)
    if pid is None:
        return False
    if not terminate(pid, timeout=timeout):
        raise ServerError(f"could not stop Neo4j (pid {pid}), even with SIGKILL")
    clear_stale_pid(paths)
    state = _read_state(paths)
    if state:
        state["stopped_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        _write_state(paths, state)
    return True


def _answer(db: Database, query: str) -> tuple[str | None, str | None]:
    """The first value of query file ``query``, or None and the server's (or driver's) error in one line."""
    from neo4j import exceptions as ne  # noqa: PLC0415

    try:
        records = db.run(load_query(query)).records
        return (str(records[0][0]) if records else None), None
    except (TopoGraphError, ne.Neo4jError, ne.DriverError) as caught:
        err = driver_error(caught)
        if isinstance(err, ne.Neo4jError):
            return None, " ".join(f"{err.code}: {err.message}".split())
        if isinstance(err, ne.DriverError):
            return None, " ".join(str(err).split())
        raise


def status(*, data_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """What the local server is doing.

    Returns
    -------
    dict
        ``running`` (bool), ``ready`` (Bolt answers), ``pid``, ``version`` (the kernel's when
        it answers), ``edition``, ``port``, ``uri``, ``data_dir``, ``mode``, ``auth``,
        ``started_at``, ``log``, ``home``; ``apoc_version``/``apoc_error`` and
        ``gds_version``/``gds_error``: the answer of ``apoc.version()`` and ``gds.version()``
        or the server's exact error; ``error`` when Bolt does not answer.
    """
    paths = _paths(data_dir)
    state = _read_state(paths)
    pid = running_pid(paths)
    auth = state.get("auth")
    info: dict[str, Any] = {
        "running": pid is not None,
        "ready": False,
        "pid": pid,
        "version": state.get("version", NEO4J_VERSION),
        "edition": None,
        "port": state.get("port"),
        "uri": state.get("uri"),
        "data_dir": str(paths.root),
        "mode": state.get("mode"),
        "auth": auth,
        "started_at": state.get("started_at"),
        "log": str(paths.console_log),
        "home": state.get("home"),
        "apoc_version": None,
        "apoc_error": None,
        "gds_version": None,
        "gds_error": None,
        "write_procedures": None,  # whether the topo.write procedures answer (see topo_graphdb.writeproc)
        "export_procedure": None,  # whether topo.export.relationships answers (the export's fast path)
        "error": None,
    }
    if pid is None or not state.get("uri"):
        info["error"] = "not running"
        return info
    from neo4j import exceptions as ne  # noqa: PLC0415

    password = _read_password(paths) if auth else None
    settings = ConnectionSettings(uri=state["uri"], user=USER, password=password if auth else None, database="neo4j")
    try:
        with Database(settings, verify=False, config={"connection_timeout": 10}) as db:
            records = db.run(load_query("server_version"), {"component": "Neo4j Kernel"}).records
            if records:
                info["version"], info["edition"] = records[0]["version"], records[0]["edition"]
            info["ready"] = True
            info["apoc_version"], info["apoc_error"] = _answer(db, "server_apoc_version")
            info["gds_version"], info["gds_error"] = _answer(db, "server_gds_version")
            info["write_procedures"] = has_write_procedures(db)
            info["export_procedure"] = server_has(db, EXPORT_PROCEDURES)
    except (TopoGraphError, ne.Neo4jError, ne.DriverError, OSError) as caught:
        info["error"] = " ".join(str(driver_error(caught)).split())[:300]
    if state.get("gds_load_error") and state.get("mode") == MODE_WITHOUT_GDS:
        info["gds_error"] = f"{state['gds_load_error']}; {info['gds_error'] or ''}".rstrip("; ")
    return info


def stored_password(*, data_dir: str | os.PathLike[str] | None = None) -> str | None:
    """The password kept in ``data_dir/password`` (None when there is none)."""
    return _read_password(_paths(data_dir))


def local_connection(data_dir: str | os.PathLike[str] | None = None) -> LocalConnection:
    """URI and credentials of the running local server.

    Raises
    ------
    Neo4jUnavailable
        No local server runs in ``data_dir`` (hint: ``topo-graphdb neo4j start``).
    """
    paths = _paths(data_dir)
    state = _read_state(paths)
    if running_pid(paths) is None or not state.get("uri"):
        raise Neo4jUnavailable(f"no local Neo4j server is running (data dir {paths.root})", hint=_START_HINT)
    password = _read_password(paths) if state.get("auth") else None
    if state.get("auth") and password is None:
        raise Neo4jUnavailable(
            f"the local Neo4j server uses authentication but {paths.password_file} is missing",
            hint="set NEO4J_PASSWORD, or restart it with a fresh --data-dir",
        )
    return LocalConnection(uri=state["uri"], user=USER, password=password)
