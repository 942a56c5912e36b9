"""Assembling a Neo4j home (``lib/`` and ``plugins/``) from Maven Central with the packaged ``pom.xml``."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from ..errors import ServerError
from ..progress import Message
from ._conf import default_cache_dir
from ._java import find_java, java_home_of
from ._procedures import build_procedures, procedures_jar

__all__ = ["MARKER", "assemble_home", "home_dir", "is_complete", "maven_error", "pom_text", "split_jars", "versions"]

MARKER = ".assembled.json"
_PLUGIN_PREFIXES = ("org.neo4j.gds.", "org.neo4j.procedure.")
_MAVEN_TIMEOUT_S = 1800
_ASSEMBLY_REVISION = 2  # raise when the layout or the Maven call changes: re-assembles


def pom_text() -> str:
    """The packaged ``pom.xml`` that lists the server, APOC and GDS artifacts."""
    return resources.files(__package__).joinpath("pom.xml").read_text(encoding="utf-8")


def versions(pom: str | None = None) -> dict[str, str]:
    """``{"neo4j": ..., "apoc": ..., "gds": ...}`` from the ``<properties>`` of the pom."""
    root = ET.fromstring(pom if pom is not None else pom_text())
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    found = {}
    for key in ("neo4j", "apoc", "gds"):
        node = root.find(f"m:properties/m:{key}.version", ns)
        if node is None or not (node.text or "").strip():
            raise ServerError(f"the packaged pom.xml has no <{key}.version> property")
        found[key] = node.text.strip()
    return found


def home_dir(cache_dir: Path | None = None) -> Path:
    """``<cache>/neo4j-<version>``: where the assembled home lives."""
    return (cache_dir or default_cache_dir()) / f"neo4j-{versions()['neo4j']}"


def _pom_digest(pom: str) -> str:
    """Identifies what is assembled: the pom and the way it is assembled."""
    return hashlib.sha256(f"{_ASSEMBLY_REVISION}\n{pom}".encode()).hexdigest()


def is_complete(home: Path, pom: str | None = None) -> bool:
    """True when ``home`` holds a finished assembly of this pom (its marker file is written last)."""
    try:
        marker = json.loads((home / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("pom_sha256") == _pom_digest(pom if pom is not None else pom_text())


def split_jars(names: list[str]) -> tuple[list[str], list[str]]:
    """Split Maven's ``groupId.artifactId-version.jar`` names into ``(lib, plugins)``.

    APOC (``org.neo4j.procedure``) and GDS (``org.neo4j.gds``) go to plugins, the rest to lib;
    a plugin jar whose name is also in lib is left out of plugins.

    >>> split_jars(["org.neo4j.neo4j-5.26.19.jar", "org.neo4j.gds.proc-2.13.9.jar", "x.y-1.jar"])
    (['org.neo4j.neo4j-5.26.19.jar', 'x.y-1.jar'], ['org.neo4j.gds.proc-2.13.9.jar'])
    """
    jars = sorted(n for n in names if n.endswith(".jar"))
    lib = [n for n in jars if not n.startswith(_PLUGIN_PREFIXES)]
    in_lib = set(lib)
    plugins = [n for n in jars if n.startswith(_PLUGIN_PREFIXES) and n not in in_lib]
    return lib, plugins


def maven_error(output: str) -> str:
    """One line saying why Maven failed, naming the artifact when its output does.

    >>> maven_error("[ERROR] Failed ...: Could not find artifact org.neo4j.gds:proc:jar:9.9 in central (https://x)")
    'could not find org.neo4j.gds:proc:jar:9.9 in central (https://x)'
    """
    for pattern, verb in (
        (r"Could not find artifact (\S+)( in [^\n]*?\))?", "could not find"),
        (r"Could not transfer artifact (\S+)[^\n]*?: ([^\n]*?)(?: -> \[Help|$)", "could not download"),
    ):
        match = re.search(pattern, output, flags=re.MULTILINE)
        if match:
            rest = (match.group(2) or "").strip()
            if verb == "could not download" and rest:
                rest = f"({rest})"
            return " ".join(f"{verb} {match.group(1)} {rest}".split())
    errors = [line[len("[ERROR]"):].strip() for line in output.splitlines() if line.startswith("[ERROR]")]
    errors = [line for line in errors if line]
    if errors:
        return errors[0][:300]
    tail = [line.strip() for line in output.splitlines() if line.strip()]
    return tail[-1][:300] if tail else "no output"


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_maven(mvn: str, java: Path, build: Path, staging: Path, log: Path, label: str) -> None:
    cmd = [
        mvn, "-B", "-ntp", "-f", str(build / "pom.xml"),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-Dmdep.prependGroupId=true",
    ]  # fmt: skip  (every scope: the imported Neo4j BOM gives some runtime jars of GDS test scope)
    env = dict(os.environ, JAVA_HOME=str(java_home_of(java)))
    try:
        proc = subprocess.run(
            cmd, cwd=build, env=env, capture_output=True, text=True, timeout=_MAVEN_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as err:
        raise ServerError(
            f"Maven did not finish assembling {label} within {_MAVEN_TIMEOUT_S} s",
            hint="check network access to Maven Central",
        ) from err
    except OSError as err:
        raise ServerError(f"cannot run Maven ({mvn}): {err.strerror}") from err
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise ServerError(
            f"Maven failed to assemble {label}: {maven_error(proc.stdout + proc.stderr)}",
            hint=f"network access to Maven Central (or a mirror in ~/.m2/settings.xml) is needed once; full output: {log}",
        )


def assemble_home(*, progress: Message | None = None, cache_dir: Path | None = None) -> Path:
    """Assemble (once) and return the Neo4j home; see :func:`topo_graphdb.server.assemble`."""
    say = progress or (lambda _msg: None)
    pom = pom_text()
    home = home_dir(cache_dir)
    if is_complete(home, pom):
        return _with_procedures(home, say)
    ver = versions(pom)
    label = f"Neo4j {ver['neo4j']} with APOC {ver['apoc']} and GDS {ver['gds']}"
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServerError(
            "Maven (mvn) is not on PATH; it is needed once to assemble the local Neo4j",
            hint="install Maven 3.6 or later (e.g. apt-get install maven)",
        )
    java = find_java()
    cache = home.parent
    with _lock(cache / f".{home.name}.lock"):
        if is_complete(home, pom):  # another process finished it while we waited
            return home
        started = time.monotonic()
        say(f"assembling {label} into {home} with Maven (needs network the first time) ...")
        build = cache / f".{home.name}.build-{os.getpid()}"
        shutil.rmtree(build, ignore_errors=True)
        try:
            build.mkdir(parents=True)
            (build / "pom.xml").write_text(pom, encoding="utf-8")
            staging = build / "staging"
            _run_maven(mvn, java, build, staging, cache / f"maven-{home.name}.log", label)
            lib, plugins = split_jars(os.listdir(staging))
            required = {
                f"org.neo4j.neo4j-{ver['neo4j']}.jar": lib,
                f"org.neo4j.procedure.apoc-core-{ver['apoc']}.jar": plugins,
                f"org.neo4j.gds.proc-{ver['gds']}.jar": plugins,
            }
            missing = [name for name, where in required.items() if name not in where]
            if missing:
                raise ServerError(f"Maven finished but these jars are missing: {', '.join(missing)}")
            new_home = build / "home"
            for sub, names in (("lib", lib), ("plugins", plugins)):
                (new_home / sub).mkdir(parents=True)
                for name in names:
                    os.replace(staging / name, new_home / sub / name)
            marker = {
                "pom_sha256": _pom_digest(pom),
                "versions": ver,
                "lib_jars": len(lib),
                "plugin_jars": len(plugins),
                "seconds": round(time.monotonic() - started, 1),
                "assembled_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            (new_home / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
            if home.exists():
                shutil.rmtree(home)
            os.replace(new_home, home)
        finally:
            shutil.rmtree(build, ignore_errors=True)
        say(f"assembled {len(lib)} lib and {len(plugins)} plugin jars in {marker['seconds']:.0f} s")
    return _with_procedures(home, say)


def _with_procedures(home: Path, say: Message) -> Path:
    """``home``, with the ``topo.write`` procedures compiled into its plugins when a JDK allows it."""
    if not procedures_jar(home).is_file():
        with _lock(home.parent / f".{home.name}.lock"):
            build_procedures(home, find_java(), progress=say)
    return home
