"""Every workspace package's pyproject.toml declares exactly what its code imports.

For each member (packages/*, apps/*) the absolute imports in ``src/`` (anywhere in a module, also
inside functions) are mapped to distribution names (``yaml`` -> ``pyyaml``, workspace modules to
their projects) and compared with the pyproject. The rule:

* a *required* import -- at module level, outside ``try: ... except ImportError`` and outside
  ``if TYPE_CHECKING:`` -- must be in ``dependencies``;
* a *lazy* import -- inside a function, or guarded by ``except ImportError`` / ``TYPE_CHECKING`` --
  must be in ``dependencies`` or in an extra (``[project.optional-dependencies]``);
* every declared dependency and extra requirement must be imported somewhere in ``src/``, unless
  ``INDIRECT`` below says why the code needs it without a visible import statement.

The package's own tests (``tests/``, less ``tests/data/`` fixture generators that run elsewhere)
may import what the package declares (dependencies and extras), its ``[dependency-groups] test``
and its local test helper modules, nothing else; ``.ci/package_envs.py`` then runs them in an
environment that holds exactly that.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOBS = ("packages/*/pyproject.toml", "apps/*/pyproject.toml")
MEMBERS = sorted(p.parent for g in GLOBS for p in ROOT.glob(g))

# Import names whose distribution packages_distributions() cannot tell (not installed here, or
# ambiguous), mapped to the distribution the workspace declares for them.
FALLBACK = {
    "yaml": "pyyaml",
    "PIL": "pillow",
    "cv2": "opencv-python-headless",
    "causal_conv1d": "causal-conv1d",
    "mamba_ssm": "mamba-ssm",
    "sklearn": "scikit-learn",
}

# (package, distribution) pairs declared without an import statement naming them, and why.
INDIRECT = {
    ("slr-models", "mamba-ssm"): "slr_models.ops._mamba_import imports it by name with importlib",
    ("slr-models", "flashlight-text"): "torchaudio.models.decoder.ctc_decoder runs on it (the beam extra)",
    ("slr-train", "tensorboard"): "slr_train.monitor writes scalars through torch.utils.tensorboard",
}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def req_name(requirement: str) -> str:
    return norm(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1))


@dataclass(frozen=True)
class Project:
    name: str
    root: Path
    dependencies: frozenset[str]
    extras: dict[str, frozenset[str]]
    test_group: frozenset[str]
    scripts: frozenset[str]  # modules of [project.scripts] targets

    @property
    def optional(self) -> frozenset[str]:
        return frozenset().union(*self.extras.values())


def load(root: Path) -> Project:
    data = tomllib.loads((root / "pyproject.toml").read_text())
    project = data["project"]
    return Project(
        name=norm(project["name"]),
        root=root,
        dependencies=frozenset(map(req_name, project.get("dependencies", ()))),
        extras={k: frozenset(map(req_name, v)) for k, v in project.get("optional-dependencies", {}).items()},
        test_group=frozenset(map(req_name, data.get("dependency-groups", {}).get("test", ()))),
        scripts=frozenset(v.split(":")[0] for v in project.get("scripts", {}).values()),
    )


PROJECTS = {p.name: p for p in map(load, MEMBERS)}
WORKSPACE_MODULES = {d.name: p.name for p in PROJECTS.values() for d in (p.root / "src").iterdir()
                     if d.is_dir() and (d / "__init__.py").exists()}


@dataclass
class Imports:
    """Top-level module name -> locations, split into required and lazy imports."""

    required: dict[str, list[str]] = field(default_factory=dict)
    lazy: dict[str, list[str]] = field(default_factory=dict)


def _guards_import_error(node: ast.Try) -> bool:
    names = set()
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names |= {k.id for k in kinds if isinstance(k, ast.Name)}
    return bool(names & {"ImportError", "ModuleNotFoundError", "Exception"})


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _module_name(path: Path, src: Path | None) -> str:
    if src is None or src not in path.parents:
        return path.stem
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def scan(files: list[Path], base: Path, src: Path | None = None,
         entries: frozenset[str] = frozenset()) -> Imports:
    """Imports in ``files``; a module under ``src`` that its own package imports only lazily (never at
    module level, and not ``__init__``/``__main__``/a console script) counts as lazy as a whole, so its
    module-level imports are lazy too (e.g. slr_models.ops.conv_triton, which needs triton)."""
    per_file: dict[str, list[tuple[str, bool, str]]] = {}  # module -> (imported name, lazy, where)

    def visit(node: ast.AST, lazy: bool, where: Path, module: str, records: list) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            lazy = True
        if isinstance(node, ast.Try) and _guards_import_error(node):
            for child in node.body:
                visit(child, True, where, module, records)
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child, lazy, where, module, records)
            return
        if isinstance(node, ast.If) and _is_type_checking(node):
            lazy = True
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                package = module.split(".")
                is_pkg = where.name == "__init__.py"
                anchor = package[:len(package) - node.level + (1 if is_pkg else 0)]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module
            names = [target] + [f"{target}.{a.name}" for a in node.names]
        loc = f"{where.relative_to(base)}:{getattr(node, 'lineno', 0)}"
        records += [(n, lazy, loc) for n in names]
        for child in ast.iter_child_nodes(node):
            visit(child, lazy, where, module, records)

    for path in files:
        module = _module_name(path, src)
        visit(ast.parse(path.read_text(), str(path)), False, path, module, per_file.setdefault(module, []))

    own = {m.split(".")[0] for m in per_file} if src is not None else set()
    entry = {m for m in per_file if m.split(".")[-1] == "__main__" or "." not in m} | entries
    eagerly = {n for recs in per_file.values() for n, lazy, _ in recs if not lazy}
    lazily = {n for recs in per_file.values() for n, lazy, _ in recs if lazy}
    lazy_modules = {m for m in per_file if m in lazily and m not in eagerly and m not in entry and own}
    out = Imports()
    for module, records in per_file.items():
        for name, lazy, loc in records:
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__" or top in own or not top:
                continue
            target = out.lazy if lazy or module in lazy_modules else out.required
            target.setdefault(top, [])
            if loc not in target[top]:
                target[top].append(loc)
    return out


_PACKAGES_DISTRIBUTIONS = metadata.packages_distributions()


def dist_for(module: str, declared: frozenset[str]) -> str:
    """The distribution an import name belongs to, preferring one the package declares."""
    if module in WORKSPACE_MODULES:
        return WORKSPACE_MODULES[module]
    candidates = [norm(d) for d in _PACKAGES_DISTRIBUTIONS.get(module, ())]
    candidates = [c for c in candidates if c not in PROJECTS.keys()]  # editable installs
    for c in candidates:
        if c in declared:
            return c
    if module in FALLBACK:
        return FALLBACK[module]
    return candidates[0] if candidates else norm(module)


def _by_dist(found: dict[str, list[str]], declared: frozenset[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for module, where in found.items():
        out.setdefault(dist_for(module, declared), []).extend(where)
    return out


def src_imports(project: Project) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    src = project.root / "src"
    found = scan(sorted(src.rglob("*.py")), project.root, src, project.scripts)
    declared = project.dependencies | project.optional
    required = {d: w for d, w in _by_dist(found.required, declared).items() if d != project.name}
    lazy = {d: w for d, w in _by_dist(found.lazy, declared).items()
            if d != project.name and d not in required}
    return required, lazy


def test_every_member_is_checked():
    assert {"slr-data", "slr-metrics", "slr-models", "slr-train", "slr-phoenix"} <= set(PROJECTS)


def src_problems(project: Project) -> list[str]:
    """One line per import the pyproject does not declare as the rule says, or declared dist unused."""
    name = project.name
    required, lazy = src_imports(project)
    problems = []
    for dist, where in sorted(required.items()):
        if dist not in project.dependencies:
            extra = " (it is only in an extra: import it lazily)" if dist in project.optional else ""
            problems.append(f"imports {dist} at module level but [project] dependencies lack it{extra}: "
                            f"{', '.join(where[:3])}")
    for dist, where in sorted(lazy.items()):
        if dist not in project.dependencies | project.optional:
            problems.append(f"imports {dist} lazily but neither dependencies nor an extra declares it: "
                            f"{', '.join(where[:3])}")
    imported = set(required) | set(lazy)
    for dist in sorted(project.dependencies - imported):
        if (name, dist) not in INDIRECT:
            problems.append(f"declares dependency {dist} that src/ never imports")
    for extra, dists in sorted(project.extras.items()):
        for dist in sorted(dists - imported):
            if (name, dist) not in INDIRECT:
                problems.append(f"extra [{extra}] requires {dist} that src/ never imports")
    return problems


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_src_imports_match_declared_dependencies(name):
    problems = src_problems(PROJECTS[name])
    where = PROJECTS[name].root.relative_to(ROOT)
    assert not problems, f"{where}/pyproject.toml:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_test_imports_are_declared(name):
    project = PROJECTS[name]
    tests = project.root / "tests"
    files = [p for p in sorted(tests.rglob("*.py")) if (tests / "data") not in p.parents]
    local = {p.stem for p in tests.rglob("*.py")} | {p.name for p in tests.rglob("*") if p.is_dir()}
    found = scan(files, project.root)
    allowed = project.dependencies | project.optional | project.test_group | {project.name}
    problems = []
    for module, where in sorted({**found.lazy, **found.required}.items()):
        if module in local:
            continue
        dist = dist_for(module, allowed)
        if dist not in allowed:
            problems.append(f"tests import {module} ({dist}), which neither the package nor its "
                            f"[dependency-groups] test declares: {', '.join(where[:3])}")
    assert not problems, f"{project.root.relative_to(ROOT)}/pyproject.toml:\n  " + "\n  ".join(problems)


def test_indirect_entries_are_still_declared():
    """An INDIRECT entry for a dependency that is gone (or now imported) would hide nothing: drop it."""
    for (name, dist), why in INDIRECT.items():
        project = PROJECTS[name]
        assert dist in project.dependencies | project.optional, f"{name} no longer declares {dist} ({why})"
        required, lazy = src_imports(project)
        assert dist not in required and dist not in lazy, f"{name} now imports {dist}: drop it from INDIRECT"


def _project(tmp_path: Path, deps: list[str], code: str, extras: dict | None = None,
             **modules: str) -> Project:
    root = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "__init__.py").write_text(code)
    for name, text in modules.items():
        (root / "src" / "pkg" / f"{name}.py").write_text(text)
    lines = ["[project]", 'name = "pkg"', f"dependencies = {deps!r}".replace("'", '"')]
    if extras:
        lines.append("[project.optional-dependencies]")
        lines += [f"{k} = {v!r}".replace("'", '"') for k, v in extras.items()]
    (root / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return load(root)


def test_the_scan_sees_cross_package_and_guarded_imports(tmp_path):
    """The checker itself: an undeclared workspace import is reported, an optional one is lazy."""
    code = ("import numpy\nfrom slr_models import create_model\n"
            "try:\n    import yaml\nexcept ImportError:\n    yaml = None\n"
            "def f():\n    import torch.distributed as dist\n    from . import x\n    import os\n")
    required, lazy = src_imports(_project(tmp_path, ["numpy"], code))
    assert set(required) == {"numpy", "slr-models"}
    assert set(lazy) == {"pyyaml", "torch"}
    assert required["slr-models"] == ["src/pkg/__init__.py:2"]
    problems = src_problems(_project(tmp_path, ["numpy", "requests"], code, {"dist": ["torch"]}))
    assert problems == [
        "imports slr-models at module level but [project] dependencies lack it: src/pkg/__init__.py:2",
        "imports pyyaml lazily but neither dependencies nor an extra declares it: src/pkg/__init__.py:4",
        "declares dependency requests that src/ never imports",
    ]
    fixed = _project(tmp_path, ["numpy", "slr-models"], code, {"dist": ["torch", "pyyaml"]})
    assert src_problems(fixed) == []


def test_a_module_imported_only_lazily_makes_its_imports_lazy(tmp_path):
    """pkg.fast needs triton at import time but pkg imports it only inside a function: triton is
    optional (an extra suffices); once another module imports pkg.fast eagerly it is required."""
    init = "def kernel():\n    from .fast import run\n    return run\n"
    fast = "import triton\nrun = triton.jit\n"
    project = _project(tmp_path, [], init, {"cuda": ["triton"]}, fast=fast)
    assert src_imports(project) == ({}, {"triton": ["src/pkg/fast.py:1"]})
    assert src_problems(project) == []
    eager = _project(tmp_path, [], init, {"cuda": ["triton"]}, fast=fast, api="from pkg.fast import run\n")
    assert src_problems(eager) == ["imports triton at module level but [project] dependencies lack it "
                                   "(it is only in an extra: import it lazily): src/pkg/fast.py:1"]
