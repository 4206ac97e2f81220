import pytest
import torch

from slr_train import EvalSet, EvaluationError, WERScorer, evaluate


@pytest.fixture
def slr_train_eval_setup(slr_train_kit):
    torch.manual_seed(0)
    model = slr_train_kit.FakeCTCModel()
    dataset = slr_train_kit.FakeDataset(10, seed=3, augment=False, prefix="dev")
    return model, EvalSet("dev", dataset, slr_train_kit.collate, dataset.num_frames)


def _reference_counts(kit, model, eval_set):
    """Decode everything in one batch, in dataset order, and count with a fresh accumulator."""
    batch = kit.collate([eval_set.dataset[i] for i in range(len(eval_set.dataset))])
    model.eval()
    with torch.no_grad():
        out = model(batch.frames, batch.lengths, seq_idx=batch.seq_idx)
    hyps = [kit.to_glosses(ids) for ids in kit.greedy_ids(out.log_probs, out.lengths)]
    acc = kit.FakeAccumulator()
    for vid, ref, hyp in zip(batch.video_ids, batch.glosses, hyps):
        acc.update(vid, ref, hyp)
    return acc.counts, list(zip(batch.video_ids, hyps))


def test_counts_and_order_match_a_single_batch_decode(slr_train_kit, slr_train_eval_setup):
    model, eval_set = slr_train_eval_setup
    model.train()
    torch.manual_seed(5)
    before = torch.get_rng_state()
    result = evaluate(model, eval_set, slr_train_kit.to_glosses, decoder=slr_train_kit.greedy,
                      scorer=slr_train_kit.fake_scorer(), batch_size=3)
    assert model.training and torch.equal(torch.get_rng_state(), before)
    counts, hyps = _reference_counts(slr_train_kit, model, eval_set)
    assert result.counts == counts and result.wer == pytest.approx(counts.wer)
    assert result.hypotheses == hyps and result.num_utterances == 10 and result.name == "dev"


def test_default_scorer_is_slr_metrics(slr_train_kit, slr_train_eval_setup):
    metrics = pytest.importorskip("slr_metrics")
    model, eval_set = slr_train_eval_setup
    result = evaluate(model, eval_set, slr_train_kit.to_glosses, decoder=slr_train_kit.greedy, batch_size=4)
    assert isinstance(result.counts, metrics.Counts)
    expected = metrics.score({v: r for v, r in zip(eval_set.dataset.video_ids,
                                                   [eval_set.dataset[i].glosses for i in range(10)])},
                             dict(result.hypotheses))
    assert result.counts.to_list()[:5] == [expected.counts.N, expected.counts.C, expected.counts.S,
                                          expected.counts.D, expected.counts.I]
    assert result.wer == pytest.approx(expected.wer)


def test_only_decoder_objects_are_taken(slr_train_kit, slr_train_eval_setup):
    """No guessing: a function or an object that merely has ``.decode`` is refused up front."""
    model, eval_set = slr_train_eval_setup

    class Beam:
        def decode(self, log_probs, lengths):
            return slr_train_kit.greedy_ids(log_probs, lengths)

    for wrong in (Beam(), slr_train_kit.greedy_ids):
        with pytest.raises(TypeError, match=r"must be an slr_models.decoding.Decoder .*create_decoder"):
            evaluate(model, eval_set, slr_train_kit.to_glosses, decoder=wrong,
                     scorer=slr_train_kit.fake_scorer())


def test_decoder_error_raises_with_cause(slr_train_kit, slr_train_eval_setup):
    model, eval_set = slr_train_eval_setup

    def broken(log_probs, lengths):
        raise RuntimeError("beam search backend missing")

    with pytest.raises(EvaluationError, match="beam search backend missing") as info:
        evaluate(model, eval_set, slr_train_kit.to_glosses, decoder=slr_train_kit.FunctionDecoder(broken),
                 scorer=slr_train_kit.fake_scorer())
    assert isinstance(info.value.__cause__, RuntimeError)
    assert model.training


def test_missing_file_in_dataset_raises(slr_train_kit, slr_train_eval_setup):
    model, eval_set = slr_train_eval_setup

    class Missing(torch.utils.data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            raise FileNotFoundError(f"/data/dev/video{i}/frame0001.png")

    broken = EvalSet("dev", Missing(), slr_train_kit.collate)
    with pytest.raises(EvaluationError, match="FileNotFoundError: /data/dev/video0/frame0001.png"):
        evaluate(model, broken, slr_train_kit.to_glosses, decoder=slr_train_kit.greedy,
                 scorer=slr_train_kit.fake_scorer())


def test_scorer_error_raises(slr_train_kit, slr_train_eval_setup):
    model, eval_set = slr_train_eval_setup

    class BadAccumulator(slr_train_kit.FakeAccumulator):
        def update(self, utt_id, ref, hyp):
            raise ValueError(f"unknown protocol rule for {utt_id}")

    with pytest.raises(EvaluationError, match="unknown protocol rule for dev"):
        evaluate(model, eval_set, slr_train_kit.to_glosses, decoder=slr_train_kit.greedy,
                 scorer=WERScorer(make_accumulator=BadAccumulator))


def test_wrong_number_of_hypotheses_is_an_error(slr_train_kit, slr_train_eval_setup):
    model, eval_set = slr_train_eval_setup
    with pytest.raises(EvaluationError, match="returned 0 hypotheses"):
        evaluate(model, eval_set, slr_train_kit.to_glosses,
                 decoder=slr_train_kit.FunctionDecoder(lambda lp, n: []),
                 scorer=slr_train_kit.fake_scorer())


def test_empty_references_are_an_error_not_a_wer(slr_train_kit, slr_train_eval_setup):
    model, eval_set = slr_train_eval_setup

    class NoWords(slr_train_kit.FakeAccumulator):
        def update(self, utt_id, ref, hyp):
            super().update(utt_id, [], hyp)

    with pytest.raises(EvaluationError, match="N = 0"):
        evaluate(model, eval_set, slr_train_kit.to_glosses, decoder=slr_train_kit.greedy,
                 scorer=WERScorer(make_accumulator=NoWords))


def test_videos_skipped_by_the_dataset_are_an_error(slr_train_kit, slr_train_eval_setup):
    model, eval_set = slr_train_eval_setup

    class Skipping(torch.utils.data.Dataset):
        def __len__(self):
            return len(eval_set.dataset)

        def __getitem__(self, i):
            return None if i == 4 else eval_set.dataset[i]

    def collate(samples):
        return slr_train_kit.collate([s for s in samples if s is not None])

    with pytest.raises(EvaluationError, match="the dataset skipped some"):
        evaluate(model, EvalSet("dev", Skipping(), collate), slr_train_kit.to_glosses, decoder=slr_train_kit.greedy,
                 scorer=slr_train_kit.fake_scorer(), batch_size=5)
