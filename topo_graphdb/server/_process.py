"""The server process: launching it detached, knowing whether it runs, probing Bolt, stopping it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import psutil

from .._cypher import load_query
from ..connection import ConnectionSettings
from ..db import Database
from ..errors import ServerError, TopoGraphError
from ..units import format_size
from ._conf import InstancePaths

__all__ = [
    "MAIN_CLASS",
    "alive",
    "clear_stale_pid",
    "driver_error",
    "is_server_process",
    "java_command",
    "launch",
    "log_problem",
    "probe",
    "read_pid",
    "running_pid",
    "terminate",
]

MAIN_CLASS = "org.neo4j.server.CommunityEntryPoint"
_JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
    "-Djol.skipHotspotSAAttach=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "--add-modules=jdk.incubator.vector",
)


def java_command(java: Path, home: Path, paths: InstancePaths, *, plugins_dir: Path, heap: int) -> list[str]:
    """The command line that runs the server in the foreground (``--console-mode``)."""
    xms = min(heap, 1 << 30)
    return [
        str(java),
        f"-Xms{format_size(xms, jvm=True)}",
        f"-Xmx{format_size(heap, jvm=True)}",
        *_JVM_FLAGS,
        "-cp",
        f"{plugins_dir}/*:{home / 'lib'}/*",
        MAIN_CLASS,
        f"--home-dir={home}",
        f"--config-dir={paths.conf_dir}",
        "--console-mode",
    ]


def launch(cmd: list[str], paths: InstancePaths) -> int:
    """Start ``cmd`` detached (own session, output to the console log) and return its pid.

    A short-lived ``sh`` starts it in the background, so the server is not a child of this
    process: it outlives it, and nobody here has to reap it.
    """
    paths.logs.mkdir(parents=True, exist_ok=True)
    script = 'log=$1; shift; "$@" >"$log" 2>&1 </dev/null & echo $!'
    try:
        proc = subprocess.run(
            ["/bin/sh", "-c", script, "sh", str(paths.console_log), *cmd],
            cwd=paths.root,
            capture_output=True,
            text=True,
            timeout=60,
            start_new_session=True,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as err:
        raise ServerError(f"cannot launch the Neo4j server: {err}") from err
    try:
        return int(proc.stdout.strip())
    except ValueError as err:
        raise ServerError(f"cannot launch the Neo4j server: {proc.stderr.strip() or 'no pid reported'}") from err


def read_pid(paths: InstancePaths) -> int | None:
    """The pid in the pid file, or None when there is none (or it is not a number)."""
    try:
        return int(paths.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


def is_server_process(pid: int, paths: InstancePaths) -> bool:
    """True when ``pid`` is a running Neo4j server of this instance (not a recycled pid)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False
    return MAIN_CLASS in cmdline and f"--config-dir={paths.conf_dir}" in cmdline


def clear_stale_pid(paths: InstancePaths) -> None:
    """Remove the pid file."""
    try:
        paths.pid_file.unlink()
    except FileNotFoundError:
        pass


def running_pid(paths: InstancePaths) -> int | None:
    """The pid of this instance's running server; a stale pid file is removed."""
    pid = read_pid(paths)
    if pid is not None and is_server_process(pid, paths):
        return pid
    if paths.pid_file.exists():
        clear_stale_pid(paths)
    return None


def terminate(pid: int, *, timeout: float) -> bool:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL. True when the process is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.2)
    return not alive(pid)


def driver_error(err: BaseException) -> BaseException:
    """The driver's own exception behind ``err``.

    The :class:`~topo_graphdb.db.Database` seam translates driver errors into
    :mod:`topo_graphdb.errors` (``raise ... from err``); the server's probes judge and
    report the driver's exception itself.
    """
    while isinstance(err, TopoGraphError) and isinstance(err.__cause__, Exception):
        err = err.__cause__
    return err


def probe(uri: str, auth: tuple[str, str] | None, *, timeout: float = 5.0) -> tuple[str, str]:
    """Ping the ``neo4j`` database: ``("ready", "")``, ``("auth", why)`` or ``("down", why)``.

    ``"auth"`` means Bolt answers but refused (or wants a new password for) these credentials.
    The ping is one auto-commit query that nothing retries, and connecting waits at most
    ``timeout`` s, so a server that is not ready yet answers at once.
    """
    from neo4j import exceptions as ne  # noqa: PLC0415

    user, password = auth if auth is not None else ("neo4j", None)
    settings = ConnectionSettings(uri=uri, user=user, password=password, database="neo4j")
    config = {"connection_timeout": timeout, "connection_acquisition_timeout": timeout}
    try:
        with Database(settings, verify=False, config=config) as db:
            db.run(load_query("connection_ping"))
        return "ready", ""
    except (TopoGraphError, ne.Neo4jError, ne.DriverError, OSError) as caught:
        err = driver_error(caught)
    if isinstance(err, ne.AuthError):
        return "auth", err.message or str(err)
    if isinstance(err, ne.ClientError):
        if "Security" in (err.code or ""):  # e.g. CredentialsExpired
            return "auth", err.message or str(err)
        return "down", f"{err.code}: {err.message}"
    return "down", " ".join(str(err).split())[:200]


_NOISE = re.compile(r"^\s*(at |\.\.\. \d+ more|WARNING: Using incubator modules)")


def log_problem(paths: InstancePaths, *, max_len: int = 300) -> str:
    """The most telling line of the console log (the deepest ``Caused by`` or last ERROR), one line."""
    try:
        lines = paths.console_log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    lines = [line.strip() for line in lines if line.strip() and not _NOISE.match(line)]
    pick = ""
    for line in lines:
        if line.startswith("Caused by:"):
            pick = line[len("Caused by:") :].strip()
    if not pick:
        errors = [line for line in lines if " ERROR " in line or "Exception" in line or "Error:" in line]
        pick = errors[-1] if errors else (lines[-1] if lines else "")
    return pick[:max_len]
