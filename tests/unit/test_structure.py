"""The package's shape: no import cycle, no private names across modules, no oversized module or function.

The import graph is read with :mod:`ast` from every module of ``topo_graphdb``, with the
imports inside functions (the lazy ones) counted too, since a cycle through a lazy import
is still a cycle between the two modules' jobs.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "topo_graphdb"
MAX_MODULE_LINES = 650
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name of the module a ``from ... import`` reads from."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, str]]:
    """``(module, imported name or "")`` for each import of our own modules in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name in known]
        elif isinstance(node, ast.ImportFrom):
            source = resolve(name, path.name == "__init__.py", node)
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                if sub in known:  # ``from . import module``: an import of that module
                    found.append((sub, ""))
                elif source in known:
                    found.append((source, alias.name))
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {m for m, _ in imports(name, path, known) if m != name} for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_has_no_cycle():
    assert cycles(import_graph()) == []


def test_no_module_imports_another_modules_private_name():
    known = modules()
    offending = [
        f"{name} imports {source}.{imported}"
        for name, path in known.items()
        for source, imported in imports(name, path, known)
        if imported.startswith("_") and not imported.startswith("__") and source != name
    ]
    assert offending == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_over_the_size_limit(name):
    lines = len(modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines"


def body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function's body after its docstring (the signature and docstring are not counted)."""
    body = fn.body
    has_doc = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)
    first = body[1] if has_doc and len(body) > 1 else body[0]
    return fn.end_lineno - first.lineno + 1


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_function_body_is_over_the_size_limit(name):
    tree = ast.parse(modules()[name].read_text(encoding="utf-8"))
    long = {
        f"{fn.name} ({body_lines(fn)} lines)"
        for fn in ast.walk(tree)
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and body_lines(fn) > MAX_FUNCTION_LINES
    }
    assert long == set()


def test_the_private_name_check_sees_a_relative_import(tmp_path):
    module = tmp_path / "user.py"
    module.write_text("def f():\n    from .tc import _prepare, public\n", encoding="utf-8")
    known = {"pkg.user": module, "pkg.tc": module}
    assert imports("pkg.user", module, known) == [("pkg.tc", "_prepare"), ("pkg.tc", "public")]
