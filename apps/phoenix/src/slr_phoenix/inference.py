"""Using a trained checkpoint: re-score a run (``evaluate``) and gloss unseen videos (``predict``).

A checkpoint is self-contained: besides the weights it stores the model config, the vocabulary,
the evaluation transform and the app config it was trained with (``extra`` in the payload), so
``predict`` needs nothing but the checkpoint file and the videos.

An slr-model bundle (``slr-models import-mamba-slr``'s output, :mod:`slr_models.interop.bundle`)
works too: its glosses are the vocabulary (blank 0), its ``preprocessing`` the eval transform
(resize the short side, centre crop), every frame is used. It names no corpus, so ``evaluate``
needs ``--data-root`` and scores it with :func:`bundle_app_config` (PHOENIX-2014, its frame tree,
official protocol, beam 5).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import torch
from slr_data import (
    DEFAULT_CORPUS,
    DataError,
    EvalTransformConfig,
    TemporalConfig,
    VideoDataset,
    Vocabulary,
    collate_packed,
    detect_corpus,
    get_corpus,
    read_video,
    sample_frame_indices,
    transform_config_from_dict,
)
from slr_data.transforms import VideoTransform
from slr_models import create_model_from_config
from slr_models.decoding import Decoder, decoder_options
from slr_models.interop import CheckpointImportError, check_bundle, is_bundle, model_from_bundle, safe_torch_load
from slr_train import (
    CheckpointError,
    CheckpointRecord,
    EvalSet,
    distributed_session,
    load_checkpoint,
    select_checkpoint,
)
from slr_train.atomic import atomic_write_json

from slr_phoenix.data import build_eval_sets, prepare_corpus
from slr_phoenix.errors import CheckpointNotFoundError
from slr_phoenix.outputs import usable_output_dir
from slr_phoenix.pipeline import decoder_from_settings, evaluate_splits
from slr_phoenix.settings import AppConfig, ConfigError, EvalSettings
from slr_phoenix.run_report import write_rescore_report
from slr_phoenix.utterance_views import check_plot_ids, write_utterance_plots

_log = logging.getLogger(__name__)


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file as given (verified against its manifest when it has one; a file without
    one may be a model bundle), or a run directory's best, else newest, valid checkpoint
    (:func:`slr_train.select_checkpoint`). Which one and why is logged as one line, e.g.
    ``using RUN/checkpoints/best-000000012.pt (best by dev WER 41.20 %, ema weights, epoch 3, step 12)``;
    an invalid or malformed checkpoint is a :class:`CheckpointError` naming the file."""
    path = Path(path)
    if not path.exists():
        raise CheckpointNotFoundError(f"{path}: no such checkpoint file or run directory")
    if path.is_file() and not path.with_suffix(".json").is_file():
        return path
    choice = select_checkpoint(path)
    passed_over = choice.fallback_from is not None or choice.invalid
    (_log.warning if passed_over else _log.info)("%s", choice.describe())
    return Path(choice.require().path)


@dataclass
class LoadedModel:
    """A model ready for inference with everything needed to feed it.

    ``config`` is the app config the model was trained with (``None`` for a model bundle, which
    has none); ``eval`` the decoding settings ``predict`` uses by default.
    """

    model: torch.nn.Module
    vocab: Vocabulary
    transform: VideoTransform
    temporal: TemporalConfig
    config: AppConfig | None
    checkpoint: Path
    payload_meta: dict[str, Any]
    eval: EvalSettings

    @property
    def is_bundle(self) -> bool:
        return self.config is None


def _read_bundle(path: Path) -> dict[str, Any] | None:
    """The bundle in ``path``, or ``None`` when the file is something else (plain data only is read)."""
    try:
        payload = safe_torch_load(path, extra_globals=())
    except CheckpointImportError:
        return None
    return check_bundle(payload, path) if is_bundle(payload) else None


