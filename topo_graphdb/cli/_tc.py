"""CLI commands (registered on import)."""

from ._group import main  # noqa: F401
