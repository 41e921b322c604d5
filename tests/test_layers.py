"""Dependencies flow one way, as the data flows (issue #12, docs/architecture.md):

    sources -> core (no I/O, no clock) -> publish (reports/readings -> rows) -> block store <- agent

Every import of every product module (agent/, collectors/, cli/, mibs/ without the generated
mibs/compiled) is read with ast: top-level and function-level, absolute and relative, and
``importlib.import_module`` / ``__import__`` of a constant name. Each module and each imported
name is mapped to its layer (the longest matching prefix in LAYERS) and checked against ALLOWED.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO

#: Folder of the repository -> package it installs as (setup.cfg package_dir).
PACKAGES = {"agent": "iec62379.agent", "collectors": "iec62379.collectors",
            "cli": "iec62379.cli", "mibs": "iec62379.mibs"}
#: Generated code, not checked.
EXCLUDED = ("mibs/compiled",)

#: Module prefix -> layer; the longest prefix wins.
LAYERS = {
    "iec62379.mibs": "mibs",
    "iec62379.agent": "agent",
    "iec62379.collectors.core": "core",
    "iec62379.collectors.sources": "sources",
    "iec62379.collectors.settings": "settings",
    "iec62379.collectors.publish": "publish",
    "iec62379.collectors.generator": "generator",
    "iec62379.collectors.wiring": "wiring",
    "iec62379.collectors": "service",  # the service, its wiring and composition
    "iec62379.cli": "cli",
}

#: What each layer may import besides itself (module prefixes). mibs holds the MIB sources,
#: compiled modules and the vocabulary everyone shares. The agent never imports the collectors:
#: it serves a store that others fill. The core is pure computation; sources bring packets and
#: readings in as the core's records; settings are the collectors' part of the configuration
#: (read with the agent's TOML reader); publish turns reports and readings into the agent's
#: rows; the generator (test streams: plans and a paced sender) reads packets with the core's
#: parsers; the wiring opens sources and feeds the core; the service wires them all to the store;
#: cli composes everything.
ALLOWED: dict[str, tuple[str, ...]] = {
    "mibs": (),
    "agent": ("iec62379.mibs",),
    "core": ("iec62379.mibs",),
    "sources": ("iec62379.collectors.core", "iec62379.mibs"),
    "settings": ("iec62379.collectors.sources", "iec62379.collectors.core", "iec62379.mibs",
                 "iec62379.agent.config", "iec62379.agent.model"),
    "publish": ("iec62379.collectors.settings", "iec62379.collectors.sources",
                "iec62379.collectors.core", "iec62379.mibs",
                "iec62379.agent.model", "iec62379.agent.store"),
    "generator": ("iec62379.collectors.core", "iec62379.mibs"),
    "wiring": ("iec62379.collectors.sources", "iec62379.collectors.core", "iec62379.mibs"),
    "service": ("iec62379.collectors", "iec62379.agent", "iec62379.mibs"),
    "cli": ("iec62379",),
}

#: Modules that break a rule today and are being moved by another part of issue #12 (a sender
#: is not a source). An entry is only honoured while its module exists and still breaks the
#: rule (test_pending_exceptions_are_still_needed), so it cannot outlive the move.
PENDING: dict[str, str] = {}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    module: str
    layer: str
    target: str
    target_layer: str

    def __str__(self) -> str:
        allowed = ", ".join(ALLOWED[self.layer]) or "nothing outside itself"
        return (f"{self.path}:{self.line}: {self.module} ({self.layer}) imports {self.target} "
                f"({self.target_layer}); {self.layer} may import only {allowed}")


def layer_of(module: str) -> str | None:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")),
               key=len, default=None)
    return LAYERS[best] if best is not None else None


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def modules(root: Path) -> Iterator[tuple[Path, str]]:
    """(file, module name) of every product module under ``root``."""
    for folder, package in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if any(rel == e or rel.startswith(e + "/") for e in EXCLUDED):
                continue
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield path, ".".join([package, *parts])


def imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, imported name) of every import in a module, relative ones resolved. For
    ``from X import a`` the name is ``X.a`` (a submodule or an attribute: either maps to the
    layer of X or below it)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                up = parts[: len(parts) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            for alias in node.names:
                yield node.lineno, base if alias.name == "*" else f"{base}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args:
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            arg = node.args[0]
            if name in ("import_module", "__import__") and isinstance(arg, ast.Constant) \
                    and isinstance(arg.value, str):
                yield node.lineno, arg.value


def violations(root: Path, pending: dict[str, str] | None = None) -> list[Violation]:
    """Every import under ``root`` that goes against ALLOWED (modules in ``pending`` left out)."""
    found = []
    for path, module in modules(root):
        if pending and module in pending:
            continue
        layer = layer_of(module)
        assert layer is not None, f"{path}: {module} has no layer in LAYERS"
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for line, target in imports(tree, module, path.name == "__init__.py"):
            if not target.startswith("iec62379."):
                continue
            target_layer = layer_of(target)
            if target_layer == layer or any(_within(target, p) for p in ALLOWED[layer]):
                continue
            found.append(Violation(path.relative_to(root).as_posix(), line, module, layer,
                                   target, target_layer or "unknown"))
    return found


# --- the real tree -------------------------------------------------------------------------


def test_the_product_imports_only_in_the_allowed_directions():
    found = violations(REPO, PENDING)
    assert not found, "forbidden imports:\n" + "\n".join(map(str, found))


def test_every_product_module_has_a_layer():
    names = [m for _, m in modules(REPO)]
    assert len(names) > 50 and all(layer_of(m) is not None for m in names)
    assert {layer_of(m) for m in names} == set(ALLOWED)


def test_pending_exceptions_are_still_needed():
    by_module = {m: p for p, m in modules(REPO)}
    for module in PENDING:
        if module not in by_module:
            continue  # moved: the entry is harmless, but say so when it is stale
        own = [v for v in violations(REPO) if v.module == module]
        assert own, f"{module} no longer breaks a rule: remove it from PENDING"


# --- the checker itself, on a synthetic tree ----------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    for folder in PACKAGES:
        (root / folder).mkdir(exist_ok=True)
    return root


def test_the_checker_finds_each_kind_of_forbidden_import(tmp_path: Path):
    root = _tree(tmp_path, {
        "agent/__init__.py": "",
        # function-level absolute import of the collectors by the agent
        "agent/runner.py": "def f():\n    from iec62379.collectors.service import S\n",
        # relative import from the core into the sources
        "collectors/core/calc.py": "from ..sources import udp\n",
        # plain `import` of the agent by a source
        "collectors/sources/udp.py": "import iec62379.agent.model\n",
        # publish may use the agent's rows, not its config
        "collectors/publish/rows.py": "from iec62379.agent import config\n",
        # dodging through importlib
        "mibs/vocab.py": "import importlib\nm = importlib.import_module('iec62379.cli.main')\n",
        # generated code is not checked
        "mibs/compiled/X.py": "from iec62379.collectors import service\n",
    })
    found = {(v.path, v.line, v.target) for v in violations(root)}
    assert found == {
        ("agent/runner.py", 2, "iec62379.collectors.service.S"),
        ("collectors/core/calc.py", 1, "iec62379.collectors.sources.udp"),
        ("collectors/sources/udp.py", 1, "iec62379.agent.model"),
        ("collectors/publish/rows.py", 1, "iec62379.agent.config"),
        ("mibs/vocab.py", 2, "iec62379.cli.main"),
    }
    message = str(next(v for v in violations(root) if v.path == "agent/runner.py"))
    assert message == ("agent/runner.py:2: iec62379.agent.runner (agent) imports "
                       "iec62379.collectors.service.S (service); agent may import only "
                       "iec62379.mibs")


def test_the_checker_accepts_the_allowed_directions(tmp_path: Path):
    root = _tree(tmp_path, {
        "agent/model.py": "from iec62379.mibs.vocabulary import FecType\nfrom . import store\n",
        "collectors/core/__init__.py": "from . import calc\n",
        "collectors/core/calc.py": "from iec62379.mibs import vocabulary\n",
        "collectors/sources/udp.py": "from ..core.calc import f\n",
        "collectors/settings.py": "from iec62379.agent.config import _Reader\n",
        "collectors/publish/rows.py": "from iec62379.agent.model import Row\n"
                                      "from ..settings import S\nfrom ..sources import udp\n",
        "collectors/service.py": "from iec62379.agent.store import BlockStore\n"
                                 "from .publish import rows\n",
        "cli/main.py": "from iec62379.collectors.service import S\n",
        "mibs/tree.py": "from .paths import x\nimport pysnmp\n",
    })
    assert violations(root) == []


@pytest.mark.parametrize("module,layer", [
    ("iec62379.collectors.core.mdi", "core"),
    ("iec62379.collectors.publish", "publish"),
    ("iec62379.collectors.settings", "settings"),
    ("iec62379.collectors.service", "service"),
    ("iec62379.collectors.sourcesx", "service"),  # a prefix is a whole name component
    ("iec62379.agent", "agent"),
    ("iec62379.mibs.vocabulary", "mibs"),
    ("numpy", None),
])
def test_layer_of(module: str, layer: str | None):
    assert layer_of(module) == layer
