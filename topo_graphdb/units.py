"""Byte sizes: one parser and one formatter for every memory setting.

Every size the package reads (``--memory-budget``, ``score.memory_budget`` of the
sync configuration, ``neo4j start --heap`` and ``--pagecache``) goes through
:func:`parse_size`, so one spelling means one number everywhere:

* units are binary and case-insensitive: ``k`` = 2**10, ``m`` = 2**20, ``g`` = 2**30,
  ``t`` = 2**40 bytes; a trailing ``b`` or ``ib`` changes nothing, so ``"4G"``,
  ``"4GB"``, ``"4gib"`` and ``"4GiB"`` are all 4 * 2**30 bytes (as in the JVM and
  Neo4j, not the decimal 4 * 10**9);
* a plain number is bytes: ``"65536"``, ``65536``; fractions are allowed and the
  result is rounded down: ``"1.5g"`` is 1610612736;
* anything else (``""``, ``"lots"``, ``"-1g"``, ``"1e9"``, a size too large for a
  float) is an :class:`~topo_graphdb.errors.InputError` with a one-line message
  naming the setting and the value.

:func:`format_size` writes sizes back, for people (``"1.5 GiB"``) or in the JVM and
``neo4j.conf`` notation (``"1536m"``); both read back through :func:`parse_size`.
"""

from __future__ import annotations

import math
import re

from .errors import InputError

__all__ = ["parse_size", "format_size"]

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)
_POWER = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


def parse_size(value: str | int | float, *, name: str = "size", minimum: int = 1) -> int:
    """Bytes in a size such as ``"512M"``, ``"4GB"``, ``"1.5g"`` or ``65536`` (binary units).

    Parameters
    ----------
    value : str, int or float
        A number of bytes, or a number followed by ``k``, ``m``, ``g`` or ``t``
        (any case, optionally followed by ``b`` or ``ib``): powers of 1024.
    name : str
        The setting, named in the error message.
    minimum : int
        The smallest accepted size in bytes.

    Returns
    -------
    int
        Bytes, rounded down.

    Raises
    ------
    InputError
        ``value`` is not a size, or is below ``minimum``.

    >>> parse_size("4GB") == parse_size("4GiB") == parse_size("4g") == 4 * 2**30
    True
    >>> parse_size("512M"), parse_size("1.5g"), parse_size("100"), parse_size(100)
    (536870912, 1610612736, 100, 100)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond the float range
            number = math.inf
    else:
        match = _SIZE.fullmatch(str(value))
        if match is None:
            raise InputError(f"{name} must be a size like 512M or 8G (binary units); got {value!r}")
        number = float(match.group(1)) * 1024 ** _POWER[match.group(2).lower()]
    if not math.isfinite(number):
        raise InputError(f"{name} must be a size like 512M or 8G (binary units); got {value!r}")
    if not number >= minimum:
        raise InputError(f"{name} must be at least {format_size(minimum)}; got {value!r}")
    return int(number)


def format_size(num_bytes: float, *, jvm: bool = False) -> str:
    """A size for people (``"1.5 GiB"``, ``"100 B"``) or, with ``jvm=True``, for ``-Xmx`` and ``neo4j.conf``.

    The JVM notation is whole mebibytes, rounded down, at least ``1m``, written in
    gibibytes when exact: ``"2g"``, ``"1536m"``.

    >>> format_size(1536 * 2**20), format_size(100), format_size(2**20)
    ('1.5 GiB', '100 B', '1.0 MiB')
    >>> format_size(2 * 2**30, jvm=True), format_size(1536 * 2**20, jvm=True), format_size(1000, jvm=True)
    ('2g', '1536m', '1m')
    """
    if jvm:
        mib = max(1, int(num_bytes) >> 20)
        return f"{mib >> 10}g" if mib % 1024 == 0 else f"{mib}m"
    value = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