def bundle_eval_transform(preprocessing: dict[str, Any], img_size: int, path: Path) -> EvalTransformConfig:
    """A bundle's ``preprocessing`` as the eval transform: short side to ``resize``, centre crop ``crop``
    (which must be the model's input size), normalised with ``mean`` / ``std``."""
    try:
        crop, resize = int(preprocessing["crop"]), preprocessing.get("resize")
        config = EvalTransformConfig(size=crop, resize=None if resize is None else int(resize), crop_mode="center",
                                     mean=tuple(preprocessing["mean"]), std=tuple(preprocessing["std"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointImportError(f"bad preprocessing in bundle ({type(exc).__name__}: {exc})", path) from None
    if crop != img_size:
        raise CheckpointImportError(f"the bundle's preprocessing crops {crop} px, but its model takes {img_size} "
                                    "px frames (re-import it with slr-models import-mamba-slr)", path)
    return config


def _load_bundle(checkpoint: Path, bundle: dict[str, Any], device: str | torch.device) -> LoadedModel:
    model = model_from_bundle(bundle, checkpoint).to(device)
    try:
        vocab = Vocabulary(list(bundle["glosses"]))
    except (TypeError, ValueError) as exc:
        raise CheckpointImportError(f"bad glosses in bundle: {exc}", checkpoint) from None
    if len(vocab) != model.config.num_classes:
        raise CheckpointImportError(f"{len(vocab) - 1} glosses + blank, but the model has "
                                    f"{model.config.num_classes} classes", checkpoint)
    eval_transform = bundle_eval_transform(dict(bundle["preprocessing"]), model.config.img_size, checkpoint)
    transform = VideoTransform(eval_transform)
    every_frame = TemporalConfig(frame_interval=1, random_offset=False, rescale=0.0, max_frames=None)
    source = bundle.get("source") if isinstance(bundle.get("source"), dict) else {}
    meta = {"kind": "bundle", "source": source, "preprocessing": dict(bundle["preprocessing"])}
    return LoadedModel(model, vocab, transform, every_frame, None, checkpoint, meta, EvalSettings())


def load_trained(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load the weights to evaluate (best checkpoint's winner, else EMA/raw) with their context,
    or an slr-model bundle's model, vocabulary and preprocessing."""
    checkpoint = resolve_checkpoint(path)
    if not checkpoint.with_suffix(".json").is_file():  # no slr-train manifest beside it: a bundle?
        bundle = _read_bundle(checkpoint)
        if bundle is not None:
            return _load_bundle(checkpoint, bundle, device)
        raise CheckpointError(f"{checkpoint}: neither an slr-train checkpoint (its manifest "
                              f"{checkpoint.with_suffix('.json').name} is missing) nor an slr-model bundle; a "
                              "Mamba_SLR checkpoint must first be imported with 'slr-models import-mamba-slr'")
    record = CheckpointRecord.from_payload(load_checkpoint(checkpoint), checkpoint)  # weights_only, verified
    extra = record.extra or {}
    missing = [k for k in ("model", "vocab", "eval_transform", "app_config") if k not in extra]
    if missing:
        raise CheckpointNotFoundError(f"{checkpoint}: not an slr_phoenix checkpoint (missing {missing})")
    try:  # verified bytes, but written by another version or tool: name the file, not a KeyError
        model = create_model_from_config(extra["model"])
        model.load_state_dict(record.model_state())
        transform = VideoTransform(transform_config_from_dict(extra["eval_transform"]))
        temporal = TemporalConfig(**extra.get("eval_temporal", {}))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{checkpoint}: its stored model or transforms cannot be used "
                              f"({type(exc).__name__}: {' '.join(str(exc).split())[:300]})") from exc
    model.to(device).eval()
    meta = {"kind": record.kind, "epoch": record.epoch, "weights": record.weights, "dev": record.dev}
    config = AppConfig.from_dict(extra["app_config"], source=f"{checkpoint} (stored config)")
    return LoadedModel(model, Vocabulary.from_dict(extra["vocab"], source=str(checkpoint)), transform, temporal,
                       config, checkpoint, meta, config.eval)


def with_decoding(settings: EvalSettings, beam_size: int | None, greedy: bool) -> EvalSettings:
    """``settings`` with ``--greedy`` (decoder ``greedy``) or ``--beam-size K`` (beam ``K`` for the
    configured decoder if it takes a ``beam_size``, else for ``beam``) applied; every other field is
    kept (``dataclasses.replace``)."""
    if greedy:
        return replace(settings, decoder="greedy")
    if beam_size is not None:
        name = settings.decoder if "beam_size" in decoder_options(settings.decoder) else "beam"
        return replace(settings, decoder=name, beam_size=beam_size)
    return settings


@torch.no_grad()
def predict_videos(loaded: LoadedModel, videos: Sequence[str | Path], *, beam_size: int | None = None,
                   greedy: bool = False, decoder: Decoder | None = None,
                   on_output: Any = None) -> list[dict[str, Any]]:
    """Glosses of each video (a frame folder or a video file), decoded one video at a time by
    ``decoder`` (default: the registry's decoder for ``loaded.eval`` with ``--greedy`` / ``--beam-size``):
    ``{"video", "frames", "glosses", "seconds"}``, or ``{"video", "error"}`` (one line naming the
    video) for one that cannot be read (missing, corrupt, over the slr-data limits);
    ``on_output(item, frames (T, H, W, 3) uint8 as sampled, log_probs (T', V), ids)`` sees each
    recognised video (e.g. :class:`slr_phoenix.utterance_views.PredictionPlots`)."""
    if decoder is None:
        decoder = decoder_from_settings(with_decoding(loaded.eval, beam_size, greedy))
    device = next(loaded.model.parameters()).device
    out: list[dict[str, Any]] = []
    for video in videos:
        start = time.time()
        try:
            frames = read_video(video)  # (T, H, W, 3) uint8; FrameReadError names the path
        except (DataError, OSError, ValueError) as exc:
            message = " ".join(str(exc).split()) or type(exc).__name__
            named = message if str(video) in message else f"{video}: {message}"
            out.append({"video": str(video), "error": named})
            continue
        indices = sample_frame_indices(len(frames), loaded.temporal, train=False)
        tensor = loaded.transform(frames[indices]).frames.to(device)  # (T, 3, S, S)
        lengths = torch.tensor([tensor.shape[0]], device=device)
        output = loaded.model(tensor, lengths)
        ids = decoder.decode(output.log_probs, output.lengths)[0]
        out.append({"video": str(video), "frames": int(len(frames)), "glosses": loaded.vocab.decode(ids),
                    "seconds": round(time.time() - start, 3)})
        if on_output is not None:
            on_output(out[-1], frames[indices], output.log_probs[: int(output.lengths[0]), 0], ids)
    return out


def bundle_app_config(loaded: LoadedModel, data_root: str | Path, splits: Sequence[str]) -> AppConfig:
    """The app config a model bundle is evaluated with: PHOENIX-2014 under ``data_root`` in the frame
    tree the bundle names (``preprocessing.frame_tree``, e.g. ``256x256px``), the official
    ``phoenix2014`` protocol, beam 5, float32 (a bundle holds float32 weights)."""
    frame_tree = loaded.payload_meta.get("preprocessing", {}).get("frame_tree") or "210x260px"
    return AppConfig.from_dict({
        "name": loaded.checkpoint.stem,
        "data": {"corpus": "phoenix2014", "root": str(Path(data_root).expanduser()), "resolution": frame_tree,
                 "preload": False},
        # no "model": the bundle's own (its config, e.g. "mamba_slr_import", names no registered model)
        "train": {"precision": {"dtype": "fp32"}},
        "eval": {"decoder": "beam", "beam_size": 5, "protocol": "phoenix2014", "splits": list(splits)},
    }, source=f"{loaded.checkpoint} (bundle defaults)")


def check_bundle_vocabulary(loaded: LoadedModel, corpus, splits: Sequence[str]) -> None:
    """Every gloss of the ``splits`` references must be one the bundle's model can output; a corpus
    vocabulary that differs otherwise (another order, train-only glosses) is logged."""
    known = set(loaded.vocab.glosses)
    for split in splits:
        unknown = sorted({g for record in corpus[split] for g in record.glosses} - known)
        if unknown:
            shown = ", ".join(unknown[:8]) + (f" (+{len(unknown) - 8} more)" if len(unknown) > 8 else "")
            raise ConfigError(f"{loaded.checkpoint}: {len(unknown)} gloss(es) of the {split} references are not in "
                              f"the bundle's vocabulary of {len(known)} glosses: {shown}; is --data-root the corpus "
                              "the model was trained on?")
    if tuple(corpus.vocab.glosses) != tuple(loaded.vocab.glosses):
        _log.info("the corpus vocabulary (%d glosses) differs from the bundle's (%d, in its id order); the "
                  "bundle's is used", len(corpus.vocab.glosses), len(known))


def _bundle_eval_sets(loaded: LoadedModel, corpus, config: AppConfig, splits: Sequence[str]) -> dict[str, EvalSet]:
    """Eval sets with the bundle's vocabulary, preprocessing and temporal sampling (every frame)."""
    settings = config.data
    return {split: EvalSet(split, dataset, collate_packed, dataset.lengths())
            for split in splits
            for dataset in [VideoDataset(corpus[split], loaded.vocab, loaded.transform, temporal=loaded.temporal,
                                         on_error=settings.on_error, preload=settings.preload,
                                         decode_threads=settings.num_decode_threads)]}


def _with_decoding(config: AppConfig, beam_size: int | None, greedy: bool) -> AppConfig:
    return replace(config, eval=with_decoding(config.eval, beam_size, greedy))


def rescore(path: str | Path, splits: Sequence[str], out_dir: Path | None = None, *,
            data_root: str | None = None, beam_size: int | None = None, greedy: bool = False,
            plot_utterances: Sequence[str] = ()) -> dict[str, Any]:
    """Decode and score ``splits`` with a checkpoint (or model bundle), writing CTM/STM/reports and
    ``report.html`` to ``out_dir`` (default ``<run>/rescore``; for a bundle ``<bundle>.rescore``
    beside it), and the alignment views of ``plot_utterances`` to ``out_dir/alignments/``."""
    with distributed_session() as env:
        loaded = load_trained(path, env.device)
        if loaded.is_bundle:
            if data_root is None:
                raise ConfigError(f"{loaded.checkpoint}: a model bundle names no corpus: give --data-root (the "
                                  "PHOENIX-2014 release folder, or a folder of *_info.npy + gloss_dict.npy)")
            config = _with_decoding(bundle_app_config(loaded, data_root, splits), beam_size, greedy)
            corpus = prepare_corpus(config.data)
            check_bundle_vocabulary(loaded, corpus, splits)
            evals = _bundle_eval_sets(loaded, corpus, config, splits)
            default_target = loaded.checkpoint.with_name(f"{loaded.checkpoint.stem}.rescore")
        else:
            config = loaded.config
            if data_root is not None:  # used, never ignored: a synthetic run reads it as a real corpus
                root = str(Path(data_root).expanduser())
                corpus_name = config.data.corpus
                if get_corpus(corpus_name).synthetic:
                    corpus_name = detect_corpus(root) or DEFAULT_CORPUS
                config = replace(config, data=replace(config.data, root=root, corpus=corpus_name))
            config = _with_decoding(config, beam_size, greedy)
            corpus = prepare_corpus(config.data)
            if corpus.vocab != loaded.vocab:
                raise ConfigError(f"{loaded.checkpoint}: the corpus vocabulary differs from the one the model was "
                                  f"trained with ({len(corpus.vocab)} vs {len(loaded.vocab)} classes)")
            evals = build_eval_sets(corpus, config.data, loaded.model.config.img_size, splits)
            default_target = loaded.checkpoint.parent.parent / "rescore"
        target = out_dir if out_dir is not None else default_target
        check_plot_ids(plot_utterances, evals)
        if env.is_main:
            usable_output_dir(target, create=True)
        scores = evaluate_splits(loaded.model, evals, loaded.vocab, config, corpus, target, env)
        if not env.is_main:
            return {}
        meta = {k: v for k, v in loaded.payload_meta.items() if v is not None}
        result = {**scores, "checkpoint": str(loaded.checkpoint), "checkpoint_meta": meta}
        atomic_write_json(target / "rescore.json", result)
        write_utterance_plots(loaded.model, evals, loaded.vocab, target, config.eval.protocol,
                              plot_utterances)
        write_rescore_report(loaded, config, result, evals, target)
        return result
