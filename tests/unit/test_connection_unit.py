"""Connection settings without a server: URI schemes, passwords from files, the server's ledger names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from topo_graphdb.connection import URI_SCHEMES, check_password, check_uri, read_password_file, settings_from
from topo_graphdb.errors import InputError
from topo_graphdb.ledger import _current_names

TRICKY = ['-starts-with-dash', '@starts-with-at', '#hash at start', 'quotes "double" \'single\'',
          'back\\slash\\', '  spaces around  ', 'wörd€ ünïcode', '--', '@@', '\\"', "'"]  # fmt: skip


@pytest.mark.parametrize("scheme", URI_SCHEMES)
def test_bolt_schemes_are_accepted(scheme: str) -> None:
    assert check_uri(f"{scheme}://db.example.org:7687") == f"{scheme}://db.example.org:7687"


@pytest.mark.parametrize("uri", ["http://localhost:7474", "https://db.example.org", "localhost:7687", "bolt:/x", "bolt://", ""])
def test_other_uris_are_one_line_input_errors(uri: str) -> None:
    with pytest.raises(InputError, match=r"use bolt:// or neo4j://") as info:
        check_uri(uri)
    assert info.value.exit_code == 3 and "\n" not in str(info.value)


def test_uri_credentials_are_not_shown() -> None:
    with pytest.raises(InputError) as info:
        check_uri("http://alice:s3cret@db.example.org:7474")
    assert "s3cret" not in str(info.value) and "db.example.org:7474" in str(info.value)


def test_http_uri_through_the_cli_is_exit_3_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
    env.update(NEO4J_URI="http://127.0.0.1:9", NEO4J_PASSWORD="whatever-it-is", XDG_STATE_HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "topo_graphdb", "query", "RETURN 1"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "use bolt:// or neo4j://" in lines[0]


@pytest.mark.parametrize("password", TRICKY)
def test_password_file_keeps_every_character(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, password: str) -> None:
    pfile = tmp_path / "pw"
    pfile.write_text(password + "\n", encoding="utf-8")
    assert read_password_file(pfile) == password
    monkeypatch.delenv("NEO4J_PASSWORD", raising=False)
    monkeypatch.setenv("NEO4J_PASSWORD_FILE", str(pfile))
    settings = settings_from(uri="bolt://127.0.0.1:7687")
    assert settings.password == password and settings.auth == ("neo4j", password)


@pytest.mark.parametrize("content", ["", "\n", "two\nlines\n", "carriage\rreturn", "nul\x00byte"])
def test_bad_password_files_are_one_line_input_errors(tmp_path: Path, content: str) -> None:
    pfile = tmp_path / "pw"
    pfile.write_bytes(content.encode())
    with pytest.raises(InputError) as info:
        read_password_file(pfile, what="NEO4J_PASSWORD_FILE")
    text = str(info.value)
    assert info.value.exit_code == 3 and "\n" not in text and "NEO4J_PASSWORD_FILE" in text
    assert all(word not in text for word in ("lines", "return", "byte"))  # the password is never shown


def test_check_password_names_no_secret() -> None:
    with pytest.raises(InputError, match="line break") as info:
        check_password("hunter2\nhunter3")
    assert "hunter" not in str(info.value)


def test_old_ledger_version_names_are_translated() -> None:
    old = {"run_id": "r", "version_neo4j": "6.4.1", "version_server": "Neo4j Kernel 5.26.19 community"}
    assert _current_names(old) == {
        "run_id": "r",
        "version_neo4j_driver": "6.4.1",
        "version_neo4j_server": "5.26.19",
        "version_neo4j_edition": "community",
    }
    new = {"run_id": "r", "version_neo4j_driver": "6.4.1", "version_neo4j_server": "5.26.19"}
    assert _current_names(new) == new


class TestSettings:
    def test_env_and_empty_values(self, monkeypatch, tmp_path):
        monkeypatch.setenv("NEO4J_URI", "neo4j+s://example.databases.neo4j.io")
        monkeypatch.setenv("NEO4J_USER", "")
        monkeypatch.setenv("NEO4J_PASSWORD", "")
        pw = tmp_path / "pw"
        pw.write_text("s3cret\n")
        monkeypatch.setenv("NEO4J_PASSWORD_FILE", str(pw))
        monkeypatch.setenv("NEO4J_DATABASE", "")
        s = settings_from()
        assert (s.uri, s.user, s.password, s.database) == ("neo4j+s://example.databases.neo4j.io", "neo4j", "s3cret", "neo4j")
        assert "s3cret" not in repr(s) and "s3cret" not in s.describe()

    def test_without_a_uri_the_local_server_is_asked_or_it_is_an_error(self, monkeypatch):
        from types import SimpleNamespace

        from topo_graphdb.errors import Neo4jUnavailable

        for name in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_PASSWORD_FILE", "NEO4J_DATABASE"):
            monkeypatch.delenv(name, raising=False)
        with pytest.raises(Neo4jUnavailable, match="no Neo4j URI given"):
            settings_from()
        local = SimpleNamespace(uri="bolt://127.0.0.1:7999", user="neo4j", password="localpw")
        s = settings_from(local=lambda: local)
        assert (s.uri, s.user, s.password) == ("bolt://127.0.0.1:7999", "neo4j", "localpw")
        assert settings_from(user="other", local=lambda: local).password is None  # another user's password is never borrowed

    def test_explicit_beats_env(self, monkeypatch):
        monkeypatch.setenv("NEO4J_URI", "bolt://a:1")
        monkeypatch.setenv("NEO4J_PASSWORD", "envpw")
        s = settings_from(uri="bolt://b:2", password="optpw", database="db2")
        assert (s.uri, s.password, s.database) == ("bolt://b:2", "optpw", "db2")
