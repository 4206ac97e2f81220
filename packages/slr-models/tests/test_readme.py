"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, models_seed, capsys):
    # dont_inherit: the example runs as a user's script would, without this file's __future__ imports
    code = compile(BLOCKS[index], f"{README}:python-block-{index}", "exec", dont_inherit=True)
    exec(code, {"__name__": "readme_example"})
    assert capsys.readouterr().out  # every example prints something
