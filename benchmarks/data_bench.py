"""slr-data loading benchmark: load + augment a 140-frame 256x256 video (PNG frames).

Compares, in one run on one machine:

* baseline: the common research pipeline: per frame ``cv2.imread`` + ``cvtColor``, PIL
  conversion, torchvision ``resized_crop`` / ``RandAugment`` / ``to_tensor`` / ``normalize`` (the
  per-video crop and a per-video RandAugment seed keep it frame-consistent), ``torch.stack``;
* albumentations: threaded decode, then ``A.Compose(...)(images=video)`` (same parameters for all
  frames) and normalisation, run by slr-data's adapter (``AlbumentationsVideoTransform``);
* slr-data: ``decode_frames`` (threaded ``cv2.imdecode``) + ``VideoTransform(train_preset(224))``,
  with 1 decode thread and with the default;

then DataLoader throughput with 2 workers (slr-data ``VideoDataset`` + ``collate_packed`` against
the baseline dataset with ``torch.stack``). Each number is the median of ``--repeat`` runs;
results go to the "Data loading" section of ``benchmarks/RESULTS.md`` with ``--write``.

    python benchmarks/data_bench.py --repeat 7 --write
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from slr_data import (
    AlbumentationsConfig,
    AlbumentationsVideoTransform,
    TemporalConfig,
    VideoDataset,
    VideoRecord,
    VideoTransform,
    Vocabulary,
    collate_packed,
    decode_frames,
    list_frame_files,
    train_preset,
)
from slr_data.synth import SynthConfig
from slr_data.synth.render import build_timeline, render_video, signer_styles
from slr_data.transforms import MissingDependencyError
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T
from torchvision.transforms import functional as TF

FRAMES, SIZE, CROP = 140, 256, 224
MEAN, STD = (0.45, 0.45, 0.45), (0.225, 0.225, 0.225)
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def make_video(folder: Path) -> list[Path]:
    """140 synthetic-signer frames at 256x256 written as PNG (natural-image-like compressibility)."""
    config = SynthConfig(image_size=SIZE, gloss_frames=(14, 18), noise_std=4.0, clutter=8)
    styles, _ = signer_styles(config)
    rng = np.random.default_rng(0)
    timeline = build_timeline(list(range(2, 12)), styles[0], config, rng)
    video = render_video(timeline, styles[0], config, rng)
    video = np.concatenate([video] * (FRAMES // len(video) + 1))[:FRAMES]
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(video):
        cv2.imwrite(str(folder / f"bench.avi_pid0_fn{t:06d}-0.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return list_frame_files(folder)


def baseline_load(paths: list[Path], seed: int) -> torch.Tensor:
    """Per-frame cv2.imread -> PIL -> torchvision ops -> tensor, stacked."""
    generator = torch.Generator().manual_seed(seed)
    first = Image.fromarray(cv2.cvtColor(cv2.imread(str(paths[0])), cv2.COLOR_BGR2RGB))
    top, left, height, width = T.RandomResizedCrop.get_params(first, scale=(0.8, 1.0), ratio=(3 / 4, 4 / 3))
    augment = T.RandAugment(num_ops=2, magnitude=9)
    video_seed = int(torch.randint(0, 2**31, (), generator=generator))
    frames = []
    for path in paths:
        image = Image.fromarray(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
        image = TF.resized_crop(image, top, left, height, width, [CROP, CROP], antialias=True)
        torch.manual_seed(video_seed)  # the same RandAugment ops for every frame
        image = augment(image)
        frames.append(TF.normalize(TF.to_tensor(image), MEAN, STD))
    return torch.stack(frames)


def albumentations_compose():
    """The albumentations row's pipeline: the op chain closest to train_preset(224)."""
    import albumentations as A

    return A.Compose(
        [
            A.RandomResizedCrop((CROP, CROP), scale=(0.8, 1.0), ratio=(3 / 4, 4 / 3)),
            A.RandomBrightnessContrast(p=0.5),
            A.Affine(rotate=(-9, 9), shear=(-5, 5), p=0.5),
            A.CoarseDropout(p=0.25),
        ]
    )


def albumentations_pipeline():
    """Threaded decode + slr-data's albumentations adapter (``compose(images=video)``, normalisation)."""
    try:
        transform = AlbumentationsVideoTransform(
            AlbumentationsConfig(f"{__name__}:albumentations_compose", size=CROP, mean=MEAN, std=STD)
        )
    except MissingDependencyError:
        return None

    def load(paths, seed):
        video = decode_frames(paths)
        return transform(video, np.random.default_rng(seed)).frames

    return load


def slr_loader(threads: int | None):
    transform = VideoTransform(train_preset(CROP))

    def load(paths, seed):
        video = decode_frames(paths, num_threads=threads)
        return transform(video, np.random.default_rng(seed)).frames

    return load


def time_it(fn, paths, repeat: int) -> float:
    """Median seconds per call (one warm-up call first)."""
    fn(paths, 0)
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        out = fn(paths, i + 1)
        times.append(time.perf_counter() - start)
        assert out.shape == (FRAMES, 3, CROP, CROP)
    return statistics.median(times)


class BaselineDataset(Dataset):
    def __init__(self, paths, count):
        self.paths, self.count = paths, count

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        return baseline_load(self.paths, index)


