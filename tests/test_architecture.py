"""The house rules of the code base, checked on its source.

- Layers (kernels, units, stimuli, plots < stages < models < psychophysics < dashboards, app,
  CLI): a module imports only from its own layer or below; the core (kernels, stages,
  models) never imports plots; no import cycle between modules at import time.
- No private name crosses a module: nothing imports ``_name`` from another module, and no
  ``module._name`` is read through an imported workbench module (library and tests); a
  package's private submodules (``kernels/_tiles.py``) serve that package only.
- No consumer branches on a model's name: outside ``workbench/models/`` and the app
  registry, no comparison against a model class name.
"""

from __future__ import annotations

import ast
import importlib.util
import pathlib

import pytest

from workbench import MODEL_MODULES

ROOT = pathlib.Path(__file__).resolve().parents[1]
LIBRARY = sorted((ROOT / "workbench").rglob("*.py"))
TESTS = sorted((ROOT / "tests").rglob("*.py"))

# the lowest layer first; a module belongs to the first prefix it starts with
LAYERS = (
    ("workbench.kernels", "workbench.units", "workbench.dsp", "workbench._validation", "workbench._messages"),
    ("workbench.stimuli", "workbench.plots"),
    ("workbench.stages",),
    ("workbench.models",),
    ("workbench.psychophysics",),
    ("workbench.dashboards", "workbench.app", "workbench.cli"),
)
CORE = ("workbench.kernels", "workbench.units", "workbench.dsp", "workbench.stages", "workbench.models")


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int | None:
    for level, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return level
    return None  # the root package (the lazy model table) is below every layer


def _imports(path: pathlib.Path, top_level_only: bool = False):
    """(imported module, line, the imported ``(name, local name)`` pairs) for every workbench import."""
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("workbench"):
                    yield alias.name, node.lineno, ()
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            if base.startswith("workbench"):
                yield base, node.lineno, tuple((a.name, a.asname or a.name) for a in node.names)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_imports_only_go_down():
    wrong = []
    for path in LIBRARY:
        me = _module_name(path)
        for target, line, names in _imports(path):
            for module in [target] + [f"{target}.{n}" for n, _ in names if _is_module(f"{target}.{n}")]:
                if _layer(module) is not None and _layer(module) > _layer(me):
                    wrong.append(f"{me}:{line} imports {module}")
    assert wrong == []


def test_core_never_imports_plots_or_dashboards():
    wrong = [
        f"{_module_name(path)}:{line} imports {target}"
        for path in LIBRARY
        if _module_name(path).startswith(CORE)
        for target, line, names in _imports(path)
        if target.startswith(("workbench.plots", "workbench.dashboards", "workbench.app"))
        or (target == "workbench" and {"plots", "dashboards", "app"} & {n for n, _ in names})
    ]
    assert wrong == []


def test_no_import_cycle_at_import_time():
    modules = {_module_name(p): p for p in LIBRARY}
    graph = {}
    for name, path in modules.items():
        edges = set()
        for target, _, names in _imports(path, top_level_only=True):
            for module in [target] + [f"{target}.{n}" for n, _ in names]:
                if module in modules and module != name:
                    edges.add(module)
        graph[name] = edges
    # a package imports its submodules on purpose (re-exports): a cycle needs another module
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt) :] + [nxt]
                if not all(a.startswith(b + ".") or b.startswith(a + ".") for a, b in zip(cycle, cycle[1:])):
                    cycles.append(" -> ".join(cycle))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for name in graph:
        if name not in state:
            visit(name, [name])
    assert cycles == []


@pytest.mark.parametrize("where", ["workbench", "tests"])
def test_no_private_name_crosses_a_module(where):
    wrong = []
    for path in LIBRARY if where == "workbench" else TESTS:
        me = _module_name(path)
        aliases = {}  # local name -> imported workbench module
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("workbench") and a.asname:
                        aliases[a.asname] = a.name
                    package, _, last = a.name.rpartition(".")
                    if a.name.startswith("workbench") and _private(last) and not me.startswith(package):
                        wrong.append(f"{me}:{node.lineno} imports the private module {a.name}")
        for target, line, names in _imports(path):
            for n, local in names:
                full = f"{target}.{n}"
                if _is_module(full):
                    # a private submodule serves its own package only (not even its tests)
                    if _private(n) and (where == "tests" or not me.startswith(target)):
                        wrong.append(f"{me}:{line} imports the private module {full}")
                    aliases[local] = full
                elif _private(n):
                    wrong.append(f"{me}:{line} imports {n} from {target}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name):
                module = aliases.get(node.value.id)
                if module:
                    wrong.append(f"{me}:{node.lineno} reads {module}.{node.attr}")
    assert wrong == []


def test_no_consumer_branches_on_a_model_name():
    names = {n.lower() for n in MODEL_MODULES}
    allowed = ("workbench.models", "workbench.dashboards.registry")
    wrong = []
    for path in LIBRARY:
        me = _module_name(path)
        if me.startswith(allowed):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            for side in [node.left, *node.comparators]:
                values = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
                for v in values:
                    if isinstance(v, ast.Constant) and isinstance(v.value, str) and v.value.lower() in names:
                        wrong.append(f"{me}:{node.lineno} compares with {v.value!r}")
    assert wrong == []
