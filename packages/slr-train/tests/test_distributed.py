"""2-process gloo runs: DDP training equals 1 process on the same global batches (NaN on one rank
only skips the step everywhere); distributed evaluation gives exactly the 1-process counts."""

import pytest
import torch
import torch.multiprocessing as mp

import slr_train_mp_workers as workers
from slr_train import launched_by_torchrun, torchrun_command
from slr_train.launch import launch_local


@pytest.fixture(scope="module")
def slr_train_two_rank_results(tmp_path_factory):
    kit = workers.kit
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(workers.ddp_worker, args=(2, kit.free_port(), str(out)), nprocs=2, join=True)
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = workers.train_and_evaluate(tmp_path_factory.mktemp("single") / "run")
    finally:
        torch.set_num_threads(threads)
    return ranks, single


@pytest.mark.timeout(300)
def test_ddp_training_equals_single_process(slr_train_two_rank_results):
    ranks, single = slr_train_two_rank_results
    for key in single["weights"]:
        assert torch.equal(ranks[0]["weights"][key], ranks[1]["weights"][key]), key
        torch.testing.assert_close(ranks[0]["weights"][key], single["weights"][key], rtol=1e-5, atol=1e-6)
    for key in single["ema"]:
        torch.testing.assert_close(ranks[0]["ema"][key], single["ema"][key], rtol=1e-5, atol=1e-6)
    assert ranks[0]["history"][-1]["train_loss"] == pytest.approx(single["history"][-1]["train_loss"], rel=1e-5)


@pytest.mark.timeout(300)
def test_nonfinite_on_one_rank_skips_on_every_rank(slr_train_two_rank_results):
    ranks, single = slr_train_two_rank_results
    # step 2 (batch 3 alone) of each of the 3 epochs holds the NaN sample, which only rank 1 loads;
    # step 1 accumulates batches 1-2 (DDP no_sync on the first) and is applied
    assert [r["skipped"] for r in ranks] == [3, 3] and single["skipped"] == 3
    assert [h["skipped_steps"] for h in ranks[0]["history"]] == [1, 1, 1]
    assert [h["step"] for h in ranks[0]["history"]] == [2, 4, 6]  # 3 batches -> windows of 2 and 1


