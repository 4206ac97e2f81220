"""Using a trained checkpoint: re-score a run (``evaluate``) and gloss unseen videos (``predict``).

A checkpoint is self-contained: besides the weights it stores the model config, the vocabulary,
the evaluation transform and the app config it was trained with (``extra`` in the payload), so
``predict`` needs nothing but the checkpoint file and the videos.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from slr_data import TemporalConfig, Vocabulary, read_video, sample_frame_indices, transform_config_from_dict
from slr_data.transforms import VideoTransform
from slr_models import create_model_from_config
from slr_train import CheckpointManager, distributed_session, eval_model_state, load_checkpoint
from slr_train.atomic import atomic_write_json

from slr_phoenix.data import build_eval_sets, prepare_corpus
from slr_phoenix.pipeline import evaluate_splits, make_decoder
from slr_phoenix.settings import AppConfig


class CheckpointNotFoundError(FileNotFoundError):
    """No usable checkpoint at the given path."""


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file as given, or a run directory's best (else newest) valid checkpoint."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise CheckpointNotFoundError(f"{path}: no such checkpoint file or run directory")
    folder = path / "checkpoints" if (path / "checkpoints").is_dir() else path
    manager = CheckpointManager(folder, keep_last=1_000_000)
    info = manager.best() or manager.latest()
    if info is None:
        raise CheckpointNotFoundError(f"{path}: no valid checkpoint in {folder}")
    return Path(info.path)


@dataclass
class LoadedModel:
    """A model ready for inference with everything needed to feed it."""

    model: torch.nn.Module
    vocab: Vocabulary
    transform: VideoTransform
    temporal: TemporalConfig
    config: AppConfig
    checkpoint: Path
    payload_meta: dict[str, Any]


def load_trained(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load the weights to evaluate (best checkpoint's winner, else EMA/raw) with their context."""
    checkpoint = resolve_checkpoint(path)
    payload = load_checkpoint(checkpoint)  # torch.load(weights_only=True), sha256-verified
    extra = payload.get("extra") or {}
    missing = [k for k in ("model", "vocab", "eval_transform", "app_config") if k not in extra]
    if missing:
        raise CheckpointNotFoundError(f"{checkpoint}: not an slr_phoenix checkpoint (missing {missing})")
    model = create_model_from_config(extra["model"])
    model.load_state_dict(eval_model_state(payload))
    model.to(device).eval()
    transform = VideoTransform(transform_config_from_dict(extra["eval_transform"]))
    temporal = TemporalConfig(**extra.get("eval_temporal", {}))
    meta = {"kind": payload.get("kind"), "epoch": payload.get("epoch"), "weights": payload.get("weights"),
            "dev": payload.get("dev")}
    return LoadedModel(model, Vocabulary.from_dict(extra["vocab"], source=str(checkpoint)), transform, temporal,
                       AppConfig.from_dict(extra["app_config"], source=f"{checkpoint} (stored config)"),
                       checkpoint, meta)


@torch.no_grad()
def predict_videos(loaded: LoadedModel, videos: Sequence[str | Path], *, beam_size: int | None = None,
                   greedy: bool = False) -> list[dict[str, Any]]:
    """Glosses of each video (a frame folder or a video file), decoded one video at a time."""
    config = loaded.config
    if greedy:
        from slr_models import ctc_greedy_decode as decode
    else:
        eval_settings = config.eval if beam_size is None else type(config.eval)(
            decoder="beam", beam_size=beam_size, protocol=config.eval.protocol, splits=config.eval.splits)
        decode = make_decoder(type(config)(config.name, config.data, config.model, config.train, eval_settings))
    device = next(loaded.model.parameters()).device
    out = []
    for video in videos:
        start = time.time()
        frames = read_video(video)  # (T, H, W, 3) uint8; FrameReadError names the path
        indices = sample_frame_indices(len(frames), loaded.temporal, train=False)
        tensor = loaded.transform(frames[indices]).frames.to(device)  # (T, 3, S, S)
        lengths = torch.tensor([tensor.shape[0]], device=device)
        output = loaded.model(tensor, lengths)
        ids = (decode.decode if hasattr(decode, "decode") else decode)(output.log_probs, output.lengths)[0]
        out.append({"video": str(video), "frames": int(len(frames)), "glosses": loaded.vocab.decode(ids),
                    "seconds": round(time.time() - start, 3)})
    return out


def rescore(path: str | Path, splits: Sequence[str], out_dir: Path | None = None, *,
            data_root: str | None = None, beam_size: int | None = None, greedy: bool = False) -> dict[str, Any]:
    """Decode and score ``splits`` with a checkpoint, writing CTM/STM/reports to ``out_dir``."""
    with distributed_session() as env:
        loaded = load_trained(path, env.device)
        config = loaded.config
        overrides: dict[str, Any] = {}
        if data_root is not None:
            overrides["root"] = data_root
        if overrides:
            config = AppConfig.from_dict(config.to_dict() | {"data": config.to_dict()["data"] | overrides})
        if greedy or beam_size is not None:
            ev = config.to_dict()["eval"] | ({"decoder": "greedy"} if greedy else {"decoder": "beam",
                                                                                 "beam_size": beam_size})
            config = AppConfig.from_dict(config.to_dict() | {"eval": ev})
        corpus = prepare_corpus(config.data)
        if corpus.vocab != loaded.vocab:
            raise ValueError(f"{loaded.checkpoint}: the corpus vocabulary differs from the one the model was "
                             f"trained with ({len(corpus.vocab)} vs {len(loaded.vocab)} classes)")
        evals = build_eval_sets(corpus, config.data, loaded.model.config.img_size, splits)
        target = out_dir if out_dir is not None else loaded.checkpoint.parent.parent / "rescore"
        if env.is_main:
            target.mkdir(parents=True, exist_ok=True)
        scores = evaluate_splits(loaded.model, evals, loaded.vocab, config, corpus, target, env)
        if not env.is_main:
            return {}
        meta = {k: v for k, v in loaded.payload_meta.items() if v is not None}
        result = {**scores, "checkpoint": str(loaded.checkpoint), "checkpoint_meta": meta}
        atomic_write_json(target / "rescore.json", result)
        return result
