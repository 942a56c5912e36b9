"""Finding a Java 17 runtime (Neo4j 5.26 runs on 17; a newer default ``java`` may be first on PATH)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import ServerError

__all__ = ["JAVA_MAJOR", "find_java", "java_home_of", "java_major", "parse_java_version"]

JAVA_MAJOR = 17
_JVM_DIR = Path("/usr/lib/jvm")


def parse_java_version(text: str) -> int | None:
    """The major version in ``java -version`` output or a JDK ``release`` file.

    ``"17.0.15"`` gives 17, the old scheme ``"1.8.0_392"`` gives 8; None when no
    version string is found.

    >>> parse_java_version('openjdk version "17.0.15" 2025-04-15')
    17
    >>> parse_java_version('JAVA_VERSION="1.8.0_392"')
    8
    >>> parse_java_version('java version "25" 2025-09-16')
    25
    """
    match = re.search(r'version\s*=?\s*"(\d+)(?:\.(\d+))?', text, flags=re.IGNORECASE)
    if match is None:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2) is not None:  # 1.8 -> 8
        major = int(match.group(2))
    return major


def java_major(java: Path) -> int | None:
    """Major version of the ``java`` executable, from the JDK's ``release`` file or ``java -version``."""
    try:
        release = java.resolve().parent.parent / "release"
        if release.is_file():
            found = parse_java_version(release.read_text(errors="replace"))
            if found is not None:
                return found
        proc = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_java_version(proc.stderr + proc.stdout)


def _candidates(jvm_dir: Path) -> list[Path]:
    found: list[Path] = []
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        found.append(Path(java_home) / "bin" / "java")
    found.append(jvm_dir / "java-17-openjdk-amd64" / "bin" / "java")
    if jvm_dir.is_dir():
        found.extend(sorted(p / "bin" / "java" for p in jvm_dir.iterdir() if "17" in p.name))
    on_path = shutil.which("java")
    if on_path:
        found.append(Path(on_path))
    return found


def find_java(*, jvm_dir: Path = _JVM_DIR) -> Path:
    """The ``java`` executable of a Java 17 runtime.

    Looked for in this order: ``$JAVA_HOME/bin/java``, ``/usr/lib/jvm/java-17-openjdk-amd64``,
    any ``*17*`` folder under ``/usr/lib/jvm``, then ``java`` on PATH; the first whose
    version is 17 wins.

    Raises
    ------
    ServerError
        No Java 17 was found.
    """
    seen: set[Path] = set()
    for java in _candidates(jvm_dir):
        if java in seen or not (java.is_file() and os.access(java, os.X_OK)):
            continue
        seen.add(java)
        if java_major(java) == JAVA_MAJOR:
            return java
    raise ServerError(
        f"no Java {JAVA_MAJOR} runtime found (looked at JAVA_HOME, {jvm_dir}/*17*, java on PATH)",
        hint=f"install Java {JAVA_MAJOR} (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME to it",
    )


def java_home_of(java: Path) -> Path:
    """The installation folder of ``java`` (what ``JAVA_HOME`` should be for Maven)."""
    return java.resolve().parent.parent
