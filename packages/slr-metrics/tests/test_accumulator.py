"""The training-time accumulator: per-utterance updates equal file scoring; shards merge exactly."""

from __future__ import annotations

import math

import pytest
from slr_metrics import Counts, WERAccumulator, list_protocols, score_files, write_ctm, write_stm
from slr_metrics.distributed import all_reduce_counts


@pytest.mark.parametrize("protocol", [p for p in list_protocols() if p != "phoenix2014-slrt"])
def test_per_utterance_updates_equal_file_scoring(protocol, slr_metrics_cases, tmp_path):
    refs, hyps, speakers = slr_metrics_cases.phoenix_cases(11, 400)
    write_stm(tmp_path / "ref.stm", refs, speakers)
    write_ctm(tmp_path / "hyp.ctm", hyps)
    expected = score_files(tmp_path / "ref.stm", tmp_path / "hyp.ctm", protocol=protocol)

    acc = WERAccumulator(protocol=protocol, keep_utterances=True)
    for uid, ref in refs.items():
        counts = acc.update(uid, ref, hyps.get(uid, []))
        assert counts == expected.utterance(uid).counts
    assert acc.counts == expected.counts
    assert acc.wer == pytest.approx(expected.wer)
    assert acc.report().counts == expected.counts


def test_two_shards_merged_equal_one_whole_and_averaging_is_wrong(slr_metrics_cases):
    refs, hyps, _ = slr_metrics_cases.sclite_cases(3, 600)
    ids = list(refs)
    whole, left, right = WERAccumulator(), WERAccumulator(), WERAccumulator()
    for k, uid in enumerate(ids):
        whole.update(uid, refs[uid], hyps.get(uid, []))
        # an uneven split: short utterances mostly on one side
        (left if len(refs[uid]) < 5 or k % 7 == 0 else right).update(uid, refs[uid], hyps.get(uid, []))
    averaged = (left.wer + right.wer) / 2
    merged = WERAccumulator().merge(left).merge(right)
    assert merged.counts == whole.counts
    assert merged.wer == whole.wer
    assert abs(averaged - whole.wer) > 1.0  # averaging per-shard WERs gives another number

    summed = Counts.from_list([a + b for a, b in zip(left.state(), right.state(), strict=True)])
    assert summed == whole.counts


def test_state_round_trip_and_validation():
    acc = WERAccumulator()
    acc.update("u1", ["A", "B"], ["A", "C", "D"])
    state = acc.state()
    assert state == [2, 1, 1, 0, 1, 1, 1]
    other = WERAccumulator()
    other.load_state([float(v) for v in state])  # e.g. a float tensor's tolist()
    assert other.counts == acc.counts
    with pytest.raises(ValueError, match="inconsistent counts"):
        other.load_state([3, 1, 1, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="not a non-negative whole number"):
        other.load_state([2, 1, 1, 0, 1.5, 1, 1])
    with pytest.raises(ValueError, match="expected 7 values"):
        other.load_state([1, 2])


def test_duplicates_and_mismatched_settings_are_refused():
    acc = WERAccumulator()
    acc.update("u1", ["A"], ["A"])
    with pytest.raises(ValueError, match="already added"):
        acc.update("u1", ["A"], ["A"])
    twin = WERAccumulator()
    twin.update("u1", ["A"], ["B"])
    with pytest.raises(ValueError, match="both accumulators hold"):
        acc.merge(twin)
    with pytest.raises(ValueError, match="different settings"):
        acc.merge(WERAccumulator(protocol="phoenix2014"))
    with pytest.raises(ValueError, match="keep_utterances=True"):
        acc.report()
    acc.reset()
    assert acc.counts == Counts() and math.isnan(acc.wer)  # no reference words yet: undefined, not 0 %


def test_all_reduce_without_process_group_returns_counts():
    pytest.importorskip("torch")
    acc = WERAccumulator()
    acc.update("u1", ["A", "B"], ["B"])
    assert all_reduce_counts(acc) == acc.counts
    assert all_reduce_counts(acc.counts) == acc.counts
    assert all_reduce_counts(acc.state()) == acc.counts


def _worker(rank: int, world: int, init_file: str, out_dir: str, backend: str = "gloo") -> None:
    import torch
    import torch.distributed as dist

    if backend == "nccl":
        torch.cuda.set_device(rank)
    dist.init_process_group(backend, init_method=f"file://{init_file}", rank=rank, world_size=world)
    acc = WERAccumulator()
    if rank == 0:
        acc.update("a", ["A", "B", "C"], ["A", "X"])
    else:
        acc.update("b", ["D"], ["D", "E", "F"])
        acc.update("c", ["G", "H"], [])
    total = all_reduce_counts(acc)
    with open(f"{out_dir}/{rank}.txt", "w") as handle:
        handle.write(" ".join(map(str, total.to_list())))
    dist.destroy_process_group()


@pytest.mark.timeout(120)
def test_all_reduce_across_two_gloo_processes(tmp_path):
    torch = pytest.importorskip("torch")
    import torch.multiprocessing as mp

    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available in this torch build")
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    whole = WERAccumulator()
    whole.update("a", ["A", "B", "C"], ["A", "X"])
    whole.update("b", ["D"], ["D", "E", "F"])
    whole.update("c", ["G", "H"], [])
    for rank in (0, 1):
        got = [int(v) for v in (tmp_path / f"{rank}.txt").read_text().split()]
        assert got == whole.state()


@pytest.mark.cuda
@pytest.mark.timeout(180)
def test_all_reduce_with_nccl_puts_the_vector_on_the_gpu(tmp_path):
    torch = pytest.importorskip("torch")
    import torch.multiprocessing as mp

    if not torch.cuda.is_available() or not torch.distributed.is_nccl_available():
        pytest.skip("needs a CUDA GPU and NCCL")
    world = min(2, torch.cuda.device_count())
    mp.spawn(_worker, args=(world, str(tmp_path / "init"), str(tmp_path), "nccl"), nprocs=world, join=True)
    whole = WERAccumulator()
    whole.update("a", ["A", "B", "C"], ["A", "X"])
    if world == 2:
        whole.update("b", ["D"], ["D", "E", "F"])
        whole.update("c", ["G", "H"], [])
    for rank in range(world):
        got = [int(v) for v in (tmp_path / f"{rank}.txt").read_text().split()]
        assert got == whole.state()
