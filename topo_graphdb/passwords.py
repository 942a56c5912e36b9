"""Passwords: the one check of what can be stored and passed on, and the one reader of password files
(``NEO4J_PASSWORD_FILE``, ``neo4j start --password-file``)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError


def check_password(password: str, *, what: str = "the password") -> str:
    """``password`` when it can be stored and passed on: not empty, no line break, no NUL.

    Every other character (leading ``-`` or ``@``, quotes, backslashes, spaces, non-ASCII)
    is fine. The message never shows the password.
    """
    if not isinstance(password, str) or password == "":
        raise InputError(f"{what} is empty")
    if any(c in password for c in "\n\r\x00"):
        raise InputError(
            f"{what} contains a line break or a NUL character; Neo4j passwords cannot hold them",
            hint="choose a password on one line",
        )
    return password


def read_password_file(path: str | os.PathLike[str], *, what: str = "password file") -> str:
    """The password in ``path``: the whole text without its trailing line break(s).

    Leading and trailing spaces belong to the password. Raises :class:`InputError` when the
    file cannot be read, is empty or holds more than one line.
    """
    pfile = Path(path)
    try:
        text = pfile.read_text("utf-8")
    except OSError as err:
        raise InputError(f"{what} cannot be read: {pfile} ({err.strerror})") from err
    except UnicodeDecodeError as err:
        raise InputError(f"{what} is not UTF-8 text: {pfile}") from err
    return check_password(text.rstrip("\r\n"), what=f"the password in {what} {pfile}")
