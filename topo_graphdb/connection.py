"""Connection settings and driver creation, with driver errors mapped to our hierarchy.

Settings come from CLI options, then environment variables (``NEO4J_URI``,
``NEO4J_USER``, ``NEO4J_PASSWORD`` or ``NEO4J_PASSWORD_FILE``,
``NEO4J_DATABASE``; empty counts as unset), then the local server started by
``topo-graphdb neo4j start``. The password is never logged nor shown in errors.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ._cypher import load_query
from .errors import AuthError, InputError, Neo4jUnavailable, WriteNotAllowed
from .passwords import check_password, read_password_file

__all__ = [
    "URI_SCHEMES",
    "ConnectionSettings",
    "check_password",
    "check_uri",
    "open_driver",
    "read_password_file",
    "settings_from",
    "translate_errors",
]

#: The URI schemes of the Bolt protocol (plain, TLS, TLS with a self-signed certificate).
URI_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


@dataclass(frozen=True)
class ConnectionSettings:
    uri: str
    user: str = "neo4j"
    password: str | None = field(default=None, repr=False)
    database: str = "neo4j"

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.user, self.password) if self.password is not None else None

    def describe(self) -> str:
        """``uri (database)``, without secrets."""
        return f"{self.uri} (database {self.database})"


def check_uri(uri: str) -> str:
    """``uri`` when its scheme is one of :data:`URI_SCHEMES`, else :class:`InputError`.

    The message shows the scheme and the address without any ``user:password@`` part.

    >>> check_uri("neo4j+s://db.example.org:7687")
    'neo4j+s://db.example.org:7687'
    """
    scheme, sep, rest = str(uri).strip().partition("://")
    if sep and scheme.lower() in URI_SCHEMES and rest:
        return uri
    where = rest.rpartition("@")[2] if sep else str(uri).rpartition("@")[2]
    shown = f"{scheme}://{where}" if sep else where
    raise InputError(
        f"unsupported Neo4j URI {shown!r}: use bolt:// or neo4j:// (with TLS: bolt+s://, bolt+ssc://, neo4j+s://, neo4j+ssc://)",
        hint="set NEO4J_URI (or --uri) to the server's Bolt address, e.g. bolt://localhost:7687",
    )


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def settings_from(
    *, uri: str | None = None, user: str | None = None, password: str | None = None, database: str | None = None,
    local: Callable[[], Any] | None = None,
) -> ConnectionSettings:
    """Resolve settings: explicit values, then environment, then ``local()``.

    ``local`` returns the URI, user and password of a local server (the CLI passes
    :func:`topo_graphdb.server.local_connection`); without it a missing URI is an error.
    """
    uri = uri or _env("NEO4J_URI")
    user = user or _env("NEO4J_USER")
    password = password or _env("NEO4J_PASSWORD")
    database = database or _env("NEO4J_DATABASE") or "neo4j"
    if password is None and _env("NEO4J_PASSWORD_FILE"):
        password = read_password_file(_env("NEO4J_PASSWORD_FILE"), what="NEO4J_PASSWORD_FILE")  # type: ignore[arg-type]
    if uri is not None:
        check_uri(uri)
    elif local is None:
        raise Neo4jUnavailable("no Neo4j URI given", hint="set NEO4J_URI (or --uri), e.g. bolt://localhost:7687")
    else:
        server = local()
        uri = server.uri
        if password is None and user in (None, server.user):
            password = server.password
        user = user or server.user
    return ConnectionSettings(uri=uri, user=user or "neo4j", password=password, database=database)


@contextlib.contextmanager
def translate_errors(settings: ConnectionSettings) -> Iterator[None]:
    """Turn driver exceptions into :mod:`topo_graphdb.errors` (no secrets in messages)."""
    from neo4j import exceptions as ne  # noqa: PLC0415

    try:
        yield
    except ne.AuthError as err:
        raise AuthError(
            f"authentication failed for user {settings.user!r} at {settings.describe()}",
            hint="check NEO4J_USER / NEO4J_PASSWORD",
        ) from err
    except ne.Forbidden as err:
        raise WriteNotAllowed(f"not allowed on {settings.describe()}: {err.message}") from err
    except ne.ServiceUnavailable as err:
        raise Neo4jUnavailable(
            f"cannot reach Neo4j at {settings.describe()}",
            hint="start it with `topo-graphdb neo4j start` or set NEO4J_URI",
        ) from err
    except ne.ConfigurationError as err:
        raise InputError(f"bad connection settings for {settings.uri}: {err}") from err
    except ne.ClientError as err:
        code = err.code or ""
        if "DatabaseNotFound" in code:
            raise Neo4jUnavailable(f"database {settings.database!r} does not exist at {settings.uri}") from err
        if "AccessMode" in code or "WriteOnReadOnly" in code or "ReadOnly" in code:
            raise WriteNotAllowed(f"the database refused a write: {err.message}", hint="pass --write, or check the database is writable") from err
        if "ProcedureNotFound" in code:  # a user's query or projection, or a plugin that is not installed
            msg = (err.message or str(err)).strip().splitlines()[0]
            raise InputError(
                f"the query calls a procedure {settings.describe()} does not have: {msg}",
                hint="check the name; SHOW PROCEDURES lists what the server has (APOC and GDS are plugins)",
            ) from err
        raise


def open_driver(settings: ConnectionSettings, *, verify: bool = True, config: dict[str, Any] | None = None) -> Any:
    """A :class:`neo4j.Driver` for ``settings``; with ``verify`` the connection and credentials are checked.

    ``config`` : driver settings that replace the defaults here (e.g. ``connection_timeout``,
    ``connection_acquisition_timeout``), as :class:`graphdatascience.GraphDataScience` takes them.
    """
    import neo4j  # noqa: PLC0415

    check_uri(settings.uri)
    options: dict[str, Any] = {
        "connection_timeout": 15,
        "max_transaction_retry_time": 30,
        "user_agent": "topo-graphdb",
        "notifications_min_severity": "OFF",
    }
    options.update(config or {})
    with translate_errors(settings):
        try:
            driver = neo4j.GraphDatabase.driver(settings.uri, auth=settings.auth, **options)
        except ValueError as err:
            raise InputError(f"bad Neo4j URI {settings.uri!r}: {err}") from err
        if verify:
            try:
                driver.verify_connectivity()
                # a query every database answers, the system database included (it refuses RETURN 1)
                driver.execute_query(load_query("connection_ping"), database_=settings.database, routing_=neo4j.RoutingControl.READ)
            except BaseException:
                driver.close()
                raise
    return driver