@pytest.mark.timeout(300)
def test_ddp_mean_per_target_loss_equals_single_process(tmp_path):
    # uneven micro-batches (2 + 1 videos per rank): every sample of the step weighs the same
    mp.spawn(workers.ddp_loss_worker, args=(2, workers.kit.free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = workers.train_mean_per_target(tmp_path / "single")
    finally:
        torch.set_num_threads(threads)
    for key in single["weights"]:
        assert torch.equal(ranks[0]["weights"][key], ranks[1]["weights"][key]), key
        torch.testing.assert_close(ranks[0]["weights"][key], single["weights"][key], rtol=1e-5, atol=1e-6)
    assert ranks[0]["history"][-1]["train_loss"] == pytest.approx(single["history"][-1]["train_loss"], rel=1e-5)


@pytest.mark.timeout(300)
def test_two_process_evaluation_gives_exactly_the_single_process_counts(slr_train_two_rank_results):
    ranks, single = slr_train_two_rank_results
    for key in ("eval_fake", "eval_metrics"):
        if single[key] is None:
            continue
        counts, wer, hyps = single[key]
        assert ranks[0][key][0] == counts and ranks[1][key][0] == counts
        assert ranks[0][key][1] == wer and ranks[1][key][1] == wer
        assert ranks[0][key][2] == hyps and len(hyps) == 11
        assert ranks[1][key][2] == []  # hypotheses are gathered on rank 0 only


@pytest.mark.timeout(120)
def test_evaluation_failure_on_one_rank_raises_on_all(tmp_path):
    mp.spawn(workers.eval_failure_worker, args=(2, workers.kit.free_port(), str(tmp_path)), nprocs=2, join=True)
    for rank in range(2):
        message = (tmp_path / f"rank{rank}.txt").read_text()
        assert "rank 1: RuntimeError: decoder crashed on rank 1" in message


def test_torchrun_command():
    cmd = torchrun_command(2, ["-m", "slr_phoenix", "train", "--epochs", "1"], python="py")
    assert cmd == ["py", "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "--module",
                   "slr_phoenix", "train", "--epochs", "1"]
    assert torchrun_command(1, ["train.py"], python="py")[-1] == "train.py"
    with pytest.raises(ValueError):
        torchrun_command(0, ["x.py"])
    assert not launched_by_torchrun() or "LOCAL_RANK" in __import__("os").environ


@pytest.mark.timeout(120)
def test_launch_local_runs_n_ranks(tmp_path):
    script = tmp_path / "child.py"
    script.write_text("import os, pathlib, sys\n"
                      "pathlib.Path(sys.argv[1], 'rank' + os.environ['RANK']).write_text(os.environ['WORLD_SIZE'])\n")
    assert launch_local(2, [str(script), str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.glob("rank*")) == ["rank0", "rank1"]
    assert (tmp_path / "rank1").read_text() == "2"


@pytest.mark.timeout(300)
def test_a_checkpoint_write_failing_on_one_rank_fails_on_every_rank_and_leaves_nothing(tmp_path):
    mp.spawn(workers.save_failure_worker, args=(2, workers.kit.free_port(), str(tmp_path)), nprocs=2, join=True)
    shard = tmp_path / "checkpoints" / "ckpt-000000002-step.rank001.pt"
    assert (tmp_path / "rank1.txt").read_text() == f"OutputPathError: {shard}: cannot write: No space left on device"
    assert (tmp_path / "rank0.txt").read_text() == (
        f"CheckpointError: checkpoint ckpt-000000002-step: a shard was not written by rank 1: {shard}: cannot write: "
        "No space left on device")
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "ckpt-000000001-step.json", "ckpt-000000001-step.pt", "ckpt-000000001-step.rank000.pt",
        "ckpt-000000001-step.rank001.pt"]
    assert [(tmp_path / f"rank{r}.resume.txt").read_text() for r in range(2)] == ["1 0", "1 1"]


def test_distributed_session_tears_down_even_on_error(monkeypatch):
    import torch.distributed as dist

    from slr_train import distributed_session
    from slr_train.distributed import all_gather_objects, any_rank, barrier, broadcast_object

    env_vars = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(workers.kit.free_port()), "RANK": "0",
                "LOCAL_RANK": "0", "WORLD_SIZE": "1"}
    for key, value in env_vars.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(RuntimeError, match="boom"):
        with distributed_session() as env:
            assert dist.is_initialized() and env.backend == "gloo" and env.world_size == 1
            assert any_rank(True) and not any_rank(False)
            assert all_gather_objects({"a": 1}) == [{"a": 1}] and broadcast_object(5) == 5
            barrier()
            raise RuntimeError("boom")
    assert not dist.is_initialized()


def test_single_process_needs_no_process_group(monkeypatch):
    import torch.distributed as dist

    from slr_train import init_distributed

    for key in ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    env = init_distributed(use_cuda=False)
    assert (env.rank, env.world_size, env.distributed, env.is_main) == (0, 1, False, True)
    assert not dist.is_initialized()
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="MASTER_ADDR"):
        init_distributed(use_cuda=False)


def test_session_meets_at_a_barrier_before_teardown_only_on_success(monkeypatch):
    from slr_train import distributed as D

    calls = []
    monkeypatch.setattr(D, "init_distributed", lambda *a, **k: "env")
    monkeypatch.setattr(D, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(D, "destroy_distributed", lambda: calls.append("destroy"))
    with D.distributed_session() as env:
        assert env == "env"
    assert calls == ["barrier", "destroy"]
    calls.clear()
    with pytest.raises(RuntimeError, match="rank failed"):
        with D.distributed_session():
            raise RuntimeError("rank failed")
    assert calls == ["destroy"]  # no barrier: the other ranks may never arrive
