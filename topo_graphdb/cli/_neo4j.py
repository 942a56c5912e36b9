"""``topo-graphdb neo4j ...``: assemble, start, stop and inspect the local Neo4j server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ._group import json_option, main

_DATA_DIR_HELP = "Instance folder (conf, data, logs, password); default $XDG_STATE_HOME/topo-graphdb/neo4j."
_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=_DATA_DIR_HELP,
)


def _say(message: str) -> None:
    click.echo(message, err=True)


def _render(info: dict[str, Any]) -> None:
    if not info["running"]:
        click.echo(f"Neo4j is not running (data dir {info['data_dir']})")
        return
    state = "ready" if info["ready"] else f"not answering: {info['error']}"
    click.echo(f"Neo4j {info['version']} is running (pid {info['pid']}), {state}")
    click.echo(f"  uri:      {info['uri']}")
    auth = "on (password: `topo-graphdb neo4j password`)" if info["auth"] else "off"
    click.echo(f"  auth:     {auth}")
    click.echo(f"  mode:     {info['mode']}")
    click.echo(f"  data dir: {info['data_dir']}")
    click.echo(f"  log:      {info['log']}")
    for name in ("apoc", "gds"):
        answer = info[f"{name}_version"] or f"error: {info[f'{name}_error']}"
        click.echo(f"  {name}:{' ' * (9 - len(name))}{answer}")
    if info["ready"]:
        writes = "topo.write procedures" if info["write_procedures"] else "Cypher statements (no topo.write procedures)"
        click.echo(f"  writes:   {writes}")
        reads = "topo.export.relationships procedure" if info["export_procedure"] else "Cypher (no topo.export.relationships procedure)"
        click.echo(f"  export:   {reads}")


@main.group()
def neo4j() -> None:
    """The local Neo4j server (Neo4j 5.26 with APOC and GDS, assembled from Maven Central).

    `start` assembles it the first time (needs Java 17, Maven and network), then runs it in
    the background on 127.0.0.1. Other commands use it when NEO4J_URI is not set.
    """


@neo4j.command()
def assemble() -> None:
    """Download and assemble the server's jars once (into $XDG_CACHE_HOME/topo-graphdb)."""
    from ..server import assemble as assemble_home  # noqa: PLC0415

    click.echo(assemble_home(progress=_say))


@neo4j.command()
@click.option("--port", type=click.IntRange(1, 65535), default=7687, show_default=True, help="Bolt port on 127.0.0.1.")
@_data_dir_option
@click.option("--heap", default="2g", show_default=True, help="JVM heap (GDS projections live here), e.g. 4g.")
@click.option("--pagecache", default="512m", show_default=True, help="Neo4j page cache, e.g. 1g.")
@click.option("--no-auth", is_flag=True, help="Turn authentication off (tests, throwaway servers).")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File holding the neo4j user's password for a new data dir (one line; spaces count); default: generated.",
)
@click.option("--timeout", type=click.FloatRange(min=1), default=240, show_default=True, help="Seconds to wait for Bolt.")
@json_option
def start(
    port: int, data_dir: Path | None, heap: str, pagecache: str, no_auth: bool, password_file: Path | None,
    timeout: float, as_json: bool,
) -> None:  # fmt: skip
    """Start the server and wait until it answers; on a running server, report it (exit 0).

    Exit codes: 0 running, 3 bad option value (or a password file that is empty, unreadable or
    holds a line break), 8 server error (no Java 17 or Maven, port in use, start-up failed or
    timed out: the message names the log file).
    """
    from ..passwords import read_password_file  # noqa: PLC0415
    from ..server import start as start_server  # noqa: PLC0415

    secret = read_password_file(password_file, what="--password-file") if password_file is not None else None
    info = start_server(
        data_dir=data_dir, port=port, heap=heap, pagecache=pagecache, auth=not no_auth, password=secret,
        timeout=timeout, progress=_say,
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    if info.get("already_running"):
        click.echo(f"Neo4j is already running (pid {info['pid']}) on {info['uri']}")
    _render(info)


@neo4j.command()
@_data_dir_option
@click.option("--timeout", type=click.FloatRange(min=1), default=60, show_default=True, help="Seconds before SIGKILL.")
def stop(data_dir: Path | None, timeout: float) -> None:
    """Stop the server (SIGTERM, then SIGKILL after --timeout); exit 0 also when none runs."""
    from ..server import stop as stop_server  # noqa: PLC0415

    if stop_server(data_dir=data_dir, timeout=timeout):
        click.echo("Neo4j stopped")
    else:
        click.echo("Neo4j was not running")


@neo4j.command()
@_data_dir_option
@json_option
def status(data_dir: Path | None, as_json: bool) -> None:
    """Show the server, its version and whether APOC and GDS answer.

    Exit codes: 0 running, 4 not running (or not answering over Bolt).
    """
    from ..errors import Neo4jUnavailable  # noqa: PLC0415
    from ..server import status as server_status  # noqa: PLC0415

    info = server_status(data_dir=data_dir)
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        _render(info)
    if not info["running"]:
        raise Neo4jUnavailable(f"no local Neo4j server is running (data dir {info['data_dir']})", hint="topo-graphdb neo4j start")
    if not info["ready"]:
        raise Neo4jUnavailable(f"the local Neo4j server (pid {info['pid']}) does not answer: {info['error']}")


@neo4j.command()
@_data_dir_option
def password(data_dir: Path | None) -> None:
    """Print the stored password of the local server (for scripts: NEO4J_PASSWORD=$(...))."""
    from ..errors import InputError  # noqa: PLC0415
    from ..server import stored_password  # noqa: PLC0415

    secret = stored_password(data_dir=data_dir)
    if secret is None:
        raise InputError("no password is stored (authentication off, or the server was never started with it)")
    click.echo(secret)
