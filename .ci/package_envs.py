"""Per-package isolated test environments, built from the shared environment without installing anything.

For a workspace package P (``slr-metrics``, ``slr-data``, ..., ``slr-phoenix``) this creates a venv
(no pip, no system site-packages) whose site-packages exposes exactly:

* P's own ``src/`` and the ``src/`` of the workspace packages P requires (a ``.pth`` file), each with a
  generated ``*.dist-info`` (name, version, requirements, console scripts) so ``importlib.metadata``
  sees them;
* the transitive closure of P's declared ``dependencies`` plus its ``[dependency-groups] test``
  (pytest & co., test-only imports), resolved in the shared environment (``.hatch/slr``) with
  ``importlib.metadata``: every file a distribution's RECORD lists is reached through a symlink to the
  shared copy, so building an env takes a second and no torch is installed twice. A directory that
  several distributions share (``nvidia/``, ``google/``) is recreated and only the entries the closure
  owns are linked;
* console scripts of all those distributions.

Then ``P/tests`` run there with ``python -m pytest`` (PYTHONPATH and the user site are cleared), so
an import across a package boundary that P's pyproject does not declare fails, e.g. ``import torch``
in slr-metrics (torch is only its ``dist`` extra) or ``import slr_models`` in slr-data.

    .hatch/slr/bin/python .ci/package_envs.py                      # every package, its tests
    .hatch/slr/bin/python .ci/package_envs.py slr-metrics -- -x -q # one package, pytest arguments
    .hatch/slr/bin/python .ci/package_envs.py slr-data -- packages/slr-data/tests/test_frames.py
    .hatch/slr/bin/python .ci/package_envs.py --build-only slr-data

Run it with the shared environment's interpreter (its ``packaging`` evaluates requirement markers).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import tomllib
import venv
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
MEMBER_GLOBS = ("packages/*/pyproject.toml", "apps/*/pyproject.toml")
TEST_GROUP = "test"


class EnvError(Exception):
    """A requirement the shared environment cannot satisfy, or a malformed pyproject (one line)."""


@dataclass(frozen=True)
class Member:
    """One workspace package as its pyproject.toml declares it."""

    name: str  # canonical distribution name, e.g. "slr-data"
    root: Path  # packages/slr-data
    version: str
    dependencies: tuple[str, ...]
    extras: dict[str, tuple[str, ...]]
    test_requirements: tuple[str, ...]
    scripts: dict[str, str]  # console script -> "module:function"

    @property
    def src(self) -> Path:
        return self.root / "src"


def _version(root: Path, pyproject: dict, path: Path) -> str:
    project = pyproject["project"]
    if "version" in project:
        return project["version"]
    about = root / pyproject.get("tool", {}).get("hatch", {}).get("version", {}).get("path", "")
    pattern = r"""^__version__\s*=\s*["']([^"']+)["']"""
    match = re.search(pattern, about.read_text(), re.M) if about.is_file() else None
    if match is None:
        raise EnvError(f"{path}: no static version and no __version__ in [tool.hatch.version] path")
    return match.group(1)


def load_member(path: Path) -> Member:
    """Reads one member's pyproject.toml (``path``)."""
    try:
        data = tomllib.loads(path.read_text())
        project = data["project"]
        return Member(
            name=canonicalize_name(project["name"]),
            root=path.parent,
            version=_version(path.parent, data, path),
            dependencies=tuple(project.get("dependencies", ())),
            extras={k: tuple(v) for k, v in project.get("optional-dependencies", {}).items()},
            test_requirements=tuple(data.get("dependency-groups", {}).get(TEST_GROUP, ())),
            scripts=dict(project.get("scripts", {})),
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise EnvError(f"{path}: not a valid package pyproject ({type(exc).__name__}: {exc})") from None


def workspace(root: Path = ROOT) -> dict[str, Member]:
    """Every workspace member by canonical name."""
    members = [load_member(p) for pattern in MEMBER_GLOBS for p in sorted(root.glob(pattern))]
    return {m.name: m for m in members}


def site_packages(env: Path) -> Path:
    found = sorted(env.glob("lib/python3*/site-packages"))
    if not found:
        raise EnvError(f"{env}: no lib/python3*/site-packages (not a virtual environment)")
    return found[0]


@dataclass
class Resolution:
    """The transitive closure: workspace members and shared-env distributions (canonical names)."""

    members: dict[str, set[str]] = field(default_factory=dict)  # name -> requested extras
    dists: dict[str, metadata.Distribution] = field(default_factory=dict)
    # Requirements of shared-env distributions that the shared env itself lacks (e.g. mamba-ssm's,
    # installed with --no-deps): a workspace pyproject asking for a missing one is an error instead.
    absent: set[str] = field(default_factory=set)


def resolve(requirements: list[tuple[str, str]], members: dict[str, Member], shared_site: Path) -> Resolution:
    """Closure of ``requirements`` ((requirement, who-asked) pairs) over members and the shared env."""
    installed: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions(path=[str(shared_site)]):
        installed.setdefault(canonicalize_name(dist.metadata["Name"]), dist)
    out = Resolution()
    dist_extras: dict[str, set[str]] = {}
    origin_is_dist: dict[str, bool] = {}
    queue = list(requirements)
    while queue:
        text, origin = queue.pop()
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # e.g. "foo; sys_platform == 'win32'" in a pyproject
        name = canonicalize_name(req.name)
        if name in members:
            member = members[name]
            todo = [] if name in out.members else list(member.dependencies)
            new = set(req.extras) - out.members.setdefault(name, set())
            out.members[name] |= new
            for extra in sorted(new):
                if extra not in member.extras:
                    raise EnvError(f"{origin}: {text!r} names extra {extra!r} that "
                                   f"{member.root / 'pyproject.toml'} lacks")
                todo += member.extras[extra]
            queue += [(t, str(member.root / "pyproject.toml")) for t in todo]
            continue
        dist = installed.get(name)
        if dist is None and origin_is_dist.get(origin, False):
            out.absent.add(f"{text} (wanted by {origin})")  # the shared env lacks it too: nothing to expose
            continue
        if dist is None:
            raise EnvError(f"{origin}: requires {text!r}, which the shared environment {shared_site} lacks")
        if req.specifier and not req.specifier.contains(dist.version, prereleases=True):
            raise EnvError(f"{origin}: requires {text!r} but the shared environment has {dist.version}")
        first = name not in out.dists
        new = set(req.extras) - dist_extras.setdefault(name, set())
        if not first and not new:
            continue
        out.dists[name] = dist
        dist_extras[name] |= new
        for sub in dist.requires or ():
            sub_req = Requirement(sub)
            base = sub_req.marker is None or sub_req.marker.evaluate({"extra": ""})
            by_extra = sub_req.marker is not None and any(sub_req.marker.evaluate({"extra": e}) for e in new)
            wanted = (first and base) or by_extra
            if wanted:
                sub_req.marker = None
                queue.append((str(sub_req), f"{name} {dist.version}"))
                origin_is_dist[f"{name} {dist.version}"] = True
    return out


def _dist_paths(dist: metadata.Distribution) -> list[tuple[str, ...]]:
    """A distribution's RECORD entries inside site-packages, as path-part tuples."""
    parts = []
    for f in dist.files or ():
        p = Path(str(f)).parts
        if p and p[0] != ".." and p[0] != "__pycache__" and not p[0].startswith("_editable_impl_"):
            parts.append(p)
    return parts


Owners = dict[tuple[str, ...], set[str]]


def _link(shared_site: Path, target_site: Path, keep: set[str], owners: Owners,
          children: dict[tuple[str, ...], set[str]], prefix: tuple[str, ...] = ()) -> None:
    """Symlinks each entry below ``prefix`` only ``keep`` distributions own; recurses into shared ones."""
    for child in sorted(children.get(prefix, ())):
        path = prefix + (child,)
        who = owners[path]
        if not who & keep:
            continue
        source = shared_site.joinpath(*path)
        dest = target_site.joinpath(*path)
        if who <= keep or not source.is_dir():
            if source.exists() or source.is_symlink():
                dest.symlink_to(source)
        else:
            dest.mkdir()
            _link(shared_site, target_site, keep, owners, children, path)


def _ownership(shared_site: Path, skip: set[str]) -> tuple[Owners, dict[tuple[str, ...], set[str]]]:
    """Which distributions own each RECORD path prefix, and each prefix's child names."""
    owners: Owners = {}
    children: dict[tuple[str, ...], set[str]] = {}
    for dist in metadata.distributions(path=[str(shared_site)]):
        name = canonicalize_name(dist.metadata["Name"])
        if name in skip:
            continue
        for parts in _dist_paths(dist):
            for depth in range(1, len(parts) + 1):
                owners.setdefault(parts[:depth], set()).add(name)
                children.setdefault(parts[:depth - 1], set()).add(parts[depth - 1])
    return owners, children


def _script(python: Path, target: str) -> str:
    module, _, func = target.partition(":")
    call = func.split(".")[0] or "main"
    return (f"#!{python}\nimport sys\nfrom {module} import {call}\n"
            f"if __name__ == '__main__':\n    sys.exit({func or 'main'}())\n")


def _write_member_metadata(site: Path, member: Member) -> None:
    info = site / f"{member.name.replace('-', '_')}-{member.version}.dist-info"
    info.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {member.name}", f"Version: {member.version}"]
    lines += [f"Requires-Dist: {r}" for r in member.dependencies]
    for extra, reqs in member.extras.items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f"Requires-Dist: {r}; extra == {extra!r}" for r in reqs]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    (info / "INSTALLER").write_text("slr-package-envs\n")
    if member.scripts:
        eps = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in member.scripts.items())
        (info / "entry_points.txt").write_text(eps)


