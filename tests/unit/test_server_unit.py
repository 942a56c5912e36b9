"""The local server's pure logic: sizes, neo4j.conf, Java detection, pid files; no Java is started."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from topo_graphdb import server, units
from topo_graphdb.cli import main
from topo_graphdb.errors import InputError, Neo4jUnavailable, ServerError
from topo_graphdb.server import _assemble, _conf, _java, _process

GIB = 1 << 30
MIB = 1 << 20


# -- sizes and memory ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2g", 2 * GIB), ("2G", 2 * GIB), ("512m", 512 * MIB), ("1.5g", 1536 * MIB), ("4096k", 4 * MIB),
     ("1GiB", GIB), (" 3gb ", 3 * GIB), ("1048576", MIB), ("1t", 1024 * GIB)],
)  # fmt: skip
def test_parse_size(text: str, expected: int) -> None:
    assert units.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "2x", "-1g", "0m", "g", "1.g"])
def test_parse_size_rejects_and_names_the_parameter(text: str) -> None:
    with pytest.raises(InputError, match="heap"):
        units.parse_size(text, name="heap")


def test_format_size() -> None:
    assert units.format_size(2 * GIB, jvm=True) == "2g"
    assert units.format_size(1536 * MIB, jvm=True) == "1536m"
    assert units.format_size(512 * MIB, jvm=True) == "512m"
    assert units.format_size(MIB + 5, jvm=True) == "1m"


def test_check_memory() -> None:
    _conf.check_memory(2 * GIB, 512 * MIB, total=24 * GIB)  # fits
    with pytest.raises(InputError, match=r"heap .*\+ pagecache .* below the physical memory"):
        _conf.check_memory(20 * GIB, 4 * GIB, total=24 * GIB)  # exactly the RAM is too much
    with pytest.raises(InputError, match="heap must be at least 512m"):
        _conf.check_memory(256 * MIB, 512 * MIB, total=24 * GIB)
    with pytest.raises(InputError, match="pagecache must be at least"):
        _conf.check_memory(GIB, MIB, total=24 * GIB)


def test_transaction_max() -> None:
    assert _conf.transaction_max(2 * GIB) == GIB  # at least 1 GiB
    assert _conf.transaction_max(8 * GIB) == 4 * GIB  # half the heap
    assert _conf.transaction_max(512 * MIB) == 512 * MIB  # never above the heap


# -- neo4j.conf -----------------------------------------------------------------------------------


def _settings(text: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "a setting appears twice"
    return dict(pairs)


@pytest.mark.parametrize("auth", [True, False])
def test_render_conf(tmp_path: Path, auth: bool) -> None:
    paths = _conf.InstancePaths(tmp_path / "inst")
    plugins = tmp_path / "home" / "plugins"
    conf = _settings(_conf.render_conf(paths, plugins_dir=plugins, port=7999, heap=4 * GIB, pagecache=512 * MIB, auth=auth))
    assert conf["server.bolt.listen_address"] == "127.0.0.1:7999"
    assert conf["server.bolt.enabled"] == "true"
    assert conf["server.http.enabled"] == "false"
    assert conf["server.https.enabled"] == "false"
    assert conf["dbms.security.auth_enabled"] == ("true" if auth else "false")
    assert conf["dbms.usage_report.enabled"] == "false"
    assert conf["server.memory.pagecache.size"] == "512m"
    assert conf["dbms.memory.transaction.total.max"] == "2g"
    assert set(conf["dbms.security.procedures.unrestricted"].split(",")) == {"gds.*", "apoc.*"}
    assert conf["server.directories.plugins"] == str(plugins)
    for key in ("data", "logs", "run", "import", "transaction.logs.root"):
        assert Path(conf[f"server.directories.{key}"]).is_relative_to(paths.root), key
    # nothing listens beyond the loopback interface
    assert conf["server.default_listen_address"] == "127.0.0.1"


def test_default_dirs_follow_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "s"))
    assert _conf.default_cache_dir() == tmp_path / "c" / "topo-graphdb"
    assert server.default_data_dir() == tmp_path / "s" / "topo-graphdb" / "neo4j"
    assert _assemble.home_dir() == tmp_path / "c" / "topo-graphdb" / f"neo4j-{server.NEO4J_VERSION}"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")  # the XDG spec ignores relative paths
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert server.default_data_dir() == tmp_path / "home" / ".local" / "state" / "topo-graphdb" / "neo4j"


# -- the pom and Maven ----------------------------------------------------------------------------


def test_packaged_pom_versions_pair_up() -> None:
    ver = _assemble.versions()
    assert ver["neo4j"].startswith("5.26.")
    assert ver["apoc"] == ver["neo4j"]
    assert ver["gds"].startswith("2.13.")
    assert server.NEO4J_VERSION == ver["neo4j"]


def test_split_jars_puts_apoc_and_gds_in_plugins() -> None:
    names = [
        "org.neo4j.neo4j-5.26.19.jar",
        "org.neo4j.procedure.apoc-core-5.26.19.jar",
        "org.neo4j.gds.core-2.13.9.jar",
        "org.apache.commons.commons-lang3-3.18.0.jar",
        "README.txt",
    ]
    lib, plugins = _assemble.split_jars(names)
    assert lib == ["org.apache.commons.commons-lang3-3.18.0.jar", "org.neo4j.neo4j-5.26.19.jar"]
    assert plugins == ["org.neo4j.gds.core-2.13.9.jar", "org.neo4j.procedure.apoc-core-5.26.19.jar"]


def test_is_complete_needs_the_marker_of_this_pom(tmp_path: Path) -> None:
    home = tmp_path / "neo4j"
    home.mkdir()
    assert not _assemble.is_complete(home, "<pom/>")
    (home / _assemble.MARKER).write_text('{"pom_sha256": "0000"}')
    assert not _assemble.is_complete(home, "<pom/>")
    (home / _assemble.MARKER).write_text(json.dumps({"pom_sha256": _assemble._pom_digest("<pom/>")}))
    assert _assemble.is_complete(home, "<pom/>")


def test_maven_error_names_the_artifact() -> None:
    out = (
        "[INFO] Scanning\n[ERROR] Failed to execute goal on project x: Could not resolve dependencies for project "
        "a:b:pom:1: The following artifacts could not be resolved: org.neo4j.gds:proc:jar:9.9.9: Could not find "
        "artifact org.neo4j.gds:proc:jar:9.9.9 in central (https://repo.maven.apache.org/maven2) -> [Help 1]\n"
    )
    assert "org.neo4j.gds:proc:jar:9.9.9" in _assemble.maven_error(out)
    offline = "[ERROR] Failed: Could not transfer artifact org.neo4j:neo4j:pom:5.26.19 from/to central (https://x): Unknown host x -> [Help 1]"
    message = _assemble.maven_error(offline)
    assert "org.neo4j:neo4j:pom:5.26.19" in message and "Unknown host" in message
    assert _assemble.maven_error("[ERROR] something else\n[ERROR] more") == "something else"


def test_assemble_without_maven_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ServerError, match=r"Maven \(mvn\) is not on PATH"):
        server.assemble()


# -- Java -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "major"),
    [('openjdk version "17.0.15" 2025-04-15', 17), ('java version "1.8.0_392"', 8),
     ('openjdk version "25" 2025-09-16', 25), ('JAVA_VERSION="21.0.2"', 21), ("no version here", None)],
)  # fmt: skip
def test_parse_java_version(text: str, major: int | None) -> None:
    assert _java.parse_java_version(text) == major


def _fake_jdk(root: Path, version: str, *, release: bool = True) -> Path:
    java = root / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f'#!/bin/sh\necho \'openjdk version "{version}"\' >&2\n')
    java.chmod(0o755)
    if release:
        (root / "release").write_text(f'JAVA_VERSION="{version}"\n')
    return java


def test_find_java_prefers_java_home_when_it_is_17(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jvm = tmp_path / "jvm"
    _fake_jdk(jvm / "temurin-17-jdk", "17.0.9")
    mine = _fake_jdk(tmp_path / "my-jdk", "17.0.1", release=False)  # found through `java -version`
    monkeypatch.setenv("JAVA_HOME", str(mine.parent.parent))
    monkeypatch.setenv("PATH", "")
    assert _java.find_java(jvm_dir=jvm) == mine


def test_find_java_skips_other_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jvm = tmp_path / "jvm"
    newer = _fake_jdk(tmp_path / "temurin-25", "25.0.1")
    _fake_jdk(jvm / "java-11-openjdk", "11.0.2")
    seventeen = _fake_jdk(jvm / "openjdk-17", "17.0.15")
    monkeypatch.setenv("JAVA_HOME", str(newer.parent.parent))
    monkeypatch.setenv("PATH", str(newer.parent))  # a Java 25 first on PATH
    assert _java.find_java(jvm_dir=jvm) == seventeen


def test_find_java_uses_path_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = _fake_jdk(tmp_path / "somewhere", "17.0.3", release=False)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert _java.find_java(jvm_dir=tmp_path / "no-jvm") == on_path


def test_find_java_none_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = _fake_jdk(tmp_path / "jdk8", "1.8.0_392")
    monkeypatch.setenv("JAVA_HOME", str(old.parent.parent))
    monkeypatch.setenv("PATH", str(old.parent))
    with pytest.raises(ServerError, match="no Java 17 runtime found") as info:
        _java.find_java(jvm_dir=tmp_path / "no-jvm")
    assert "\n" not in str(info.value)


# -- the process ----------------------------------------------------------------------------------


def test_java_command(tmp_path: Path) -> None:
    paths = _conf.InstancePaths(tmp_path / "inst")
    home = tmp_path / "home"
    cmd = _process.java_command(Path("/jdk/bin/java"), home, paths, plugins_dir=home / "plugins", heap=4 * GIB)
    assert cmd[0] == "/jdk/bin/java"
    assert "-Xmx4g" in cmd and "-Xms1g" in cmd
    assert "--add-opens=java.base/java.nio=ALL-UNNAMED" in cmd
    assert "--add-modules=jdk.incubator.vector" in cmd
    classpath = cmd[cmd.index("-cp") + 1]
    assert classpath == f"{home}/plugins/*:{home}/lib/*"  # plugins first, as the neo4j script does
    main_at = cmd.index(_process.MAIN_CLASS)
    assert cmd[main_at + 1 :] == [f"--home-dir={home}", f"--config-dir={paths.conf_dir}", "--console-mode"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_pid_file_of_a_dead_process_is_removed(tmp_path: Path) -> None:
    paths = _conf.InstancePaths(tmp_path)
    paths.pid_file.write_text(f"{_dead_pid()}\n")
    assert _process.running_pid(paths) is None
    assert not paths.pid_file.exists()


def test_pid_file_naming_another_live_process_is_stale_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"uri": "bolt://127.0.0.1:1", "port": 1, "auth": false}')
    (tmp_path / "neo4j.pid").write_text(f"{os.getpid()}\n")  # alive, but not a Neo4j server
    assert server.stop(data_dir=tmp_path) is False  # and this process is still here to assert it
    assert not (tmp_path / "neo4j.pid").exists()
    info = server.status(data_dir=tmp_path)
    assert info["running"] is False and info["pid"] is None and info["error"] == "not running"
    with pytest.raises(Neo4jUnavailable, match="no local Neo4j server is running") as err:
        server.local_connection(tmp_path)
    assert "topo-graphdb neo4j start" in str(err.value)


def test_garbage_pid_file(tmp_path: Path) -> None:
    paths = _conf.InstancePaths(tmp_path)
    paths.pid_file.write_text("not a pid")
    assert _process.running_pid(paths) is None
    assert not paths.pid_file.exists()


def test_port_in_use_is_refused_before_java_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_java() -> Path:
        raise AssertionError("Java must not be looked for when the port is taken")

    monkeypatch.setattr(server, "find_java", no_java)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ServerError, match=f"port {port} on 127.0.0.1 is already in use"):
            server.start(data_dir=tmp_path, port=port, heap="1g", pagecache="64m")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"port": 0}, "port must be"), ({"port": 70000}, "port must be"), ({"heap": "lots"}, "heap"),
     ({"pagecache": "-1m"}, "pagecache"), ({"timeout": 0}, "timeout"), ({"heap": "100000g"}, "physical memory")],
)  # fmt: skip
def test_start_validates_its_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        server.start(data_dir=tmp_path, **kwargs)
    assert not (tmp_path / "conf").exists()  # nothing was written


def test_password_file_is_private(tmp_path: Path) -> None:
    paths = _conf.InstancePaths(tmp_path)
    server._write_password(paths, "s3cret-value")
    assert stat.S_IMODE(paths.password_file.stat().st_mode) == 0o600
    assert server.stored_password(data_dir=tmp_path) == "s3cret-value"


def test_log_problem_and_gds_detection(tmp_path: Path) -> None:
    paths = _conf.InstancePaths(tmp_path)
    paths.logs.mkdir()
    paths.console_log.write_text(
        "2026-01-01 INFO  Starting...\n"
        "2026-01-01 ERROR Failed to start Neo4j: Starting database failed\n"
        "org.neo4j.kernel.lifecycle.LifecycleException: boom\n"
        "\tat org.neo4j.kernel.Foo.bar(Foo.java:1)\n"
        "Caused by: java.lang.RuntimeException: outer\n"
        "\tat org.neo4j.gds.Proc.x(Proc.java:2)\n"
        "Caused by: java.lang.ClassNotFoundException: org.neo4j.gds.core.Thing\n"
        "\t... 5 more\n"
    )
    assert _process.log_problem(paths) == "java.lang.ClassNotFoundException: org.neo4j.gds.core.Thing"
    assert server._gds_broke_start(paths)
    paths.console_log.write_text("2026-01-01 ERROR Failed: Address already in use\n")
    assert _process.log_problem(paths) == "2026-01-01 ERROR Failed: Address already in use"
    assert not server._gds_broke_start(paths)


# -- CLI ------------------------------------------------------------------------------------------


def test_cli_status_not_running_exits_4(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["neo4j", "status", "--data-dir", str(tmp_path), "--json"])
    assert result.exit_code == 4
    assert '"running": false' in result.stdout


@pytest.mark.parametrize("has", [True, False])
def test_cli_status_says_how_writes_and_exports_go(tmp_path: Path, monkeypatch, has: bool) -> None:
    info = {
        "running": True, "ready": True, "error": None, "version": "5.26.19", "pid": 42, "uri": "bolt://127.0.0.1:7687",
        "auth": False, "mode": "server", "data_dir": str(tmp_path), "log": "neo4j.log", "apoc_version": "5.26.19",
        "gds_version": "2.13.4", "write_procedures": has, "export_procedure": has,
    }  # fmt: skip
    monkeypatch.setattr(server, "status", lambda data_dir=None: info)
    result = CliRunner().invoke(main, ["neo4j", "status", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    if has:
        assert "writes:   topo.write procedures" in result.stdout and "export:   topo.export.relationships procedure" in result.stdout
    else:
        assert "export:   Cypher (no topo.export.relationships procedure)" in result.stdout


def test_cli_password_without_one_exits_3(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["neo4j", "password", "--data-dir", str(tmp_path)])
    assert result.exit_code == 3


def test_cli_stop_when_nothing_runs(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["neo4j", "stop", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert "not running" in result.stdout


# -- passwords ----------------------------------------------------------------------------------


def test_generated_passwords_start_with_a_letter_and_are_alphanumeric() -> None:
    drawn = {server.generate_password() for _ in range(2000)}
    assert len(drawn) == 2000
    assert all(len(p) == 24 and p[0].isascii() and p[0].isalpha() and p.isascii() and p.isalnum() for p in drawn)


@pytest.mark.parametrize(
    ("password", "argument"),
    [("-dash", '"-dash"'), ("@at", '"@@at"'), ("a@b", '"a@b"'), ("#hash", '"#hash"'),
     ('say "hi"', '"say \\"hi\\""'), ("back\\slash", '"back\\\\slash"'), (" spaced ", '" spaced "'),
     ("it's", '"it\'s"')],
)  # fmt: skip
def test_admin_argument_file_quotes_the_password_after_double_dash(password: str, argument: str) -> None:
    assert server.admin_password_arguments(password) == f"dbms set-initial-password -- {argument}\n"


@pytest.mark.parametrize("password", ["two\nlines", "cr\rhere", "nul\x00here", ""])
def test_admin_argument_file_refuses_what_it_cannot_quote(password: str) -> None:
    with pytest.raises(InputError) as info:
        server.admin_password_arguments(password)
    assert info.value.exit_code == 3 and "\n" not in str(info.value) and "here" not in str(info.value)


def test_initial_password_runs_the_admin_tool_with_utf8_and_an_argument_file(tmp_path: Path, monkeypatch) -> None:
    paths = _conf.InstancePaths(tmp_path)
    seen: dict = {}

    def fake_run(cmd, **kwargs):
        seen["cmd"] = cmd
        seen["args"] = Path(cmd[-1][1:]).read_bytes()
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(server.subprocess, "run", fake_run)
    server._set_initial_password(Path("java"), tmp_path / "home", paths, "-@ wörd")
    assert "-Dfile.encoding=UTF-8" in seen["cmd"] and seen["cmd"][-1].startswith("@")
    assert seen["args"] == 'dbms set-initial-password -- "-@ wörd"\n'.encode()
    assert "wörd" not in " ".join(seen["cmd"])  # never on a command line
    assert not list(tmp_path.glob(".admin-args-*"))  # the argument file is gone


def test_stored_password_keeps_spaces(tmp_path: Path) -> None:
    server._write_password(_conf.InstancePaths(tmp_path), "  spaced out ")
    assert server.stored_password(data_dir=tmp_path) == "  spaced out "


@pytest.mark.parametrize(
    ("content", "words"),
    [("", "is empty"), ("two\nlines\n", "line break"), ("short\n", "at least 8")],
)
def test_cli_start_refuses_bad_password_files_in_one_line(tmp_path: Path, content: str, words: str) -> None:
    pfile = tmp_path / "pw"
    pfile.write_text(content)
    result = CliRunner().invoke(
        main, ["neo4j", "start", "--data-dir", str(tmp_path / "data"), "--password-file", str(pfile)]
    )
    assert result.exit_code == 3, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr
    assert not (tmp_path / "data").exists()


def test_start_refuses_a_password_with_auth_off(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="authentication is off"):
        server.start(data_dir=tmp_path, auth=False, password="long-enough-pw")


# -- Bolt through the database seam (a fake driver, no server) ------------------------------------


def _hydrated(code: str, message: str) -> Exception:
    from neo4j.exceptions import Neo4jError

    return Neo4jError._hydrate_neo4j(code=code, message=message)


class _FakeDriver:
    """Records how it was opened and what each auto-commit query asked; ``answers`` maps a query's
    first words to a value (one record) or an exception. Sessions have no managed transactions, so
    anything that would be retried by the driver fails here."""

    def __init__(self, answers: dict):
        self.answers, self.queries, self.sessions, self.closed = answers, [], [], False
        self.opened: dict = {}

    def session(self, **kw):
        self.sessions.append(kw)
        driver = self

        class Session:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def run(self, query, params):
                driver.queries.append((kw["database"], query, params))
                body = " ".join(line for line in query.splitlines() if not line.startswith("//"))
                answer = next(v for k, v in driver.answers.items() if body.startswith(k))
                if isinstance(answer, BaseException):
                    raise answer

                class Result:
                    def to_eager_result(self):
                        records = answer if isinstance(answer, list) else [[answer]]
                        return type("Eager", (), {"records": records})()

                return Result()

        return Session()

    def close(self):
        self.closed = True


@pytest.fixture
def fake_driver(monkeypatch: pytest.MonkeyPatch):
    import neo4j

    made: list[_FakeDriver] = []

    def install(answers: dict) -> list[_FakeDriver]:
        def driver(uri, *, auth, **config):
            made.append(_FakeDriver(answers))
            made[-1].opened = {"uri": uri, "auth": auth, **config}
            return made[-1]

        monkeypatch.setattr(neo4j.GraphDatabase, "driver", driver)
        return made

    return install


def test_probe_pings_once_without_retries_and_within_its_timeout(fake_driver) -> None:
    from neo4j.exceptions import ServiceUnavailable

    made = fake_driver({"CALL db.ping()": [[True]]})
    assert _process.probe("bolt://127.0.0.1:1", ("neo4j", "pw-pw-pw-pw"), timeout=2.5) == ("ready", "")
    (driver,) = made
    assert driver.opened["auth"] == ("neo4j", "pw-pw-pw-pw") and driver.closed
    assert driver.opened["connection_timeout"] == driver.opened["connection_acquisition_timeout"] == 2.5
    assert [q[0] for q in driver.queries] == ["neo4j"]  # one auto-commit query: nothing retries it
    cases = [
        (_hydrated("Neo.ClientError.Security.Unauthorized", "bad creds"), ("auth", "bad creds")),
        (_hydrated("Neo.ClientError.Security.CredentialsExpired", "change it"), ("auth", "change it")),
        (_hydrated("Neo.TransientError.Database.DatabaseUnavailable", "starting"), "down"),
        (_hydrated("Neo.ClientError.Statement.SyntaxError", "odd"), ("down", "Neo.ClientError.Statement.SyntaxError: odd")),
        (ServiceUnavailable("Couldn't connect to 127.0.0.1:1"), ("down", "Couldn't connect to 127.0.0.1:1")),
    ]
    for error, expected in cases:
        fake_driver({"CALL db.ping()": error})
        kind, why = _process.probe("bolt://127.0.0.1:1", None, timeout=1)
        assert (kind, why) == expected if isinstance(expected, tuple) else kind == expected and "starting" in why
    assert made[-1].opened["auth"] is None


def test_the_default_password_is_changed_on_the_system_database(fake_driver) -> None:
    from neo4j.exceptions import ServiceUnavailable

    made = fake_driver({"ALTER CURRENT USER": []})
    assert server._change_default_password("bolt://127.0.0.1:1", "new-password") is True
    assert made[-1].opened["auth"] == ("neo4j", "neo4j") and made[-1].opened["connection_timeout"] == 10
    ((database, _query, params),) = made[-1].queries
    assert database == "system" and params == {"old": "neo4j", "new": "new-password"}
    for not_yet in (_hydrated("Neo.TransientError.General.DatabaseUnavailable", "wait"), ServiceUnavailable("down")):
        fake_driver({"ALTER CURRENT USER": not_yet})
        assert server._change_default_password("bolt://127.0.0.1:1", "new-password") is False
    fake_driver({"ALTER CURRENT USER": _hydrated("Neo.ClientError.Security.Unauthorized", "no")})
    with pytest.raises(ServerError, match="not stored in this data dir"):
        server._change_default_password("bolt://127.0.0.1:1", "new-password")


def test_status_reports_versions_and_the_server_s_own_plugin_errors(tmp_path: Path, monkeypatch, fake_driver) -> None:
    from neo4j.exceptions import ServiceUnavailable

    monkeypatch.setattr(server, "running_pid", lambda paths: 4242)
    (tmp_path / "state.json").write_text(json.dumps({"uri": "bolt://127.0.0.1:1", "auth": False, "mode": "server"}))
    assert server._paths(tmp_path).state_file == tmp_path / "state.json"
    missing = _hydrated("Neo.ClientError.Statement.SyntaxError", "Unknown function 'gds.version'")
    made = fake_driver(
        {"CALL dbms.components()": [{"version": "5.26.0", "edition": "community"}], "RETURN apoc.version()": "5.26.0", "RETURN gds.version()": missing,
         "SHOW PROCEDURES": []}
    )
    info = server.status(data_dir=tmp_path)
    assert info["ready"] and info["error"] is None and (info["version"], info["edition"]) == ("5.26.0", "community")
    assert (info["apoc_version"], info["apoc_error"]) == ("5.26.0", None)
    assert info["gds_version"] is None and info["gds_error"] == "Neo.ClientError.Statement.SyntaxError: Unknown function 'gds.version'"
    assert info["write_procedures"] is False and info["export_procedure"] is False  # SHOW PROCEDURES found none
    assert made[-1].opened["auth"] is None and made[-1].opened["connection_timeout"] == 10
    assert {q[0] for q in made[-1].queries} == {"neo4j"} and made[-1].closed
    fake_driver({"CALL dbms.components()": ServiceUnavailable("Couldn't connect to 127.0.0.1:1")})
    info = server.status(data_dir=tmp_path)
    assert not info["ready"] and info["error"] == "Couldn't connect to 127.0.0.1:1"  # the driver's words, as before


def test_write_procedures_are_skipped_without_a_jdk(tmp_path, monkeypatch) -> None:
    from topo_graphdb.server._procedures import build_procedures, procedures_jar

    monkeypatch.setenv("PATH", str(tmp_path))  # no javac on the PATH, none beside this java
    said: list[str] = []
    home = tmp_path / "home"
    (home / "plugins").mkdir(parents=True)
    assert build_procedures(home, tmp_path / "jdk" / "bin" / "java", progress=said.append) is None
    assert not procedures_jar(home).exists() and "javac" in said[0]


def test_write_procedures_jar_name_follows_the_source(tmp_path) -> None:
    from topo_graphdb.server._procedures import JAR_PREFIX, procedures_jar

    jar = procedures_jar(tmp_path)
    assert jar.parent == tmp_path / "plugins" and jar.name.startswith(JAR_PREFIX) and jar.suffix == ".jar"
