"""The bulk write-back procedures (``topo.write.*``, ``procedures/TopoWrite.java``) as a plugin jar.

The source ships with the package and is compiled with the JDK's ``javac`` against the assembled
server's own jars, once per source version, into ``<home>/plugins/topo-graphdb-write-<digest>.jar``.
The procedures are an optimisation only: without a JDK (or on a server without the jar) the
write-back runs the equivalent Cypher statements, so a failed build is reported and skipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from importlib import resources
from pathlib import Path

from ..progress import Message
from ._java import java_home_of

__all__ = ["JAR_PREFIX", "build_procedures", "procedures_jar", "source_text"]

JAR_PREFIX = "topo-graphdb-write-"
_SOURCE = "TopoWrite.java"
_PACKAGE_DIR = "topo/graphdb"
_JAVAC_TIMEOUT_S = 300


def source_text() -> str:
    return resources.files(__package__).joinpath("procedures", _SOURCE).read_text(encoding="utf-8")


def procedures_jar(home: Path) -> Path:
    """Where the jar of this source version lives in the assembled ``home``."""
    digest = hashlib.sha256(source_text().encode()).hexdigest()[:12]
    return home / "plugins" / f"{JAR_PREFIX}{digest}.jar"


def _javac(java: Path) -> Path | None:
    found = java_home_of(java) / "bin" / "javac"
    if found.is_file():
        return found
    other = shutil.which("javac")
    return Path(other) if other else None


def build_procedures(home: Path, java: Path, *, progress: Message | None = None) -> Path | None:
    """Compile the procedures into ``home``'s plugins (once); the jar, or None when no JDK can build it.

    Call it with the home's assembly lock held: it removes the jars of older source versions.
    """
    jar = procedures_jar(home)
    if jar.is_file():
        return jar
    say = progress or (lambda _msg: None)
    javac = _javac(java)
    if javac is None:
        say("no javac (a JDK) found: the write-back uses Cypher statements instead of the topo.write procedures")
        return None
    with tempfile.TemporaryDirectory(prefix="topo-procedures-") as tmp:
        src = Path(tmp) / "src" / _SOURCE
        src.parent.mkdir()
        src.write_text(source_text(), encoding="utf-8")
        classes = Path(tmp) / "classes"
        cmd = [str(javac), "--release", "17", "-nowarn", "-cp", str(home / "lib" / "*"), "-d", str(classes), str(src)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_JAVAC_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            say(f"could not compile the topo.write procedures ({err}); the write-back uses Cypher statements")
            return None
        if proc.returncode != 0:
            first = next((line for line in proc.stderr.splitlines() if line.strip()), "no output")
            say(f"could not compile the topo.write procedures ({first[:200]}); the write-back uses Cypher statements")
            return None
        staged = Path(tmp) / jar.name
        with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: topo-graphdb\n\n")
            for cls in sorted((classes / _PACKAGE_DIR).glob("*.class")):
                z.write(cls, f"{_PACKAGE_DIR}/{cls.name}")
        for old in jar.parent.glob(f"{JAR_PREFIX}*.jar"):
            old.unlink()
        shutil.move(str(staged), jar.with_suffix(".tmp"))
        os.replace(jar.with_suffix(".tmp"), jar)
    say(f"compiled the topo.write procedures into {jar.name}")
    return jar
