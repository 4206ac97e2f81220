"""evaluate() and the Trainer use the Decoder they are given (built once by the registry), and
WERScorer's cross-rank reduction is the one it was built with."""

import dataclasses

import pytest
import torch
from slr_models.decoding import Decoder, GreedyDecoder, create_decoder, register_decoder
from slr_models.decoding import registry as decoder_registry

from slr_train import EvalSet, Trainer, TrainSet, WERScorer, evaluate, sum_counts_over_ranks


@dataclasses.dataclass(frozen=True)
class _FixedConfig:
    blank: int = 0
    label: int = 1


class _FixedLabelDecoder(Decoder):
    """Decodes every non-empty sequence as ``[label]`` and counts its calls and sequences."""

    name = "test_fixed_label"
    Config = _FixedConfig

    def __init__(self, blank: int = 0, label: int = 1) -> None:
        super().__init__(blank=blank, label=label)
        self.calls, self.sequences = 0, 0

    def decode(self, log_probs, lengths):
        assert log_probs.dim() == 3 and log_probs.shape[1] == len(lengths)  # (T, B, V), (B,)
        self.calls += 1
        self.sequences += len(lengths)
        return [[self.config.label] if int(n) else [] for n in lengths]


@pytest.fixture
def fixed_label_decoder(monkeypatch):
    """``test_fixed_label`` registered for one test only."""
    monkeypatch.setattr(decoder_registry, "_REGISTRY", dict(decoder_registry._REGISTRY))
    register_decoder(_FixedLabelDecoder)
    return "test_fixed_label"


def _train_set(kit, train, batch_size):
    return TrainSet(train, train.video_ids, train.num_frames, train.labels, kit.collate,
                    kit.sampler_factory(batch_size))


def _dev(kit, n=10):
    dataset = kit.FakeDataset(n, seed=3, augment=False, prefix="dev")
    return dataset, EvalSet("dev", dataset, kit.collate, dataset.num_frames)


def test_evaluate_uses_the_registered_decoder_it_is_given(slr_train_kit, fixed_label_decoder):
    kit = slr_train_kit
    torch.manual_seed(0)
    dataset, dev = _dev(kit)
    decoder = create_decoder(fixed_label_decoder, label=3)
    result = evaluate(kit.FakeCTCModel(), dev, kit.to_glosses, decoder=decoder, scorer=kit.fake_scorer(),
                      batch_size=4)
    assert decoder.calls == 3 and decoder.sequences == 10  # ceil(10 / 4) batches, every video once
    assert [hyp for _, hyp in result.hypotheses] == [kit.to_glosses([3])] * 10
    accumulator = kit.FakeAccumulator()
    for i in range(10):
        accumulator.update(dataset.video_ids[i], dataset[i].glosses, kit.to_glosses([3]))
    assert result.counts == accumulator.counts


def test_evaluate_without_a_decoder_is_greedy(slr_train_kit):
    kit = slr_train_kit
    torch.manual_seed(0)
    model, (_, dev) = kit.FakeCTCModel(), _dev(kit)
    default = evaluate(model, dev, kit.to_glosses, scorer=kit.fake_scorer())
    greedy = evaluate(model, dev, kit.to_glosses, decoder=create_decoder("greedy"), scorer=kit.fake_scorer())
    own = evaluate(model, dev, kit.to_glosses, decoder=kit.greedy, scorer=kit.fake_scorer())
    assert default.hypotheses == greedy.hypotheses == own.hypotheses


def test_trainer_evaluates_dev_with_the_given_decoder(slr_train_kit, slr_train_tiny_config, tmp_path,
                                                      fixed_label_decoder):
    kit = slr_train_kit
    torch.manual_seed(0)
    train = kit.FakeDataset(8, seed=0)
    _, dev = _dev(kit, 6)
    base = slr_train_tiny_config
    cfg = dataclasses.replace(base, optim=dataclasses.replace(base.optim, epochs=1),
                              ema=dataclasses.replace(base.ema, evaluate="raw"))
    decoder = create_decoder(fixed_label_decoder, label=2)
    data = _train_set(kit, train, 4)
    trainer = Trainer(kit.FakeCTCModel(), cfg, data, tmp_path, dev=dev, to_glosses=kit.to_glosses,
                      decoder=decoder, scorer=kit.fake_scorer())
    assert trainer.decoder is decoder
    result = trainer.fit()
    assert decoder.sequences == 6  # one dev evaluation (raw weights), every video once
    accumulator = kit.FakeAccumulator()
    for i in range(6):
        accumulator.update(dev.dataset.video_ids[i], dev.dataset[i].glosses, kit.to_glosses([2]))
    assert result.history[0]["dev_wer_raw"] == pytest.approx(accumulator.counts.wer)


def test_trainer_refuses_a_non_decoder_and_defaults_to_greedy(slr_train_kit, slr_train_tiny_config, tmp_path):
    kit = slr_train_kit
    train = kit.FakeDataset(4, seed=0)
    data = _train_set(kit, train, 2)
    _, dev = _dev(kit, 2)
    with pytest.raises(TypeError, match="decoder must be an slr_models.decoding.Decoder"):
        Trainer(kit.FakeCTCModel(), slr_train_tiny_config, data, tmp_path, dev=dev,
                to_glosses=kit.to_glosses, decoder=kit.greedy_ids)
    trainer = Trainer(kit.FakeCTCModel(), slr_train_tiny_config, data, tmp_path, dev=dev,
                      to_glosses=kit.to_glosses)
    assert isinstance(trainer.decoder, GreedyDecoder)


# ------------------------------------------------------------------------------------ WERScorer
def test_wer_scorer_reduces_with_the_function_it_was_given(slr_train_kit):
    kit = slr_train_kit
    seen = []

    def doubled(counts):
        seen.append(counts)
        return kit.FakeCounts.from_list([2 * v for v in counts.to_list()])

    torch.manual_seed(0)
    model, (_, dev) = kit.FakeCTCModel(), _dev(kit)
    plain = evaluate(model, dev, kit.to_glosses, decoder=kit.greedy, scorer=kit.fake_scorer())
    scorer = WERScorer(make_accumulator=kit.FakeAccumulator, reduce_counts=doubled)
    twice = evaluate(model, dev, kit.to_glosses, decoder=kit.greedy, scorer=scorer)
    assert seen == [plain.counts] and twice.counts.to_list() == [2 * v for v in plain.counts.to_list()]


def test_wer_scorer_default_reductions_are_explicit(slr_train_kit, monkeypatch):
    kit = slr_train_kit
    assert WERScorer(make_accumulator=kit.FakeAccumulator).reduce_counts is sum_counts_over_ranks
    metrics = pytest.importorskip("slr_metrics.distributed")
    calls = []
    real = metrics.all_reduce_counts
    monkeypatch.setattr(metrics, "all_reduce_counts", lambda counts: calls.append(counts) or real(counts))
    torch.manual_seed(0)
    model, (_, dev) = kit.FakeCTCModel(), _dev(kit)
    result = evaluate(model, dev, kit.to_glosses, decoder=kit.greedy, scorer=WERScorer("none"))
    assert len(calls) == 1 and result.counts == calls[0]  # the slr_metrics accumulator: its all-reduce

    # a custom accumulator's counts are summed via to_list / from_list, whatever module defines them
    class Counts(kit.FakeCounts):
        pass

    Counts.__module__ = "slr_metrics_lookalike"
    total = WERScorer(make_accumulator=kit.FakeAccumulator).all_reduce(Counts(3, 1, 1, 1, 0))
    assert len(calls) == 1 and type(total) is Counts and total.to_list() == [3, 1, 1, 1, 0]
