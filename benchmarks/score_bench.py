"""Scoring speed and exactness: slr-metrics vs the NIST sclite binary vs jiwer, same run, same data.

Scores the official PHOENIX-2014 dev and test STM references against generated hypotheses
(each reference gloss kept, substituted, deleted or followed by an insertion at random) and
reports, per split:

* end to end (process start to exit): ``sclite -o sum`` vs ``slr-score`` (summary output);
* in process: ``slr_metrics.score_files`` vs ``jiwer.process_words`` (jiwer gets the already
  read word lists; its number is Levenshtein, not sclite's);
* whether slr-metrics' per-utterance counts equal sclite's (``sclite -o pra``) and whether its
  ``levenshtein=True`` totals equal jiwer's.

Times are the best and the median of ``--repeat`` runs, the end-to-end commands interleaved
(the machine is shared; ratios within one run are what count). Each command runs once untimed
first, so Python's bytecode cache is written as in an installed package (the benchmark drops
``PYTHONDONTWRITEBYTECODE`` for ``slr-score``). The goal: ``slr-score`` end to end at most 0.3x
sclite's time on the test set.
``--write`` replaces the ``## Scoring`` section of ``benchmarks/RESULTS.md``.

    .hatch/slr/bin/python benchmarks/score_bench.py --repeat 7 --write
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from slr_metrics import read_stm, score, score_files, write_ctm, write_stm

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


def find_phoenix() -> Path:
    env = os.environ.get("SLR_PHOENIX2014_META")
    candidates = [Path(env)] if env else []
    candidates += [ROOT / "shared" / "data" / "phoenix2014", ROOT.parent / "shared" / "data" / "phoenix2014"]
    for folder in candidates:
        if (folder / "phoenix2014-groundtruth-dev.stm").is_file():
            return folder
    sys.exit("PHOENIX-2014 STM files not found (set SLR_PHOENIX2014_META)")


def find_sclite() -> str | None:
    return (
        os.environ.get("SCLITE")
        or shutil.which("sclite")
        or ("/usr/lib/sctk/bin/sclite" if os.access("/usr/lib/sctk/bin/sclite", os.X_OK) else None)
    )


def make_hyps(segments, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    vocab = sorted({w for seg in segments for w in seg.words})
    hyps = {}
    for seg in segments:
        hyp = []
        for gloss in seg.words:
            x = rng.random()
            if x < 0.10:
                continue
            hyp.append(rng.choice(vocab) if x < 0.25 else gloss)
            if rng.random() < 0.05:
                hyp.append(rng.choice(vocab))
        hyps[seg.utt_id] = hyp
    return hyps


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def interleaved_best(repeat: int, fns: dict) -> dict[str, float]:
    """Best and median time of each function (``name``, ``name + "_median"``), after one untimed
    call each, running them in turn so machine load hits all alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    out = {name: min(values) for name, values in times.items()}
    out.update({f"{name}_median": statistics.median(values) for name, values in times.items()})
    return out


def parse_pra(text: str) -> dict[str, tuple[int, int, int, int]]:
    counts, current = {}, None
    for line in text.splitlines():
        if line.startswith("File: "):
            current = line.split(None, 1)[1]
        elif line.startswith("Scores: "):
            counts[current] = tuple(int(v) for v in line.split()[-4:])
    return counts


def bench_split(split: str, folder: Path, sclite: str | None, repeat: int, tmp: Path) -> dict:
    segments = read_stm(folder / f"phoenix2014-groundtruth-{split}.stm")
    hyps = make_hyps(segments, seed=len(segments))
    ref, hyp = tmp / f"{split}.stm", tmp / f"{split}.ctm"
    write_stm(ref, segments)  # sorted by id, as sclite needs it beside the CTM
    write_ctm(hyp, hyps)
    words = sum(len(seg.words) for seg in segments)
    row = {"split": split, "utterances": len(segments), "words": words}

    script = Path(sys.executable).with_name("slr-score")
    ours_cmd = [str(script)] if script.exists() else [sys.executable, "-m", "slr_metrics.cli"]
    ours_cmd += ["--ref", str(ref), "--hyp", str(hyp)]
    ours_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start_cmd = [sys.executable, "-c", "pass"]
    e2e = {
        "ours_e2e": lambda: subprocess.run(ours_cmd, check=True, capture_output=True, env=ours_env),
        "python_e2e": lambda: subprocess.run(start_cmd, check=True, capture_output=True, env=ours_env),
    }
    env = dict(os.environ, LC_ALL="C")
    cmd = [sclite or "sclite", "-r", str(ref), "stm", "-h", str(hyp), "ctm", "-o", "sum", "stdout", "-f", "0"]
    if sclite:
        e2e["sclite_e2e"] = lambda: subprocess.run(cmd, check=True, capture_output=True, env=env)
    row.update(interleaved_best(repeat, e2e))
    row["ours_inproc"] = best_of(repeat, lambda: score_files(ref, hyp))
    report = score_files(ref, hyp)
    ours = {u.utt_id.lower(): (u.counts.C, u.counts.S, u.counts.D, u.counts.I) for u in report.utterances}
    row["ours_counts"] = report.counts
    if sclite:
        pra = subprocess.run(
            cmd[:-4] + ["-o", "pra", "stdout", "-f", "0"], capture_output=True, text=True, env=env
        )
        row["equal_to_sclite"] = parse_pra(pra.stdout) == ours

    try:
        import jiwer
    except ImportError:
        jiwer = None
    if jiwer is not None:
        refs = {seg.utt_id: list(seg.words) for seg in segments}
        ids = list(refs)
        ref_text = [" ".join(refs[u]) for u in ids]
        hyp_text = [" ".join(hyps[u]) for u in ids]
        row["jiwer_inproc"] = best_of(repeat, lambda: jiwer.process_words(ref_text, hyp_text))
        out = jiwer.process_words(ref_text, hyp_text)
        lev = score(refs, hyps, levenshtein=True, case_sensitive=True).counts
        row["lev_inproc"] = best_of(repeat, lambda: score(refs, hyps, levenshtein=True, case_sensitive=True))
        row["equal_to_jiwer"] = (lev.C, lev.S, lev.D, lev.I) == (
            out.hits,
            out.substitutions,
            out.deletions,
            out.insertions,
        )
    return row


