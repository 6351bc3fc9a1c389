"""The import graph of src/ keeps the architecture the folders show.

Read with ``ast`` (no module is imported), every ``import`` / ``from ... import`` in src/,
function-local ones included and relative ones resolved. The graph of src-internal imports has
no cycle; nothing under src/data, src/prep, src/tools (and the other NO_FRAMEWORK_PACKAGES) loads MindSpore when it is imported
(directly or through the src modules it imports at module level), so data preparation and the
lightweight tools start fast and run without the framework; and no src module reads the
top-level ``config`` module (it is the zoo's view for entry points, built from src.config).
"""
import ast
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, List, Optional, Set, Tuple

import pytest

from tests.helpers import ROOT

PACKAGE = "src"
NO_FRAMEWORK_PACKAGES = ("src.data", "src.prep", "src.tools",
                         # what a small device running ONNX needs, and what every stage shares
                         "src.config", "src.decoding", "src.export.quantize", "src.inference.onnx_predictor",
                         "src.common.errors", "src.common.files")
# Modules under NO_FRAMEWORK_PACKAGES that may load MindSpore, each with the reason.
RUNS_A_NETWORK = {
    "src.tools.check_export": "loads a MINDIR and a checkpoint and runs both networks to compare their outputs",
}
FRAMEWORK = "mindspore"
TOP_LEVEL_CONFIG = "config"


@dataclass(frozen=True)
class Import:
    """One imported name as written: the absolute module it names and where it stands."""
    target: str           # absolute dotted name, e.g. "src.data.features" or "mindspore.dataset"
    names: Tuple[str, ...]  # for ``from X import a, b``: ("a", "b"); () for ``import X``
    line: int
    module_level: bool    # runs when the module is imported (not inside a function)


@dataclass
class Module:
    name: str
    path: str
    is_package: bool
    imports: List[Import] = field(default_factory=list)


