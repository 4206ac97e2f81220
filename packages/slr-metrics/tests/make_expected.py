"""Regenerate the expected outputs under ``data/`` by running the real tools (by hand, not pytest).

From the repository root::

    .hatch/slr/bin/python packages/slr-metrics/tests/make_expected.py \\
        --sclite /usr/lib/sctk/bin/sclite \\
        --phoenix2014-eval PHOENIX-2014/phoenix-2014-multisigner/evaluation \\
        --phoenix2014t-eval PHOENIX-2014-T/evaluation/sign-recognition \\
        --slrt SLRT/TwoStreamNetwork/utils

Each output is (re)written only when the tools it needs are given:

* ``data/sclite_expected.json`` and ``data/sclite_expected.pra`` (``--sclite``): per-utterance
  ``(C, S, D, I)`` that ``sclite -o pra`` reports for :func:`metrics_cases.sclite_cases`, and the
  alignment lines of its ``pra`` report for a smaller set.
* ``data/phoenix2014_official.json`` (``--sclite --phoenix2014-eval``): the official PHOENIX-2014
  pipeline (``preprocess.sh``, ``sort -k1,1`` of the STM, ``mergectmstm.py``, ``sclite``) on
  :func:`metrics_cases.phoenix_cases` written as VAC-style CTM lines in three line orders.
  VAC-style code ships the same two scripts in ``evaluation/slr_eval``.
* ``data/phoenix2014t_official.json`` (``--sclite --phoenix2014t-eval``): the PHOENIX-2014-T
  sign-recognition ``preprocess.sh`` (its folder must also hold ``mergectmstm.py``; the 2014
  one works), scored against the references as the ``phoenix2014t`` protocol normalises them.
* ``data/slrt_expected.json`` (``--slrt``): counts of SLRT's ``wer_single`` after its
  ``clean_phoenix_2014`` / ``clean_phoenix_2014_trans`` on both sides (``"AssertionError"``
  where SLRT's clean-up stops on a surviving marker).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from metrics_cases import (  # noqa: E402
    PHOENIX_MODES,
    PHOENIX_N,
    PHOENIX_SEED,
    PRA_N,
    PRA_SEED,
    SCLITE_N,
    SCLITE_SEED,
    SLRT_N,
    SLRT_SEED,
    phoenix_cases,
    sclite_cases,
    slrt_inputs,
    vac_ctm_lines,
)
from sclite_runner import run_sclite  # noqa: E402
from slr_metrics import get_protocol, write_ctm, write_stm  # noqa: E402

DATA = HERE / "data"


def _compact(value: object, depth: int = 0) -> str:
    """JSON with one line per innermost entry (small, diff-friendly files)."""
    if isinstance(value, dict) and value and all(not isinstance(v, dict) for v in value.values()):
        items = ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(value.items()))
        return "{\n" + items + "\n}"
    if isinstance(value, dict):
        items = ",\n".join(f"{json.dumps(k)}: {_compact(v, depth + 1)}" for k, v in sorted(value.items()))
        return "{\n" + items + "\n}"
    return json.dumps(value)


def _dump(name: str, payload: dict) -> None:
    DATA.mkdir(exist_ok=True)
    (DATA / name).write_text(_compact(payload) + "\n", encoding="utf-8")
    print(f"wrote {DATA / name}")


def make_sclite(sclite: str, tmp: Path) -> None:
    refs, hyps, speakers = sclite_cases(SCLITE_SEED, SCLITE_N)
    write_stm(tmp / "ref.stm", refs, speakers)
    write_ctm(tmp / "hyp.ctm", hyps)
    result = run_sclite(sclite, tmp / "ref.stm", tmp / "hyp.ctm")
    assert result.returncode == 0, result.stderr[-2000:]
    _dump("sclite_expected.json", {"seed": SCLITE_SEED, "n": SCLITE_N, "counts": result.counts})

    refs, hyps, speakers = sclite_cases(PRA_SEED, PRA_N)
    write_stm(tmp / "pra.stm", refs, speakers)
    write_ctm(tmp / "pra.ctm", hyps)
    result = run_sclite(sclite, tmp / "pra.stm", tmp / "pra.ctm")
    assert result.returncode == 0, result.stderr[-2000:]
    (DATA / "sclite_expected.pra").write_text("\n".join(result.pra_lines) + "\n", encoding="utf-8")
    print(f"wrote {DATA / 'sclite_expected.pra'}")


def _official(
    sclite: str, eval_dir: Path, tmp: Path, stm_refs: dict, speakers: dict, ctm_lines: list[str]
) -> dict:
    env = dict(os.environ, LC_ALL="C")
    (tmp / "hyp.ctm").write_text("".join(line + "\n" for line in ctm_lines), encoding="utf-8")
    subprocess.run(
        [
            "bash",
            str(eval_dir / "preprocess.sh"),
            str(tmp / "hyp.ctm"),
            str(tmp / "tmp.ctm"),
            str(tmp / "tmp2.ctm"),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    write_stm(tmp / "raw.stm", stm_refs, speakers)
    subprocess.run(f"sort -k1,1 {tmp / 'raw.stm'} > {tmp / 'ref.stm'}", shell=True, env=env, check=True)
    subprocess.run(
        [sys.executable, str(eval_dir / "mergectmstm.py"), str(tmp / "tmp2.ctm"), str(tmp / "ref.stm")],
        check=True,
    )
    result = run_sclite(sclite, tmp / "ref.stm", tmp / "tmp2.ctm")
    assert result.returncode == 0, result.stderr[-2000:]
    return result.counts


def make_phoenix2014(sclite: str, eval_dir: Path, tmp: Path) -> None:
    refs, hyps, speakers = phoenix_cases(PHOENIX_SEED, PHOENIX_N)
    out = {"seed": PHOENIX_SEED, "n": PHOENIX_N, "counts": {}}
    for mode in PHOENIX_MODES:
        lines = vac_ctm_lines(hyps, PHOENIX_SEED, mode)
        out["counts"][mode] = _official(sclite, eval_dir, tmp, refs, speakers, lines)
    _dump("phoenix2014_official.json", out)


def make_phoenix2014t(sclite: str, eval_dir: Path, tmp: Path) -> None:
    refs, hyps, speakers = phoenix_cases(PHOENIX_SEED + 1, PHOENIX_N)
    protocol = get_protocol("phoenix2014t")
    clean_refs = {uid: protocol.normalize_ref(words) for uid, words in refs.items()}
    lines = vac_ctm_lines(hyps, PHOENIX_SEED, "sorted")
    counts = _official(sclite, eval_dir, tmp, clean_refs, speakers, lines)
    _dump("phoenix2014t_official.json", {"seed": PHOENIX_SEED + 1, "n": PHOENIX_N, "counts": counts})


def _load_slrt(folder: Path) -> types.SimpleNamespace:
    cleanup: dict = {}
    exec(compile((folder / "phoenix_cleanup.py").read_text(), "phoenix_cleanup.py", "exec"), cleanup)
    source = (folder / "metrics.py").read_text().replace("from .external_metrics import Rouge, sacrebleu", "")
    metrics: dict = {}
    exec(compile(source, "metrics.py", "exec"), metrics)
    return types.SimpleNamespace(
        clean_2014=cleanup["clean_phoenix_2014"],
        clean_2014t=cleanup["clean_phoenix_2014_trans"],
        wer_single=metrics["wer_single"],
    )


def make_slrt(folder: Path) -> None:
    slrt = _load_slrt(folder)
    refs, hyps, _ = phoenix_cases(SLRT_SEED, SLRT_N)
    out = {"seed": SLRT_SEED, "n": SLRT_N, "counts": {}}
    for name, clean in (("phoenix2014-slrt", slrt.clean_2014), ("phoenix2014t-slrt", slrt.clean_2014t)):
        counts = {}
        for uid, ref, hyp in slrt_inputs(refs, hyps):
            try:
                r = slrt.wer_single(clean(" ".join(ref)), clean(" ".join(hyp)))
            except AssertionError:  # a marker survived the clean-up; SLRT's code stops here
                counts[uid] = "AssertionError"
                continue
            counts[uid] = [int(r["num_cor"]), int(r["num_sub"]), int(r["num_del"]), int(r["num_ins"])]
        out["counts"][name] = counts
    _dump("slrt_expected.json", out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sclite")
    parser.add_argument("--phoenix2014-eval", type=Path)
    parser.add_argument("--phoenix2014t-eval", type=Path)
    parser.add_argument("--slrt", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.sclite:
            make_sclite(args.sclite, tmp)
            if args.phoenix2014_eval:
                make_phoenix2014(args.sclite, args.phoenix2014_eval, tmp)
            if args.phoenix2014t_eval:
                make_phoenix2014t(args.sclite, args.phoenix2014t_eval, tmp)
        if args.slrt:
            make_slrt(args.slrt)


if __name__ == "__main__":
    main()
