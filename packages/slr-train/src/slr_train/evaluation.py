"""Distributed evaluation: every rank decodes its shard, counts are summed, hypotheses gathered.

WER comes from the *summed* counts of ``slr_metrics.WERAccumulator`` (never an average of
per-rank WERs), so N processes give exactly the single-process counts. Any failure on any rank
(decoder, scorer, a missing file in the dataset, ...) raises :class:`EvaluationError` on every
rank with the cause; it never turns into a WER.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn
from torch.utils.data import DataLoader

from slr_train import distributed as D
from slr_train.data import EvalSet, ListBatchSampler, shard_batches
from slr_train.engines.base import model_inputs
from slr_train.param_groups import unwrap_model
from slr_train.rng import preserved_rng

Decoder = Callable[[torch.Tensor, torch.Tensor], list[list[int]]]


class EvaluationError(RuntimeError):
    """Evaluation failed; the message names the rank(s) and the cause."""


@dataclass(frozen=True)
class EvalResult:
    """``counts``: summed ``slr_metrics.Counts``; ``hypotheses``: ``(video_id, glosses)`` in dataset
    order (on rank 0; empty elsewhere)."""

    name: str
    wer: float
    counts: Any
    num_utterances: int
    hypotheses: list[tuple[str, list[str]]] = field(default_factory=list)


class WERScorer:
    """Accumulator factory and cross-rank reduction for :func:`evaluate` (slr_metrics by default).

    ``make_accumulator()`` returns an object with ``update(utt_id, ref, hyp)`` and ``counts``;
    counts must offer ``to_list()``, ``type(counts).from_list(values)`` and ``wer``.
    """

    def __init__(self, protocol: str = "none", make_accumulator: Callable[[], Any] | None = None) -> None:
        self.protocol = protocol
        self._make = make_accumulator

    def make_accumulator(self) -> Any:
        if self._make is not None:
            return self._make()
        from slr_metrics import WERAccumulator

        return WERAccumulator(protocol=self.protocol)

    @staticmethod
    def all_reduce(counts: Any) -> Any:
        """Element-wise sum of the counts over ranks (exact, int64).

        ``slr_metrics.Counts`` go through ``slr_metrics.distributed.all_reduce_counts``; other
        counts types through their ``to_list``/``from_list``.
        """
        if type(counts).__module__.startswith("slr_metrics"):
            from slr_metrics.distributed import all_reduce_counts

            return all_reduce_counts(counts)
        local = torch.tensor(counts.to_list(), dtype=torch.int64)
        return type(counts).from_list(D.all_reduce_sum(local).tolist())


def default_decoder() -> Decoder:
    """``slr_models.ctc_greedy_decode`` (imported when first needed)."""
    try:
        from slr_models import ctc_greedy_decode
    except ImportError:  # older slr-models export it from the decoding subpackage only
        from slr_models.decoding import ctc_greedy_decode
    return ctc_greedy_decode


def _as_decoder(decoder: Any) -> Decoder:
    if decoder is None:
        return default_decoder()
    if hasattr(decoder, "decode"):
        return decoder.decode
    if callable(decoder):
        return decoder
    raise TypeError(f"decoder must be callable or have .decode(log_probs, lengths), got {type(decoder).__name__}")


def _forward(module: nn.Module, batch: Any, device: torch.device, autocast_dtype: torch.dtype | None) -> Any:
    if hasattr(batch, "to"):
        batch = batch.to(device)
    args, kwargs = model_inputs(batch)
    param_dtype = next(module.parameters()).dtype
    if param_dtype != torch.float32:  # a DeepSpeed bf16 module: feed it its own dtype
        args = tuple(a.to(param_dtype) if torch.is_tensor(a) and a.is_floating_point() else a for a in args)
        kwargs = {k: v.to(param_dtype) if torch.is_tensor(v) and v.is_floating_point() else v
                  for k, v in kwargs.items()}
    with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
        return module(*args, **kwargs)


def _decode_shard(module: nn.Module, loader: DataLoader, batches: list[list[int]], decode: Decoder,
                  to_glosses: Callable[[list[int]], list[str]], accumulator: Any, device: torch.device,
                  autocast_dtype: torch.dtype | None) -> list[tuple[int, str, list[str]]]:
    hyps = []
    for indices, batch in zip(batches, loader):
        if len(batch.video_ids) != len(indices):
            raise EvaluationError(f"a batch of {len(indices)} videos arrived with {len(batch.video_ids)} "
                                  "(the dataset skipped some); every evaluation video must load")
        out = _forward(module, batch, device, autocast_dtype)
        ids = decode(out.log_probs.float(), out.lengths)
        if len(ids) != len(indices):
            raise EvaluationError(f"decoder returned {len(ids)} hypotheses for a batch of {len(indices)}")
        for index, video_id, ref, hyp_ids in zip(indices, batch.video_ids, batch.glosses, ids):
            hyp = list(to_glosses([int(i) for i in hyp_ids]))
            accumulator.update(video_id, list(ref), hyp)
            hyps.append((index, video_id, hyp))
    return hyps


@torch.no_grad()
def evaluate(model: nn.Module, eval_set: EvalSet, to_glosses: Callable[[list[int]], list[str]], *,
             decoder: Any = None, scorer: WERScorer | None = None, batch_size: int = 8,
             device: torch.device | str | None = None, autocast_dtype: torch.dtype | None = None,
             num_workers: int = 0) -> EvalResult:
    """Collective: decodes ``eval_set`` sharded over the ranks and scores it.

    ``to_glosses`` maps label ids to glosses (``Vocabulary.decode``); references are the batch's
    ``glosses``. ``decoder``: a callable ``(log_probs (T, B, V), lengths (B,)) -> ids`` or an object
    with ``.decode`` (``CTCBeamDecoder``); default greedy. The model's train/eval mode and every
    RNG state are restored afterwards.
    """
    module = unwrap_model(model)
    device = torch.device(device) if device is not None else next(module.parameters()).device
    scorer = scorer or WERScorer()
    rank, world = D.get_rank(), D.get_world_size()
    batches = shard_batches(len(eval_set.dataset), rank, world, batch_size, eval_set.num_frames)
    error: str | None = None
    hyps: list[tuple[int, str, list[str]]] = []
    counts = None
    was_training = module.training
    module.eval()
    try:
        with preserved_rng():
            decode = _as_decoder(decoder)
            accumulator = scorer.make_accumulator()
            loader = DataLoader(eval_set.dataset, batch_sampler=ListBatchSampler(batches),
                                collate_fn=eval_set.collate_fn, num_workers=num_workers)
            hyps = _decode_shard(module, loader, batches, decode, to_glosses, accumulator, device, autocast_dtype)
            counts = accumulator.counts
    except Exception as e:  # reported on every rank below, never swallowed
        local_exc: BaseException | None = e
        error = f"rank {rank}: {type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}"
    else:
        local_exc = None
    finally:
        module.train(was_training)
    errors = [m for m in D.all_gather_objects(error) if m]
    if errors:
        raise EvaluationError(f"evaluation of {eval_set.name!r} failed:\n" + "\n".join(errors)) from local_exc
    total = scorer.all_reduce(counts)
    gathered = D.all_gather_objects(hyps)
    all_hyps = sorted((h for part in gathered for h in part), key=lambda h: h[0])
    if [h[0] for h in all_hyps] != list(range(len(eval_set.dataset))):
        raise EvaluationError(f"evaluation of {eval_set.name!r}: {len(all_hyps)} hypotheses for "
                              f"{len(eval_set.dataset)} videos (sharding lost or duplicated some)")
    if total.N == 0:
        raise EvaluationError(f"evaluation of {eval_set.name!r}: the references have no words (N = 0)")
    return EvalResult(name=eval_set.name, wer=float(total.wer), counts=total, num_utterances=len(all_hyps),
                      hypotheses=[(vid, hyp) for _, vid, hyp in all_hyps] if rank == 0 else [])