def module_name(root: str, path: str) -> str:
    """``<root>/src/data/features.py`` -> ``src.data.features``; a package's ``__init__.py`` -> the package."""
    parts = os.path.relpath(path, root)[:-len(".py")].split(os.sep)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class _ImportCollector(ast.NodeVisitor):
    """Collects imports with their absolute targets; tracks whether each runs at import time."""

    def __init__(self, module: Module):
        self.module = module
        self.function_depth = 0

    def _in_function(self, node: ast.AST) -> None:
        self.function_depth += 1
        self.generic_visit(node)
        self.function_depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _in_function

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
                (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
            for child in node.orelse:  # the ``if`` body never runs
                self.visit(child)
            return
        self.generic_visit(node)

    def _add(self, target: str, names: Tuple[str, ...], node: ast.stmt) -> None:
        self.module.imports.append(Import(target, names, node.lineno, self.function_depth == 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, (), node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            package = self.module.name.split(".")
            if not self.module.is_package:
                package = package[:-1]
            base = package[:len(package) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module
        self._add(target, tuple(alias.name for alias in node.names), node)


def read_modules(root: str, package: str = PACKAGE) -> Dict[str, Module]:
    """Every module under ``<root>/<package>`` with the imports it contains."""
    modules = {}
    for folder, dirs, files in os.walk(os.path.join(root, package)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for filename in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, filename)
            module = Module(module_name(root, path), path, filename == "__init__.py")
            with open(path, encoding="utf-8") as fh:
                tree = ast.parse(fh.read(), filename=path)
            _ImportCollector(module).visit(tree)
            modules[module.name] = module
    return modules


def is_within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def internal_targets(imp: Import, modules: Dict[str, Module], package: str = PACKAGE) -> List[str]:
    """The package's modules an import names: ``from pkg import sub`` names the submodule ``pkg.sub``."""
    if not is_within(imp.target, package):
        return []
    targets = [f"{imp.target}.{name}" for name in imp.names if f"{imp.target}.{name}" in modules]
    if len(targets) < len(imp.names) or not imp.names:  # some names are attributes of the module itself
        targets.append(imp.target)
    return targets


def unresolved_imports(modules: Dict[str, Module], package: str = PACKAGE) -> List[str]:
    return [f"{os.path.relpath(m.path, ROOT)}:{imp.line}: {imp.target}" for m in modules.values() for imp in m.imports
            if is_within(imp.target, package) and imp.target not in modules]


def import_graph(modules: Dict[str, Module], package: str = PACKAGE) -> Dict[str, Dict[str, int]]:
    """module -> {imported module: line of the first such import}, function-local imports included."""
    graph = {name: {} for name in modules}
    for module in modules.values():
        for imp in module.imports:
            for target in internal_targets(imp, modules, package):
                if target in modules:
                    graph[module.name].setdefault(target, imp.line)
    return graph


def find_cycles(graph: Dict[str, Dict[str, int]]) -> List[List[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component that has one (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components: List[List[str]] = []

    def connect(node: str) -> None:  # recursion depth <= number of modules (~60)
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [cycle_through(component, graph) for component in components]


def cycle_through(component: List[str], graph: Dict[str, Dict[str, int]]) -> List[str]:
    """A shortest path from the component's first module back to itself (breadth first)."""
    members, start = set(component), component[0]
    previous: Dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node]):
                if nxt == start:
                    path = [start]
                    while node != start:
                        path.append(node)
                        node = previous[node]
                    return [start] + path[:0:-1] + [start]
                if nxt in members and nxt not in previous:
                    previous[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {component}")  # Tarjan said there is one


def framework_chain(start: str, modules: Dict[str, Module], framework: str = FRAMEWORK,
                    package: str = PACKAGE) -> Optional[List[str]]:
    """How importing ``start`` loads ``framework``: ``[start, ..., "module:line framework"]``, or None.

    Follows module-level imports only, and the parent packages whose ``__init__`` an import runs."""
    def runs_on_import(name: str) -> List[str]:
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        return [p for p in parents if p in modules] + [name]

    came_from: Dict[str, Optional[str]] = {start: None}
    for parent in runs_on_import(start)[:-1]:
        came_from[parent] = start
    queue = list(came_from)
    while queue:
        name = queue.pop(0)
        for imp in modules[name].imports:
            if not imp.module_level:
                continue
            if is_within(imp.target, framework):
                chain = [f"{name}:{imp.line} imports {imp.target}"]
                while came_from[name] is not None:
                    name = came_from[name]
                    chain.append(name)
                return chain[::-1]
            for target in internal_targets(imp, modules, package):
                for loaded in runs_on_import(target):
                    if loaded in modules and loaded not in came_from:
                        came_from[loaded] = name
                        queue.append(loaded)
    return None


@lru_cache(maxsize=1)
def src_modules() -> Dict[str, Module]:
    return read_modules(ROOT)


# --- the rules, on src/ ---------------------------------------------------------------------------

def test_every_src_import_names_an_existing_module():
    assert unresolved_imports(src_modules()) == []


def test_no_import_cycles():
    graph = import_graph(src_modules())
    cycles = find_cycles(graph)
    described = [" -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(c, c[1:])) + f" -> {c[-1]}" for c in cycles]
    assert not cycles, "import cycles in src/:\n" + "\n".join(described)


def test_data_prep_and_tools_do_not_load_mindspore():
    modules = src_modules()
    assert set(RUNS_A_NETWORK) <= set(modules), "the allow-list names a module that no longer exists"
    offenders = []
    for name in sorted(modules):
        if any(is_within(name, p) for p in NO_FRAMEWORK_PACKAGES) and name not in RUNS_A_NETWORK:
            chain = framework_chain(name, modules)
            if chain:
                offenders.append(" -> ".join(chain))
    assert not offenders, "modules that load MindSpore when imported:\n" + "\n".join(offenders)


def test_no_src_module_imports_the_top_level_config():
    offenders = [f"{os.path.relpath(m.path, ROOT)}:{imp.line}" for m in src_modules().values() for imp in m.imports
                 if is_within(imp.target, TOP_LEVEL_CONFIG)]
    assert not offenders, "src modules importing the top-level config.py:\n" + "\n".join(offenders)


# --- the analysis itself, on a small tree with known answers --------------------------------------

@pytest.fixture
def toy_tree(tmp_path):
    """pkg/a imports pkg/b at module level; pkg/b imports pkg/sub/c inside a function (relative);
    pkg/sub/c imports pkg/a back (a cycle through a function-local import); pkg/sub/__init__
    imports mindspore, so importing pkg/d (which imports pkg.sub.e) loads the framework."""
    files = {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b\nimport os\n",
        "pkg/b.py": "def f():\n    from .sub import c\n    import mindspore\n",
        "pkg/sub/__init__.py": "import mindspore as ms\n",
        "pkg/sub/c.py": "from ..a import x\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.d\n",
        "pkg/sub/e.py": "X = 1\n",
        "pkg/d.py": "import pkg.sub.e\nimport config\n",
    }
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return read_modules(str(tmp_path), "pkg")


def test_analysis_resolves_relative_and_function_local_imports(toy_tree):
    graph = import_graph(toy_tree, "pkg")
    assert graph["pkg.a"] == {"pkg.b": 1}
    assert graph["pkg.b"] == {"pkg.sub.c": 2}
    assert graph["pkg.sub.c"] == {"pkg.a": 1}  # the TYPE_CHECKING import is not an edge
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]]
    assert unresolved_imports(toy_tree, "pkg") == []


def test_analysis_follows_module_level_imports_and_parent_packages(toy_tree):
    assert framework_chain("pkg.b", toy_tree, package="pkg") is None  # its mindspore import is function-local
    assert framework_chain("pkg.a", toy_tree, package="pkg") is None
    assert framework_chain("pkg.d", toy_tree, package="pkg") == ["pkg.d", "pkg.sub:1 imports mindspore"]
    assert [imp.line for imp in toy_tree["pkg.d"].imports if is_within(imp.target, TOP_LEVEL_CONFIG)] == [2]