def tool_versions(sclite: str | None) -> str:
    parts = []
    if sclite:
        try:
            deb = subprocess.run(
                ["dpkg-query", "-W", "-f", "${Version}", "sctk"], capture_output=True, text=True
            )
            parts.append(
                f"sclite {sclite}" + (f" (Debian sctk {deb.stdout.strip()})" if deb.returncode == 0 else "")
            )
        except OSError:
            parts.append(f"sclite {sclite}")
    try:
        from importlib.metadata import version

        import jiwer  # noqa: F401

        parts.append(f"jiwer {version('jiwer')}")
    except ImportError:
        pass
    return ", ".join(parts)


def _ms(row: dict, key: str) -> str:
    return f"{1000 * row[key]:.0f} ms" if key in row else "n/a"


def _ms2(row: dict, key: str) -> str:
    """Best (median) end-to-end time."""
    return f"{1000 * row[key]:.0f} ({1000 * row[key + '_median']:.0f}) ms" if key in row else "n/a"


def _yes(row: dict, key: str) -> str:
    return ("yes" if row[key] else "**NO**") if key in row else "n/a"


def render(rows: list[dict], repeat: int, versions: str = "") -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        "## Scoring (`benchmarks/score_bench.py`)",
        "",
        f"Machine: {os.cpu_count()} CPU cores ({cpu}, shared with other jobs), "
        f"Python {platform.python_version()}; best (median) of {repeat} runs, all tools in the same run "
        "(the end-to-end commands alternate, after one untimed run each). Official PHOENIX-2014 STM "
        "references against "
        "generated hypotheses (10% deletions, 15% substitutions, 5% insertions)"
        + (f"; {versions}." if versions else "."),
        "",
        "| split | utts | ref words | sclite end to end | slr-score end to end | slr-score / sclite "
        "| `python -c pass` | slr-metrics in process | jiwer in process "
        "| slr-metrics Levenshtein in process | counts = sclite | Levenshtein = jiwer |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        ratio = (
            f"{r['ours_e2e'] / r['sclite_e2e']:.2f}x ({r['ours_e2e_median'] / r['sclite_e2e_median']:.2f}x)"
            if "sclite_e2e" in r
            else "n/a"
        )
        cells = [
            r["split"],
            str(r["utterances"]),
            str(r["words"]),
            _ms2(r, "sclite_e2e"),
            _ms2(r, "ours_e2e"),
            ratio,
            _ms2(r, "python_e2e"),
            _ms(r, "ours_inproc"),
            _ms(r, "jiwer_inproc"),
            _ms(r, "lev_inproc"),
            _yes(r, "equal_to_sclite"),
            _yes(r, "equal_to_jiwer"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    c = rows[0]["ours_counts"]
    lines += [
        "",
        f"dev totals (sclite alignment): N={c.N} C={c.C} S={c.S} D={c.D} I={c.I}, WER {c.wer:.2f}%. "
        "End to end includes interpreter start-up (the `python -c pass` column); slr-score imports "
        "neither numpy nor torch, nor argparse, re or dataclasses for a command line like this one. "
        "Ratios: best (median).",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    content = RESULTS.read_text(encoding="utf-8")
    start = content.index("## Scoring")
    end = content.find("\n## ", start + 1)
    end = len(content) if end < 0 else end + 1
    RESULTS.write_text(content[:start] + text + "\n" + content[end:], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--write", action="store_true", help="update the Scoring section of benchmarks/RESULTS.md"
    )
    args = parser.parse_args()
    folder = find_phoenix()
    sclite = find_sclite()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [bench_split(split, folder, sclite, args.repeat, Path(tmp)) for split in ("dev", "test")]
    text = render(rows, args.repeat, tool_versions(sclite))
    if args.write:
        write_section(text)
    print(text)


if __name__ == "__main__":
    main()