def build(package: str, env_dir: Path, shared_env: Path, root: Path = ROOT, with_tests: bool = True) -> Path:
    """Creates (replacing) the isolated env for ``package`` in ``env_dir``; returns its python."""
    members = workspace(root)
    name = canonicalize_name(package)
    if name not in members:
        raise EnvError(f"unknown workspace package {package!r} (known: {', '.join(sorted(members))})")
    member = members[name]
    shared_site = site_packages(shared_env)
    origin = str(member.root / "pyproject.toml")
    wanted = [(name, origin)] + ([(r, origin) for r in member.test_requirements] if with_tests else [])
    res = resolve(wanted, members, shared_site)
    if res.absent:
        print(f"[package-envs] {name}: requirements of shared-env distributions that the shared env lacks "
              f"too (not exposed): {', '.join(sorted(res.absent))}", file=sys.stderr, flush=True)

    venv.EnvBuilder(with_pip=False, clear=True, symlinks=True).create(env_dir)
    site = site_packages(env_dir)
    python = env_dir / "bin" / "python"
    _link(shared_site, site, set(res.dists), *_ownership(shared_site, skip=set(members)))
    (site / "_slr_workspace.pth").write_text("".join(f"{members[m].src}\n" for m in sorted(res.members)))
    for m in sorted(res.members):
        _write_member_metadata(site, members[m])
    scripts = {k: v for m in res.members for k, v in members[m].scripts.items()}
    for dist in res.dists.values():
        scripts.update({ep.name: ep.value for ep in dist.entry_points if ep.group == "console_scripts"})
    for script, target in scripts.items():
        path = env_dir / "bin" / script
        path.write_text(_script(python, target))
        path.chmod(0o755)
    return python


