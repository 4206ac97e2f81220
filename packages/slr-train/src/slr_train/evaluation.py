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
from slr_models.decoding import Decoder, create_decoder
from torch import nn
from torch.utils.data import DataLoader

from slr_train import distributed as D
from slr_train.compiling import find_compiled
from slr_train.data import EvalSet, ListBatchSampler, shard_batches
from slr_train.engines.base import model_inputs
from slr_train.errors import EvaluationError
from slr_train.param_groups import unwrap_model
from slr_train.rng import preserved_rng



@dataclass(frozen=True)
class EvalResult:
    """``counts``: summed ``slr_metrics.Counts``; ``hypotheses``: ``(video_id, glosses)`` in dataset
    order (on rank 0; empty elsewhere)."""

    name: str
    wer: float
    counts: Any
    num_utterances: int
    hypotheses: list[tuple[str, list[str]]] = field(default_factory=list)


def sum_counts_over_ranks(counts: Any) -> Any:
    """Collective: element-wise sum over ranks (exact, int64) of counts offering ``to_list()`` and
    ``type(counts).from_list(values)``."""
    local = torch.tensor(counts.to_list(), dtype=torch.int64)
    return type(counts).from_list(D.all_reduce_sum(local).tolist())


def _slr_metrics_all_reduce(counts: Any) -> Any:
    from slr_metrics.distributed import all_reduce_counts

    return all_reduce_counts(counts)


class WERScorer:
    """Accumulator factory and cross-rank reduction for :func:`evaluate`.

    ``make_accumulator()`` returns an object with ``update(utt_id, ref, hyp)`` and ``counts``;
    counts must offer ``wer``. ``reduce_counts(counts)`` (collective) returns the counts summed
    over the ranks. Both are explicit: by default an ``slr_metrics.WERAccumulator(protocol)``
    whose ``Counts`` are summed by ``slr_metrics.distributed.all_reduce_counts``; with a custom
    ``make_accumulator`` and no ``reduce_counts``, :func:`sum_counts_over_ranks` (its counts must
    offer ``to_list()`` / ``from_list(values)``).
    """

    def __init__(self, protocol: str = "none", make_accumulator: Callable[[], Any] | None = None,
                 reduce_counts: Callable[[Any], Any] | None = None) -> None:
        self.protocol = protocol
        self._make = make_accumulator
        if reduce_counts is None:
            reduce_counts = _slr_metrics_all_reduce if make_accumulator is None else sum_counts_over_ranks
        self.reduce_counts = reduce_counts

    def make_accumulator(self) -> Any:
        if self._make is not None:
            return self._make()
        from slr_metrics import WERAccumulator

        return WERAccumulator(protocol=self.protocol)

    def all_reduce(self, counts: Any) -> Any:
        """Collective: this rank's ``counts`` summed over the ranks (``reduce_counts``)."""
        return self.reduce_counts(counts)


def check_decoder(decoder: Decoder | None) -> Decoder:
    """``decoder``, or the ``greedy`` decoder when ``None``; anything else is a ``TypeError``."""
    if decoder is None:
        return create_decoder("greedy")
    if not isinstance(decoder, Decoder):
        raise TypeError(f"decoder must be an slr_models.decoding.Decoder (build one with "
                        f"slr_models.create_decoder(name, **options)), got {type(decoder).__name__}")
    return decoder


def _forward(module: nn.Module, batch: Any, device: torch.device, autocast_dtype: torch.dtype | None,
             runner: nn.Module | None = None) -> Any:
    if hasattr(batch, "to"):
        batch = batch.to(device)
    args, kwargs = model_inputs(batch)
    param_dtype = next(module.parameters()).dtype
    if param_dtype != torch.float32:  # a DeepSpeed bf16 module: feed it its own dtype
        args = tuple(a.to(param_dtype) if torch.is_tensor(a) and a.is_floating_point() else a for a in args)
        kwargs = {k: v.to(param_dtype) if torch.is_tensor(v) and v.is_floating_point() else v
                  for k, v in kwargs.items()}
    with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
        return (runner or module)(*args, **kwargs)


def _decode_shard(module: nn.Module, loader: DataLoader, batches: list[list[int]], decoder: Decoder,
                  to_glosses: Callable[[list[int]], list[str]], accumulator: Any, device: torch.device,
                  autocast_dtype: torch.dtype | None,
                  runner: nn.Module | None) -> list[tuple[int, str, list[str]]]:
    hyps = []
    for indices, batch in zip(batches, loader):
        if len(batch.video_ids) != len(indices):
            raise EvaluationError(f"a batch of {len(indices)} videos arrived with {len(batch.video_ids)} "
                                  "(the dataset skipped some); every evaluation video must load")
        out = _forward(module, batch, device, autocast_dtype, runner)
        ids = decoder.decode(out.log_probs.float(), out.lengths)
        if len(ids) != len(indices):
            raise EvaluationError(f"decoder returned {len(ids)} hypotheses for a batch of {len(indices)}")
        for index, video_id, ref, hyp_ids in zip(indices, batch.video_ids, batch.glosses, ids):
            hyp = list(to_glosses([int(i) for i in hyp_ids]))
            accumulator.update(video_id, list(ref), hyp)
            hyps.append((index, video_id, hyp))
    return hyps


@torch.no_grad()
def evaluate(model: nn.Module, eval_set: EvalSet, to_glosses: Callable[[list[int]], list[str]], *,
             decoder: Decoder | None = None, scorer: WERScorer | None = None, batch_size: int = 8,
             device: torch.device | str | None = None, autocast_dtype: torch.dtype | None = None,
             num_workers: int = 0) -> EvalResult:
    """Collective: decodes ``eval_set`` sharded over the ranks and scores it.

    ``to_glosses`` maps label ids to glosses (``Vocabulary.decode``); references are the batch's
    ``glosses``. ``decoder``: an ``slr_models.decoding.Decoder`` (``create_decoder(name, **options)``),
    whose ``decode(log_probs (T, B, V), lengths (B,))`` gives the label ids; default ``greedy``
    (``TypeError`` for anything else, on every rank before any work). The model's train/eval mode
    and every RNG state are restored afterwards. A ``slr_train.compiling.CompiledModel`` in
    ``model`` (``train.compile``) runs the forward; the module inside it is what is put in eval mode.
    """
    decoder = check_decoder(decoder)
    module = unwrap_model(model)
    runner = find_compiled(model)
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
            accumulator = scorer.make_accumulator()
            loader = DataLoader(eval_set.dataset, batch_sampler=ListBatchSampler(batches),
                                collate_fn=eval_set.collate_fn, num_workers=num_workers)
            hyps = _decode_shard(module, loader, batches, decoder, to_glosses, accumulator, device,
                                 autocast_dtype, runner)
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
