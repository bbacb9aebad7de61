"""No import cycles among ``core/`` modules.

The graph is read from the source with :mod:`ast` (nothing is imported). Nodes are the
modules of the ``core`` package (``core`` for ``core/__init__.py``, ``core.objectives`` for
``core/objectives/__init__.py``, ``core.objectives.lfr``, ...). Edges, from the module that
holds the statement:

* every ``import core.x`` / ``from core.x import y`` / relative ``from .x import y``, at any
  depth: an import inside a function is an edge too (a lazy import still couples the two
  modules; it only hides the cycle until the function runs);
* ``from core import x`` (or ``from core.objectives import x``) is an edge to the submodule
  ``core.x`` when ``x`` is one (a file or package), else to the package itself;
* ``import core`` (e.g. for ``core.__version__``) is an edge to the package ``core``.

Left out, by design:

* imports under ``if TYPE_CHECKING:`` (never executed; they only name types);
* the implicit "importing ``core.x`` runs ``core/__init__.py`` first": the package re-exports
  leaf modules (``core.specs``, ``core.errors``, ``core.lazy``), and counting that implicit
  edge would make every module look cyclic. An explicit edge to the package (``import core``,
  ``from core import hookimpl``) does count, so a leaf that imports ``core`` back is a cycle;
* dynamic imports (``importlib.import_module(f"core.objectives.{name}")``): not statically known.
"""
from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "core"


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def core_modules() -> dict[str, Path]:
    """``{dotted name: file}`` for every module of the ``core`` package."""
    return {_module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the statements under ``if TYPE_CHECKING:`` blocks."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                skipped.update(id(n) for n in ast.walk(stmt))
    return skipped


def _resolve_from(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, modules: dict) -> set[str]:
    """The core modules that ``module`` (file ``path``) imports, anywhere in its body."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = _type_checking_nodes(tree)
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve_from(module, is_package, node)
            if source not in modules:
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                out.add(sub if sub in modules else source)
    out.discard(module)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = core_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle as ``[a, b, ..., a]``, or ``[]`` (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for root in sorted(graph):
        if state.get(root):
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return []


def test_graph_reads_lazy_relative_and_submodule_imports(tmp_path, monkeypatch):
    pkg = tmp_path / "core"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from core.leaf import x\n__version__ = '1'\n")
    (pkg / "leaf.py").write_text("x = 1\n")
    (pkg / "a.py").write_text("def f():\n    from core import b, __version__\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import core.a\n"
                              "from .sub import c\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("from . import d\nfrom ..leaf import x\nimport core\n")
    (pkg / "sub" / "d.py").write_text("from core.sub import c\n")
    monkeypatch.setitem(globals(), "CORE", pkg)
    graph = import_graph()
    assert graph["core.a"] == {"core.b", "core"}  # inside a function; `from core import b` is the submodule
    assert graph["core.b"] == {"core.sub.c"}  # TYPE_CHECKING left out; relative import resolved
    assert graph["core.sub.c"] == {"core.sub.d", "core.leaf", "core"}
    assert graph["core"] == {"core.leaf"}
    assert find_cycle(graph) == ["core.sub.c", "core.sub.d", "core.sub.c"]
    assert find_cycle({"x": {"y"}, "y": set()}) == []


def test_core_has_no_import_cycle():
    graph = import_graph()
    assert "core.cli" in graph and "core.objectives.lfr" in graph
    cycle = find_cycle(graph)
    assert not cycle, "import cycle among core modules: " + " -> ".join(cycle)