def isolated_environ() -> dict[str, str]:
    """The caller's environment without anything that would put other packages on sys.path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="package_envs.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="*", help="workspace package names (default: all)")
    parser.add_argument("--shared-env", type=Path, default=Path(sys.prefix),
                        help="the environment to take distributions from (default: this interpreter's)")
    parser.add_argument("--envs-dir", type=Path, default=ROOT / ".hatch" / "package-envs")
    parser.add_argument("--build-only", action="store_true", help="build the envs, run no tests")
    args = parser.parse_args(argv)
    try:
        members = workspace()
        names = args.packages or sorted(members, key=lambda n: (members[n].root.parent.name != "packages", n))
        failed = []
        for package in names:
            start = time.monotonic()
            python = build(package, args.envs_dir / canonicalize_name(package), args.shared_env)
            built = time.monotonic() - start
            if args.build_only:
                print(f"[package-envs] {package}: built {python} in {built:.1f}s", flush=True)
                continue
            tests = members[canonicalize_name(package)].root / "tests"
            # Test files or folders among the pytest arguments replace the package's whole tests/.
            named = [a for a in pytest_args if not a.startswith("-") and (ROOT / a.split("::")[0]).exists()]
            where = [] if named else [str(tests.relative_to(ROOT))]
            print(f"[package-envs] {package}: env built in {built:.1f}s; pytest {' '.join(where or named)}",
                  flush=True)
            proc = subprocess.run([str(python), "-m", "pytest", *where, *pytest_args],
                                  cwd=ROOT, env=isolated_environ(), check=False)
            took = time.monotonic() - start
            print(f"[package-envs] {package}: pytest exit {proc.returncode} after {took:.0f}s", flush=True)
            if proc.returncode != 0:
                failed.append(package)
    except EnvError as exc:
        print(f"package_envs.py: {exc}", file=sys.stderr)
        return 2
    if failed:
        print(f"[package-envs] FAILED in isolation: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
