"""The click group, shared option sets, and the one place errors become exit codes."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from .. import __version__
from ..connection import settings_from
from ..errors import TopoGraphError, interruption
from ._progress import end_line

__all__ = ["main", "connection_options", "json_option", "fail"]


class _Group(click.Group):
    """A group that turns :class:`TopoGraphError` and usage errors into one-line messages and exit codes."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:  # fmt: skip
        """Click's ``main``, but a usage error prints one line (``error: ...``) instead of click's usage block."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as err:  # a bare group: its help, as click prints it
            err.show()
            sys.exit(err.exit_code)
        except click.ClickException as err:
            end_line()
            where = f" (see '{err.ctx.command_path} --help')" if getattr(err, "ctx", None) is not None else ""
            message = " ".join(err.format_message().split())
            click.echo(f"error: {message}{where}", err=True)
            sys.exit(err.exit_code)
        except click.Abort:
            end_line()
            click.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except (KeyboardInterrupt, Exception) as err:
            if interruption(err) is not None:  # first: an error raised on the way out of an interrupt is not the story
                end_line()
                click.echo("error: interrupted", err=True)
                sys.exit(130)
            if isinstance(err, TopoGraphError):
                end_line()
                click.echo(f"error: {err}", err=True)
                sys.exit(err.exit_code)
            # a bug: one line, the traceback with -v
            if logging.getLogger().isEnabledFor(logging.INFO):
                raise
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            end_line()
            click.echo(f"error: unexpected {type(err).__name__}: {first} (run with -v for the traceback)", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="topo-graphdb")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Topological Concentration and link prediction for Neo4j graphs.

    Exit codes: 0 ok, 1 unexpected error, 2 usage error, 3 bad input or schema,
    4 Neo4j unreachable, 5 authentication failed, 6 write not allowed,
    7 backend unavailable, 8 local server error, 9 memory budget exceeded,
    10 lock held by another sync, 11 drift threshold crossed, 12 --max-runtime reached.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def fail(message: str, code: int = 3) -> None:
    """Print a one-line error and exit (for CLI-only checks)."""
    end_line()
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def connection_options(func: Callable) -> Callable:
    """``--uri/--user/--password/--database`` with their environment variables.

    Empty variables count as unset. ``NEO4J_PASSWORD_FILE`` is read by
    :func:`topo_graphdb.connection.settings_from` when no password is given.
    With no URI, the local server started by ``topo-graphdb neo4j start`` is used.
    """

    @click.option("--uri", envvar="NEO4J_URI", default=None, help="Bolt URI (env NEO4J_URI); default: the local server.")
    @click.option("--user", envvar="NEO4J_USER", default=None, help="User name (env NEO4J_USER; default neo4j).")
    @click.option(
        "--password",
        envvar="NEO4J_PASSWORD",
        default=None,
        help="Password (env NEO4J_PASSWORD or NEO4J_PASSWORD_FILE); never logged.",
    )
    @click.option("--database", envvar="NEO4J_DATABASE", default=None, help="Database name (env NEO4J_DATABASE; default neo4j).")
    @functools.wraps(func)
    def wrapper(*args: Any, uri: str | None, user: str | None, password: str | None, database: str | None, **kwargs: Any) -> Any:
        kwargs["conn"] = settings_from(uri=uri, user=user, password=password, database=database, local=local_server)
        return func(*args, **kwargs)

    return wrapper


json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON summary on stdout.")


def local_server() -> Any:
    """The local server's connection (:func:`topo_graphdb.server.local_connection`; imported when asked for)."""
    from ..server import local_connection  # noqa: PLC0415  (the server module: process and file handling)

    return local_connection()