def loader_throughput(dataset, collate, repeat: int, batch: int = 2) -> float:
    """Frames per second through a 2-worker DataLoader (median over ``repeat`` passes)."""
    rates = []
    for _ in range(repeat):
        loader = DataLoader(dataset, batch_size=batch, collate_fn=collate, num_workers=2)
        start = time.perf_counter()
        frames = sum(
            int(b.frames.shape[0]) if hasattr(b, "frames") else int(b.shape[0] * b.shape[1]) for b in loader
        )
        rates.append(frames / (time.perf_counter() - start))
    return statistics.median(rates)


def synth_timing(default: bool) -> list[tuple[str, float, int]]:
    """Seconds to generate the tiny (and the default) synthetic corpus, with their frame counts."""
    import json

    from slr_data.synth import generate_synthetic_corpus

    presets = [("tiny", SynthConfig.tiny())] + ([("default", SynthConfig())] if default else [])
    rows = []
    for name, config in presets:
        with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent) as tmp:
            start = time.perf_counter()
            corpus = generate_synthetic_corpus(Path(tmp) / name, config)
            seconds = time.perf_counter() - start
            frames = sum(json.loads((corpus.root / "synth_config.json").read_text())["frames"].values())
        rows.append((name, seconds, frames))
        print(f"synthetic corpus {name}: {seconds:.1f} s, {frames} frames", flush=True)
    return rows


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores, load average {load:.1f} at start; "
        f"Python {platform.python_version()}, "
        f"torch {torch.__version__}, OpenCV {cv2.__version__}, numpy {np.__version__}"
    )


def write_results(text: str) -> None:
    content = RESULTS.read_text(encoding="utf-8")
    pattern = re.compile(r"(## Data loading \(`benchmarks/data_bench.py`\)\n)(.*?)(?=\n## |\Z)", re.S)
    if not pattern.search(content):
        raise SystemExit(f"{RESULTS}: no '## Data loading' section to update")
    content = pattern.sub(lambda m: m.group(1) + "\n" + text.rstrip() + "\n", content, count=1)
    tmp = RESULTS.with_suffix(".md.tmp")
    tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, RESULTS)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--videos", type=int, default=8, help="videos per DataLoader pass")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument(
        "--no-default-corpus",
        action="store_true",
        help="time only the tiny synthetic corpus (the default one takes ~30 s)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)  # one worker = one core's worth of torch; decoding threads are separate
    header = machine()
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_video(Path(tmp) / "video" / "1")
        single = {}
        pipelines = [
            ("baseline: per-frame cv2.imread + PIL + torchvision RandAugment", baseline_load),
            ("slr-data, 1 decode thread", slr_loader(1)),
            ("slr-data, default decode threads", slr_loader(None)),
        ]
        album = albumentations_pipeline()
        if album is not None:
            pipelines.insert(1, ("albumentations Compose(images=video), threaded decode", album))
        for name, fn in pipelines:
            single[name] = time_it(fn, paths, args.repeat)
            print(f"{name}: {FRAMES / single[name]:.0f} frames/s", flush=True)

        record = VideoRecord("bench", "train", "Signer01", ("A",), FRAMES, paths[0].parent)
        dataset = VideoDataset(
            [record] * args.videos,
            Vocabulary(["A"]),
            train_preset(CROP),
            temporal=TemporalConfig(),
            decode_threads=1,
        )
        ours_loader = loader_throughput(dataset, collate_packed, args.repeat)
        print(f"DataLoader(2 workers) slr-data: {ours_loader:.0f} frames/s", flush=True)
        base_loader = loader_throughput(BaselineDataset(paths, args.videos), torch.stack, args.repeat)
        print(f"DataLoader(2 workers) baseline: {base_loader:.0f} frames/s", flush=True)

    synth_rows = synth_timing(not args.no_default_corpus)
    base = single[pipelines[0][0]]
    lines = [
        f"Machine: {header}. Median of {args.repeat} runs; one process, torch limited to 1 thread.",
        "",
        f"Load + augment one {FRAMES}-frame {SIZE}x{SIZE} PNG video to {CROP}x{CROP} float tensors "
        "(train augmentation):",
        "",
        "| pipeline | ms / video | frames / s | vs baseline |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, seconds in single.items():
        lines.append(f"| {name} | {seconds * 1000:.0f} | {FRAMES / seconds:.0f} | {base / seconds:.2f}x |")
    lines += [
        "",
        f"DataLoader with 2 workers, batches of 2 videos, {args.videos} videos per pass:",
        "",
        "| pipeline | frames / s | vs baseline |",
        "| --- | ---: | ---: |",
        f"| baseline dataset + torch.stack | {base_loader:.0f} | 1.00x |",
        f"| slr-data VideoDataset + collate_packed | {ours_loader:.0f} | {ours_loader / base_loader:.2f}x |",
        "",
        "Goal: >= 2x the baseline for one video on one worker. The albumentations row is a similar op chain "
        "(random resized crop, brightness/contrast, affine, coarse dropout; albumentations has no "
        "RandAugment), for reference.",
        "",
        "Synthetic corpus generation (`generate_synthetic_corpus`: numpy rendering + PNG writing from a "
        "thread pool; file creation dominates on slow file systems):",
        "",
        "| preset | seconds | frames | frames / s |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {name} | {secs:.1f} | {frames} | {frames / secs:.0f} |" for name, secs, frames in synth_rows
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_results(text)


if __name__ == "__main__":
    main()
