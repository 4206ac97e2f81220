"""Small fakes of the slr_models / slr_data / slr_metrics contracts for slr-train's own tests.

Importable by name (conftest puts this folder on ``sys.path``) so that spawned worker processes
and subprocess scripts can use the same fakes.
"""

from __future__ import annotations

import math
import os
import random
import socket
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from slr_models.decoding import Decoder
from torch import nn

FEAT = (3, 4, 4)  # C, H, W of a fake frame


@dataclass
class FakeCTCOutput:
    log_probs: torch.Tensor  # (T', B, V)
    lengths: torch.Tensor  # (B,)


class _Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, dim)
        self.drop_path = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D)
        y = self.fc(F.gelu(self.norm(x)))
        if self.training and self.drop_path > 0:
            keep = (torch.rand(x.shape[0], 1, 1, device=x.device) >= self.drop_path).to(y.dtype)
            y = y * keep / (1 - self.drop_path)
        return x + y


class FakeCTCModel(nn.Module):
    """Implements the slr_models contract: per-frame stem, 2x temporal pooling, residual blocks, head."""

    def __init__(self, num_classes: int = 6, dim: int = 16, depth: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        self.stem = nn.Linear(math.prod(FEAT), dim)
        self.cls_token = nn.Parameter(torch.zeros(1, dim))
        self.blocks = nn.ModuleList(_Block(dim) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("calls", torch.zeros((), dtype=torch.int64))
        self.num_decay_layers = depth + 2

    def layer_decay_id(self, name: str) -> int:
        if name.startswith(("stem", "cls_token")):
            return 0
        if name.startswith("blocks."):
            return int(name.split(".")[1]) + 1
        return self.num_decay_layers - 1

    def no_weight_decay(self) -> set[str]:
        return {"cls_token"}

    def set_drop_path_rate(self, rate: float) -> None:
        n = len(self.blocks)
        for i, block in enumerate(self.blocks):
            block.drop_path = rate * i / max(1, n - 1)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return torch.div(torch.as_tensor(lengths), 2, rounding_mode="floor")

    def forward(self, frames, lengths, seq_idx=None, heatmaps=None) -> FakeCTCOutput:
        self.calls += 1
        feats = self.stem(frames.flatten(1)) + self.cls_token  # (sum_T, D)
        per_video = torch.split(feats, lengths.tolist())
        x = nn.utils.rnn.pad_sequence(per_video, batch_first=True)  # (B, T, D)
        t2 = x.shape[1] // 2
        x = x[:, : 2 * t2].reshape(x.shape[0], t2, 2, -1).mean(2)
        x = self.dropout(x)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.norm(x))
        return FakeCTCOutput(logits.float().log_softmax(-1).transpose(0, 1), self.output_lengths(lengths))


@dataclass
class FakeSample:
    video_id: str
    signer: str
    frames: torch.Tensor  # (T, C, H, W)
    label: torch.Tensor  # (L,)
    glosses: list[str]


@dataclass
class FakeBatch:
    frames: torch.Tensor
    lengths: torch.Tensor
    seq_idx: torch.Tensor
    labels: torch.Tensor
    label_lengths: torch.Tensor
    video_ids: list[str]
    signers: list[str]
    glosses: list[list[str]]

    def to(self, device) -> "FakeBatch":
        return replace(self, frames=self.frames.to(device), lengths=self.lengths.to(device),
                       seq_idx=self.seq_idx.to(device), labels=self.labels.to(device),
                       label_lengths=self.label_lengths.to(device))


def collate(samples: list[FakeSample]) -> FakeBatch:
    lengths = torch.tensor([s.frames.shape[0] for s in samples], dtype=torch.int64)
    return FakeBatch(
        frames=torch.cat([s.frames for s in samples]),
        lengths=lengths,
        seq_idx=torch.repeat_interleave(torch.arange(len(samples), dtype=torch.int32), lengths),
        labels=torch.cat([s.label for s in samples]),
        label_lengths=torch.tensor([len(s.label) for s in samples], dtype=torch.int64),
        video_ids=[s.video_id for s in samples], signers=[s.signer for s in samples],
        glosses=[list(s.glosses) for s in samples])


GLOSSES = ["<blank>", "A", "B", "C", "D", "E"]


def to_glosses(ids: list[int]) -> list[str]:
    return [GLOSSES[i] for i in ids]


class FakeDataset(torch.utils.data.Dataset):
    """Videos whose frames show their glosses (4 frames each); augmentation noise from torch's RNG."""

    def __init__(self, n: int = 24, seed: int = 0, noise: float = 0.3, augment: bool = True,
                 prefix: str = "vid", nan_items: frozenset[int] = frozenset()) -> None:
        rng = np.random.default_rng(seed)
        self.items = []
        proto_rng = np.random.default_rng(12345)  # the same glosses look the same in every split
        protos = torch.from_numpy(proto_rng.standard_normal((len(GLOSSES), math.prod(FEAT))).astype(np.float32))
        for i in range(n):
            label = rng.integers(1, len(GLOSSES), size=int(rng.integers(1, 4))).tolist()
            reps = int(rng.integers(3, 6))
            frames = torch.cat([protos[g].expand(reps, -1) for g in label]).reshape(-1, *FEAT)
            self.items.append((f"{prefix}{i:03d}", f"S{i % 3}", frames, label))
        self.noise, self.augment, self.nan_items = noise, augment, frozenset(nan_items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> FakeSample:
        video_id, signer, frames, label = self.items[i]
        if self.augment:
            frames = frames + self.noise * torch.randn_like(frames) + 0.01 * random.random()
        if i in self.nan_items:
            frames = torch.full_like(frames, float("nan"))
        return FakeSample(video_id, signer, frames, torch.tensor(label, dtype=torch.int64),
                          [GLOSSES[g] for g in label])

    @property
    def num_frames(self) -> list[int]:
        return [it[2].shape[0] for it in self.items]

    @property
    def labels(self) -> list[list[int]]:
        return [it[3] for it in self.items]

    @property
    def video_ids(self) -> list[str]:
        return [it[0] for it in self.items]


class FakeBucketSampler:
    """Length-bucketed, epoch-seeded, rank-sharded batches (every rank the same count)."""

    def __init__(self, lengths: list[int], batch_size: int, num_replicas: int = 1, rank: int = 0, seed: int = 0):
        self.lengths, self.batch_size = list(lengths), batch_size
        self.num_replicas, self.rank, self.seed, self.epoch = num_replicas, rank, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _all_batches(self) -> list[list[int]]:
        rng = random.Random(self.seed * 1000 + self.epoch)
        order = sorted(range(len(self.lengths)), key=lambda i: (self.lengths[i], rng.random()))
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        rng.shuffle(batches)
        usable = len(batches) - len(batches) % self.num_replicas
        return batches[:usable]

    def __iter__(self):
        return iter(self._all_batches()[self.rank::self.num_replicas])

    def __len__(self) -> int:
        return len(self._all_batches()) // self.num_replicas


class GlobalBatchSampler:
    """Fixed global batches; rank ``r`` of ``w`` takes ``batch[r::w]`` of each (1 rank: all of it)."""

    def __init__(self, global_batches: list[list[int]], num_replicas: int = 1, rank: int = 0) -> None:
        self.global_batches, self.num_replicas, self.rank = global_batches, num_replicas, rank

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        return iter([b[self.rank::self.num_replicas] for b in self.global_batches])

    def __len__(self) -> int:
        return len(self.global_batches)


def sampler_factory(batch_size: int, seed: int = 0):
    return lambda lengths, num_replicas, rank: FakeBucketSampler(lengths, batch_size, num_replicas, rank, seed)


@dataclass(frozen=True)
class FakeCounts:
    N: int = 0
    C: int = 0
    S: int = 0
    D: int = 0
    I: int = 0  # noqa: E741

    def to_list(self) -> list[int]:
        return [self.N, self.C, self.S, self.D, self.I]

    @classmethod
    def from_list(cls, values) -> "FakeCounts":
        return cls(*(int(v) for v in values))

    @property
    def wer(self) -> float:
        return 100.0 * (self.S + self.D + self.I) / self.N if self.N else math.inf


@dataclass
class FakeAccumulator:
    """Levenshtein counts (sum-reducible), standing in for slr_metrics.WERAccumulator."""

    counts: FakeCounts = field(default_factory=FakeCounts)

    def update(self, utt_id: str, ref: list[str], hyp: list[str]) -> None:
        # d[i][j] = (edits, S, D, I) aligning ref[:i] with hyp[:j]
        n, m = len(ref), len(hyp)
        d = [[(0, 0, 0, 0)] * (m + 1) for _ in range(n + 1)]
        for i in range(n + 1):
            for j in range(m + 1):
                if i == 0 or j == 0:
                    d[i][j] = (i + j, 0, i, j)
                    continue
                e, s, dl, ins = d[i - 1][j - 1]
                miss = int(ref[i - 1] != hyp[j - 1])
                up, left = d[i - 1][j], d[i][j - 1]
                d[i][j] = min((e + miss, s + miss, dl, ins), (up[0] + 1, up[1], up[2] + 1, up[3]),
                              (left[0] + 1, left[1], left[2], left[3] + 1))
        _, s, dl, ins = d[n][m]
        c = self.counts
        self.counts = FakeCounts(c.N + n, c.C + n - s - dl, c.S + s, c.D + dl, c.I + ins)


def fake_scorer():
    from slr_train import WERScorer

    return WERScorer(make_accumulator=FakeAccumulator)


def greedy_ids(log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    """Best-path ids of ``log_probs (T, B, V)``, written out here (independent of slr_models')."""
    best = log_probs.argmax(-1).transpose(0, 1).tolist()  # (B, T)
    out = []
    for seq, n in zip(best, lengths.tolist()):
        ids, prev = [], None
        for t in seq[:n]:
            if t != prev and t != 0:
                ids.append(t)
            prev = t
        out.append(ids)
    return out


@dataclass(frozen=True)
class FunctionDecoderConfig:
    blank: int = 0


class FunctionDecoder(Decoder):
    """A test ``Decoder`` whose ``decode`` is ``fn(log_probs, lengths)`` (not registered)."""

    name = "kit_function"
    Config = FunctionDecoderConfig

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def decode(self, log_probs, lengths):
        return self.fn(log_probs, lengths)


greedy = FunctionDecoder(greedy_ids)  # the kit's dev decoder: callable like a function, and a Decoder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_dist_env(rank: int, world_size: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size))


class _ToyMixer(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.in_proj = nn.Linear(dim, 2 * dim, bias=False)
        self.A_log = nn.Parameter(torch.zeros(2))
        self.out_proj = nn.Linear(2 * dim, dim, bias=False)


class _ToyMLP(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)


class _ToyMambaSLRLayer(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.spatial_mixer, self.spatial_norm = _ToyMixer(dim), nn.LayerNorm(dim)
        self.temporal_mixer, self.temporal_norm = _ToyMixer(dim), nn.LayerNorm(dim)
        self.mlp, self.mlp_norm = _ToyMLP(dim), nn.LayerNorm(dim)


class _ToyPatchEmbed(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, 4, 4)


class MambaSLRNamedModel(nn.Module):
    """No forward: just the parameter names of Mamba_SLR's ``Model`` (``patch_embed.*``,
    ``cls_token``, ``layers.N.{spatial,temporal}_{mixer,norm}.*``, ``layers.N.mlp(_norm).*``,
    ``norm_f.*``, ``head.*``), with ``layer_decay_id`` written from the rule of Mamba_SLR's
    ``optim_factory.get_num_layer_for_model`` (over ``num_layers + 2`` ids): ``cls_token`` and
    ``patch_embed`` -> 0; a name containing ``spatial`` or ``mlp`` -> its layer + 1; anything
    else (temporal mixers and norms, ``norm_f``, ``head``) -> the last id."""

    def __init__(self, num_classes: int = 6, dim: int = 8, depth: int = 3) -> None:
        super().__init__()
        self.patch_embed = _ToyPatchEmbed(dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.layers = nn.ModuleList(_ToyMambaSLRLayer(dim) for _ in range(depth))
        self.norm_f = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        self.num_decay_layers = depth + 2

    def layer_decay_id(self, name: str) -> int:
        if name == "cls_token" or name.startswith("patch_embed"):
            return 0
        if "spatial" in name or "mlp" in name:
            return int(name.split(".")[1]) + 1
        return self.num_decay_layers - 1

    def no_weight_decay(self) -> set[str]:
        return {"cls_token"}


def mamba_slr_backbone_state(model: nn.Module, num_classes: int = 1000) -> dict[str, torch.Tensor]:
    """An image-pretrained backbone's state dict as Mamba_SLR's image pretraining names it: the
    model's spatial and MLP weights under ``layers.N.mixer`` / ``norm`` / ``norm2``, no temporal
    layers, a ``num_classes`` head and a tensor the video model lacks."""
    g = torch.Generator().manual_seed(99)
    out = {}
    for name, value in model.state_dict().items():
        if ".temporal_" in name:
            continue
        name = (name.replace(".spatial_mixer.", ".mixer.").replace(".spatial_norm.", ".norm.")
                .replace(".mlp_norm.", ".norm2."))
        out[name] = torch.randn(value.shape, generator=g)
    dim = model.head.in_features
    out["head.weight"], out["head.bias"] = torch.randn(num_classes, dim, generator=g), torch.zeros(num_classes)
    out["pos_embed"] = torch.randn(1, 5, dim, generator=g)
    return out


def tiny_train_config():
    """A TrainConfig for fast, deterministic CPU runs of the fake model (the ``slr_train_tiny_config`` fixture)."""
    from slr_train import (CheckpointConfig, EMAConfig, LoggingConfig, OptimConfig, PrecisionConfig,
                           TrainConfig)

    return TrainConfig(optim=OptimConfig(lr=3e-3, epochs=2, warmup_steps=2, min_lr=1e-5, grad_accum_steps=1),
                       precision=PrecisionConfig("fp32"), ema=EMAConfig(decay=0.99),
                       checkpoint=CheckpointConfig(every_steps=3, keep_last=2, resume="auto"),
                       logging=LoggingConfig(progress=False, tensorboard=False), seed=0, deterministic=True)
