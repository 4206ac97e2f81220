"""The synthetic corpus is learnable: a small conv + CTC model trained briefly on CPU reaches a low WER.

A guard for the renderer: if glosses stopped being visually distinct (after the 32 px train
augmentation, for unseen videos), this would fail long before a full training run does.
"""

import numpy as np
import pytest
import torch
from slr_data import (
    LengthBucketBatchSampler,
    SynthConfig,
    VideoDataset,
    collate_packed,
    eval_preset,
    generate_synthetic_corpus,
    load_phoenix2014,
    train_preset,
)
from torch import nn
from torch.utils.data import DataLoader


class _FrameConvCTC(nn.Module):
    """Per-frame conv features (sum_T, 3, 32, 32) -> one temporal conv -> CTC log-probs (T, B, V)."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.frames = nn.Sequential(
            nn.Conv2d(3, 32, 3, 2, 1), nn.GroupNorm(4, 32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, 2, 1), nn.GroupNorm(8, 64), nn.ReLU(),
            nn.Conv2d(64, 128, 3, 2, 1), nn.GroupNorm(8, 128), nn.ReLU(),
            nn.Flatten(), nn.Linear(128 * 16, 128), nn.ReLU(),
        )  # fmt: skip
        self.temporal = nn.Conv1d(128, 128, 5, padding=2)
        self.head = nn.Linear(128, num_classes)

    def forward(self, frames, lengths):
        features = nn.utils.rnn.pad_sequence(torch.split(self.frames(frames), lengths.tolist()))
        features = features + torch.relu(self.temporal(features.permute(1, 2, 0))).permute(2, 0, 1)
        return self.head(features).log_softmax(-1)


def _edit_distance(ref, hyp):
    row = list(range(len(hyp) + 1))
    for r in ref:
        new = [row[0] + 1]
        for j, h in enumerate(hyp):
            new.append(min(row[j + 1] + 1, new[j] + 1, row[j] + (r != h)))
        row = new
    return row[-1]


def _wer(model, dataset):
    errors = words = 0
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=16, collate_fn=collate_packed):
            best = model(batch.frames, batch.lengths).argmax(-1).T
            offsets = torch.nn.functional.pad(batch.label_lengths.cumsum(0), (1, 0))
            for i in range(batch.batch_size):
                path = best[i, : batch.lengths[i]].tolist()
                hyp = [k for j, k in enumerate(path) if k != 0 and (j == 0 or k != path[j - 1])]
                ref = batch.labels[offsets[i] : offsets[i + 1]].tolist()
                errors += _edit_distance(ref, hyp)
                words += len(ref)
    return 100.0 * errors / words


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_small_ctc_model_learns_the_synthetic_corpus(tmp_path):
    config = SynthConfig(num_train=240, num_dev=40, num_test=1, vocab_size=16, image_size=32, seed=5)
    corpus = load_phoenix2014(generate_synthetic_corpus(tmp_path / "corpus", config).root)
    train = VideoDataset(corpus["train"], corpus.vocab, train_preset(32, "synthetic"), preload=True, seed=0)
    dev = VideoDataset(corpus["dev"], corpus.vocab, eval_preset(32), preload=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: intra-op threads only add synchronisation
    try:
        torch.manual_seed(0)
        model = _FrameConvCTC(len(corpus.vocab))
        optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
        ctc = nn.CTCLoss(zero_infinity=True)
        for epoch in range(6):  # 360 steps
            train.set_epoch(epoch)
            sampler = LengthBucketBatchSampler(train.lengths(), batch_size=4, seed=epoch)
            for batch in DataLoader(train, batch_sampler=sampler, collate_fn=collate_packed):
                loss = ctc(
                    model(batch.frames, batch.lengths), batch.labels, batch.lengths, batch.label_lengths
                )
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optimizer.step()
        model.eval()
        assert np.isfinite(loss.item())
        wer = _wer(model, dev)
        print(f"dev WER after 360 steps: {wer:.1f} %")
        assert wer < 15.0
    finally:
        torch.set_num_threads(threads)
