"""Pure pieces of the local server: memory sizes, folders, and the generated ``neo4j.conf``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..paths import user_cache_dir, user_state_dir
from ..units import format_size

__all__ = [
    "MIN_HEAP",
    "MIN_PAGECACHE",
    "InstancePaths",
    "check_memory",
    "default_data_dir",
    "default_cache_dir",
    "render_conf",
    "transaction_max",
]

MIN_HEAP = 512 << 20
MIN_PAGECACHE = 16 << 20


def check_memory(heap: int, pagecache: int, *, total: int) -> None:
    """Heap and page cache must be large enough and fit together in physical memory.

    Raises
    ------
    InputError
        ``heap`` below :data:`MIN_HEAP`, ``pagecache`` below :data:`MIN_PAGECACHE`, or
        ``heap + pagecache >= total``.
    """
    if heap < MIN_HEAP:
        raise InputError(f"heap must be at least {format_size(MIN_HEAP, jvm=True)}; got {format_size(heap, jvm=True)}")
    if pagecache < MIN_PAGECACHE:
        raise InputError(f"pagecache must be at least {format_size(MIN_PAGECACHE, jvm=True)}; got {format_size(pagecache, jvm=True)}")
    if heap + pagecache >= total:
        raise InputError(
            f"heap ({format_size(heap, jvm=True)}) + pagecache ({format_size(pagecache, jvm=True)}) must be below "
            f"the physical memory ({format_size(total, jvm=True)})",
            hint="pass a smaller --heap or --pagecache",
        )


def transaction_max(heap: int) -> int:
    """``dbms.memory.transaction.total.max``: half the heap, at least 1 GiB (capped by the heap).

    >>> format_size(transaction_max(2 << 30), jvm=True), format_size(transaction_max(8 << 30), jvm=True)
    ('1g', '4g')
    """
    return min(heap, max(1 << 30, heap // 2))


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/topo-graphdb`` (default ``~/.cache/topo-graphdb``): assembled Neo4j homes."""
    return user_cache_dir()


def default_data_dir() -> Path:
    """``$XDG_STATE_HOME/topo-graphdb/neo4j`` (default ``~/.local/state/topo-graphdb/neo4j``)."""
    return user_state_dir() / "neo4j"


@dataclass(frozen=True)
class InstancePaths:
    """Where one local server keeps its configuration, data, logs and bookkeeping."""

    root: Path

    @property
    def conf_dir(self) -> Path:
        return self.root / "conf"

    @property
    def conf_file(self) -> Path:
        return self.conf_dir / "neo4j.conf"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def transactions(self) -> Path:
        return self.data / "transactions"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def import_dir(self) -> Path:
        return self.root / "import"

    @property
    def plugins(self) -> Path:
        """Used only when the server runs without GDS (links to the other plugin jars)."""
        return self.root / "plugins"

    @property
    def console_log(self) -> Path:
        return self.logs / "console.log"

    @property
    def pid_file(self) -> Path:
        return self.root / "neo4j.pid"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def password_file(self) -> Path:
        return self.root / "password"

    @property
    def initialized(self) -> bool:
        """True once the server has created its system database here."""
        return (self.data / "databases" / "system").is_dir()


def render_conf(
    paths: InstancePaths, *, plugins_dir: Path, port: int, heap: int, pagecache: int, auth: bool
) -> str:
    """The text of ``neo4j.conf`` for one local server.

    Bolt listens on ``127.0.0.1:port`` only, HTTP and HTTPS are off, every folder the server
    writes lies under ``paths.root`` (the plugins are read from ``plugins_dir``). Only
    settings Neo4j 5.26 knows appear: its strict validation refuses to start on a misspelt key.
    """
    settings = {
        "server.directories.data": paths.data,
        "server.directories.transaction.logs.root": paths.transactions,
        "server.directories.logs": paths.logs,
        "server.directories.run": paths.run,
        "server.directories.import": paths.import_dir,
        "server.directories.plugins": plugins_dir,
        "server.default_listen_address": "127.0.0.1",
        "server.bolt.enabled": "true",
        "server.bolt.listen_address": f"127.0.0.1:{port}",
        "server.bolt.advertised_address": f"127.0.0.1:{port}",
        "server.http.enabled": "false",
        "server.https.enabled": "false",
        "dbms.security.auth_enabled": "true" if auth else "false",
        "dbms.usage_report.enabled": "false",
        "server.memory.pagecache.size": format_size(pagecache, jvm=True),
        "dbms.memory.transaction.total.max": format_size(transaction_max(heap), jvm=True),
        "dbms.security.procedures.unrestricted": "gds.*,apoc.*",
        "server.config.strict_validation.enabled": "true",
    }
    lines = [
        "# Generated by topo-graphdb at each `neo4j start`; edits are overwritten.",
        f"# Heap ({format_size(heap, jvm=True)}) is passed to the JVM as -Xmx.",
    ]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"
