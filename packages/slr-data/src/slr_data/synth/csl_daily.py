"""Writing a synthetic corpus in the CSL-Daily release layout (Chinese glosses).

::

    <out>/
      sentence_label/csl2020ct_v2.pkl         # {"gloss_map", "char_map", "word_map", "info": [...]}
      sentence_label/split_1.txt              # name|split
      sentence/frames_512x512/<name>/000000.jpg ...
      synth_config.json                       # format "slr-synthetic-csl-daily", config, counts

The videos, signers and sentences are those of the PHOENIX-layout synthetic corpus of the same
:class:`~slr_data.SynthConfig` (the same plan and renderer); gloss ``i`` of the synthetic language
is named :data:`CHINESE_GLOSSES` ``[i]`` (``__ON__``/``__OFF__`` included, as ordinary signs), frames
are JPEG files (``image_size`` pixels, the folder keeps the release name ``frames_512x512``) and
names follow the release's ``S<sentence>_P<signer>_T<take>`` form.
"""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2

from slr_data._atomic import atomic_write_bytes, atomic_write_text
from slr_data.corpus.csl_daily import CSL_DAILY_FRAMES, CSL_DAILY_LABELS, CSL_DAILY_SPLIT_HEADER
from slr_data.synth.config import SynthConfig
from slr_data.synth.render import noise_bank, render_video
from slr_data.synth.writer import _plan, _video_timeline

__all__ = ["CHINESE_GLOSSES", "CSL_DAILY_FORMAT", "build_csl_daily", "chinese_gloss_names"]

CSL_DAILY_FORMAT = "slr-synthetic-csl-daily"

#: frequent CSL-Daily-like glosses (daily life); more than these are numbered ``词017`` ...
CHINESE_GLOSSES = (
    "开始", "结束", "我", "你", "他", "今天", "明天", "昨天", "去", "来", "吃", "饭", "喝", "水", "好",
    "不", "是", "想", "要", "工作", "学校", "医院", "朋友", "家", "买", "东西", "钱", "多少", "时间",
    "现在", "早上", "晚上", "天气", "冷", "热", "下雨", "车", "坐", "走", "看", "书", "电影", "喜欢",
    "谢谢", "对不起", "没关系", "帮助", "问题", "知道", "学习", "手语", "聋人", "老师", "同学", "妈妈",
    "爸爸", "孩子", "生日", "快乐", "周末", "休息",
)


def chinese_gloss_names(count: int) -> list[str]:
    """``count`` distinct Chinese gloss names (:data:`CHINESE_GLOSSES`, then ``词<n>``)."""
    names = list(CHINESE_GLOSSES[:count])
    return names + [f"词{i:03d}" for i in range(len(names), count)]


def _write_jpegs(job) -> int:
    split, index, signer, sentence, folder, language, styles, config, noise = job
    rng, timeline = _video_timeline(config, split, index, sentence, styles[signer], language)
    frames = render_video(timeline, styles[signer], config, rng, noise)
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        path = folder / f"{t:06d}.jpg"
        if not cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise OSError(f"{path}: cv2.imwrite failed")
    return len(frames)


def build_csl_daily(tmp: Path, config: SynthConfig) -> tuple[dict[str, int], dict]:
    """Write the corpus of ``config`` in the CSL-Daily layout under ``tmp``.

    Returns:
        ``({split: videos}, summary fields for the marker file)``.
    """
    language, styles, plan = _plan(config)
    names = dict(zip(language.glosses, chinese_gloss_names(len(language.glosses)), strict=True))
    frames_dir = tmp / CSL_DAILY_FRAMES
    noise = noise_bank(config) if config.noise_std > 0 else None
    jobs, rows = [], []
    for split, videos in plan.items():
        for index, (_video_id, signer, sentence) in enumerate(videos):
            name = f"S{len(rows):06d}_P{signer:04d}_T00"
            jobs.append((split, index, signer, sentence, frames_dir / name, language, styles, config, noise))
            rows.append((name, split, signer, [names[g] for g in sentence]))
    pool = ThreadPoolExecutor(max_workers=config.write_threads, thread_name_prefix="slr-synth")
    try:
        lengths = list(pool.map(_write_jpegs, jobs))
    except BaseException:  # Ctrl-C or a failed write: drop the queued videos, do not render them all
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    glosses = [names[g] for g in language.glosses]
    info = [
        {
            "name": name,
            "length": length,
            "label_gloss": gloss,
            "label_char": [ch for g in gloss for ch in g],
            "label_word": list(gloss),
            "signer": signer,
        }
        for (name, _split, signer, gloss), length in zip(rows, lengths, strict=True)
    ]
    labels = {
        "gloss_map": glosses,
        "char_map": sorted({ch for g in glosses for ch in g}),
        "word_map": glosses,
        "info": info,
    }
    atomic_write_bytes(tmp / CSL_DAILY_LABELS, pickle.dumps(labels, protocol=4))
    split_lines = ["|".join(CSL_DAILY_SPLIT_HEADER), *(f"{name}|{split}" for name, split, _, _ in rows)]
    atomic_write_text(tmp / CSL_DAILY_LABELS.parent / "split_1.txt", "\n".join(split_lines) + "\n")
    counts = {split: len(videos) for split, videos in plan.items()}
    frames = {split: 0 for split in plan}
    for (_name, split, _s, _g), length in zip(rows, lengths, strict=True):
        frames[split] += int(length)
    return counts, {"frames": frames, "glosses": glosses}
