"""Deterministic CPU training of the fake model, killable and resumable (kill-and-resume test).

usage: python slr_train_resume_script.py RUN_DIR OUT_FILE SLEEP_PER_STEP_S
Prints ``STEP n`` after every optimiser step; writes the final weights to OUT_FILE. Ctrl-C (SIGINT)
prints one ``INTERRUPTED ...`` line to stderr and exits 130.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import torch  # noqa: E402

import slr_train_testkit as kit  # noqa: E402
from slr_train import (CheckpointConfig, EMAConfig, EvalSet, LoaderConfig, LoggingConfig, OptimConfig,  # noqa: E402
                       PrecisionConfig, TrainConfig, Trainer, TrainSet, configure_determinism, seed_everything)


def main(run_dir: str, out_file: str, sleep_s: float) -> None:
    configure_determinism(True, num_threads=1)
    seed_everything(0)
    model = kit.FakeCTCModel(depth=2, dropout=0.1)
    data = kit.FakeDataset(24, seed=0, augment=True)
    dev = kit.FakeDataset(8, seed=1, augment=False, prefix="dev")
    cfg = TrainConfig(
        optim=OptimConfig(lr=5e-3, epochs=3, warmup_steps=2, grad_accum_steps=2, drop_path_rate=0.2,
                          drop_path_schedule="linear"),
        precision=PrecisionConfig("fp32"), ema=EMAConfig(decay=0.95),
        checkpoint=CheckpointConfig(every_steps=2, keep_last=2, resume="auto"),
        logging=LoggingConfig(progress=False, tensorboard=False), loader=LoaderConfig(num_workers=1),
        seed=7, deterministic=True)
    train = TrainSet(data, data.video_ids, data.num_frames, data.labels, kit.collate, kit.sampler_factory(2, seed=3))

    def on_step(step, metrics):
        print(f"STEP {step}", flush=True)
        time.sleep(sleep_s)

    trainer = Trainer(model, cfg, train, run_dir, dev=EvalSet("dev", dev, kit.collate), to_glosses=kit.to_glosses,
                      decoder=kit.greedy, scorer=kit.fake_scorer(), on_step=on_step)
    try:
        result = trainer.fit()
    except KeyboardInterrupt as e:  # Ctrl-C / SIGINT: one line, exit 130 (as the apps do)
        print(f"INTERRUPTED {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        raise SystemExit(130) from None
    history = [{k: v for k, v in h.items() if k != "seconds"} for h in result.history]
    torch.save({"weights": {k: v for k, v in model.state_dict().items() if k != "calls"},
                "ema": trainer.ema.params, "history": history, "best": vars(result.best)}, out_file)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
