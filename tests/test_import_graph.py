"""The import graph holds the architecture: no cycles, the neutral core below everything, host-only code above.

Read with the standard library's ``ast`` from the source files (no import is
executed): every ``import``/``from ... import`` of an edgekit module, at module
level or inside a function, except under ``if TYPE_CHECKING:``.

- no cycles among edgekit's modules;
- no device-safe module imports a host-only one (``edgekit.host.*``); the
  command modules (``edgekit.commands.*``, the CLI) may, inside the command
  function only, because those commands run on the workstation;
- the neutral core (``edgekit.core``) imports nothing of edgekit but itself,
  the error tree, the atomic file writer (``edgekit.fsutil``, itself only on
  the error tree) and the flatbuffer schema.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.device

PACKAGE = Path(__file__).resolve().parent.parent / "edgekit"
HOST = "edgekit.host"
CORE = "edgekit.core"
CORE_MAY_IMPORT = ("edgekit.core", "edgekit.errors", "edgekit.fsutil", "edgekit.tflite._schema")
LAZY_HOST_ALLOWED = ("edgekit.commands.",)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    module_level: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "_generated" not in p.parts}


def _resolve(name: str) -> str | None:
    """The edgekit module an imported name refers to (a submodule, else its package), None if not edgekit's."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(module: str, path: Path) -> Iterator[Edge]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, module_level: bool) -> Iterator[Edge]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("edgekit"):
                        target = _resolve(alias.name)
                        if target:
                            yield Edge(module, target, child.lineno, module_level)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".")
                    base = base[: len(base) - child.level + (1 if is_package else 0)]
                    prefix = ".".join(base + ([child.module] if child.module else []))
                else:
                    prefix = child.module or ""
                if not prefix.startswith("edgekit"):
                    continue
                for alias in child.names:
                    target = _resolve(f"{prefix}.{alias.name}")
                    if target:
                        yield Edge(module, target, child.lineno, module_level)
            inner = module_level and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            yield from visit(child, inner)

    yield from visit(tree, True)


EDGES = [e for m, p in MODULES.items() for e in _imports(m, p) if e.target != e.source]


def _is_host(module: str) -> bool:
    return module == HOST or module.startswith(HOST + ".")


def _find_cycle(edges: list[Edge]) -> list[str] | None:
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None:
                found = dfs(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            found = dfs(node)
            if found:
                return found
    return None


def test_the_graph_sees_the_package() -> None:
    """The walker finds the modules and their imports (a test that looks at nothing proves nothing)."""
    assert {"edgekit.cli", "edgekit.core.quant", "edgekit.host.convert.pipeline", "edgekit.host.onnx.load"} <= set(MODULES)
    assert any(e.source == "edgekit.host.convert.pipeline" and e.target == "edgekit.core.quant" for e in EDGES)
    assert any(e.source == "edgekit.commands.convert" and _is_host(e.target) and not e.module_level for e in EDGES)


def test_no_import_cycles() -> None:
    cycle = _find_cycle(EDGES)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_cycle_finder_finds_a_planted_cycle() -> None:
    planted = [Edge("a", "b", 1, True), Edge("b", "c", 1, False), Edge("c", "a", 1, True)]
    assert _find_cycle(planted) == ["a", "b", "c", "a"]
    assert _find_cycle(planted[:2]) is None


def test_device_safe_modules_never_import_host_only_ones() -> None:
    bad = [
        f"{e.source} imports {e.target} (line {e.line}{'' if e.module_level else ', in a function'})"
        for e in EDGES
        if not _is_host(e.source) and _is_host(e.target)
        and (e.module_level or not e.source.startswith(LAZY_HOST_ALLOWED))
    ]
    assert not bad, "device-safe code depends on host-only code:\n" + "\n".join(bad)


def test_the_core_is_neutral() -> None:
    bad = [f"{e.source} imports {e.target} (line {e.line})" for e in EDGES
           if e.source.startswith(CORE) and not e.target.startswith(CORE_MAY_IMPORT)]
    assert not bad, f"edgekit.core must depend on nothing but {', '.join(CORE_MAY_IMPORT)}:\n" + "\n".join(bad)
