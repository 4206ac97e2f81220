"""``pip install packages/slr-data`` in a fresh venv gives a working package on its own.

Installing torch into a fresh venv would download gigabytes, so the venv sees the current
environment's third-party packages through a folder of symlinks added by a ``.pth`` file, from
which every ``slr_*`` install (editable or not) is left out. slr-data itself is then built and
installed by pip from the package folder, and must work without slr-models / slr-metrics /
slr-train being importable.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1]
_OFFLINE = (
    "Failed to establish a new connection",
    "No matching distribution found",
    "Could not find a version",
    "Temporary failure in name resolution",
    "Network is unreachable",
)
_PROBE = """
import importlib.util, sys
import slr_data
from slr_data import SynthConfig, VideoDataset, eval_preset, generate_synthetic_corpus, load_phoenix2014
out = sys.argv[1]
corpus = load_phoenix2014(out)
sample = VideoDataset(corpus["dev"], corpus.vocab, eval_preset(24))[0]
assert sample.frames.shape[1:] == (3, 24, 24), sample.frames.shape
others = ("slr_models", "slr_metrics", "slr_train", "slr_phoenix")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in others)
findable = [m for m in others if importlib.util.find_spec(m)]
print(slr_data.__file__)
print("loaded:", loaded)
print("findable:", findable)
"""


def _filtered_site(target: Path) -> Path:
    """Symlinks to this environment's site-packages entries, minus every slr package."""
    source = Path(sysconfig.get_paths()["purelib"])
    target.mkdir()
    for entry in source.iterdir():
        name = entry.name.lower()
        if name.startswith(("slr_", "slr-", "_editable_impl_slr", "__editable__")) or name.endswith(".pth"):
            continue
        (target / entry.name).symlink_to(entry)
    return target


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fresh_venv_install_is_standalone(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "zz_shared_third_party.pth").write_text(str(_filtered_site(tmp_path / "third_party")) + "\n")

    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(PACKAGE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if install.returncode != 0 and any(m in install.stdout + install.stderr for m in _OFFLINE):
        pytest.skip(f"no package index reachable for the build backend: {install.stderr.strip()[-300:]}")
    assert install.returncode == 0, install.stderr[-3000:]

    out = tmp_path / "corpus"
    synth = subprocess.run(
        [
            str(env_dir / "bin" / "slr-data"),
            "synth",
            "--out",
            str(out),
            "--preset",
            "tiny",
            "--videos",
            "3",
            "--size",
            "24",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert synth.returncode == 0, synth.stderr
    assert (out / "preprocess" / "phoenix2014" / "dev_info.npy").is_file()

    probe = subprocess.run(
        [str(python), "-c", _PROBE, str(out)], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    location, loaded, findable = probe.stdout.strip().splitlines()[-3:]
    assert location.startswith(str(env_dir)), location  # the installed copy, not the checkout
    assert loaded == "loaded: []" and findable == "findable: []"
    assert sys.executable != str(python)
