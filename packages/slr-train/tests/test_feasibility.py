import logging

import pytest
import torch

from slr_train import CTCInfeasibleError, apply_feasibility_policy, check_ctc_feasibility, ctc_min_output_length


@pytest.mark.parametrize("label, need", [([], 0), ([1], 1), ([1, 2, 3], 3), ([1, 1], 3), ([1, 1, 1, 2, 2], 8),
                                         ([1, 2, 1], 3)])
def test_min_output_length_counts_blanks_between_repeats(label, need):
    assert ctc_min_output_length(label) == need


def _halve(lengths: torch.Tensor) -> torch.Tensor:
    return lengths // 2


def test_report_lists_infeasible_worst_first():
    report = check_ctc_feasibility(["a", "b", "c", "d"], [10, 4, 6, 3], [[1, 2], [1, 2, 3], [1, 1, 1], [1]],
                                   _halve)
    assert report.total == 4
    assert [(s.video_id, s.output_length, s.required) for s in report.infeasible] == [("c", 3, 5), ("b", 2, 3)]
    assert report.feasible_indices == [0, 3]
    text = report.format(worst=1)
    assert "2 of 4 samples" in text and "c: 6 frames -> 3 outputs, needs 5 (short by 2)" in text
    assert "b:" not in text


def test_drop_policy_logs_and_keeps_feasible(caplog):
    report = check_ctc_feasibility(["a", "b"], [10, 2], [[1], [1, 2]], _halve)
    with caplog.at_level(logging.WARNING):
        assert apply_feasibility_policy(report, "drop") == [0]
    assert "1 of 2 samples" in caplog.text and "b: 2 frames" in caplog.text


def test_error_policy_raises_with_report():
    report = check_ctc_feasibility(["a", "b"], [10, 2], [[1], [1, 2]], _halve)
    with pytest.raises(CTCInfeasibleError, match="b: 2 frames -> 1 outputs, needs 2"):
        apply_feasibility_policy(report, "error")


def test_all_infeasible_is_an_error_even_when_dropping():
    report = check_ctc_feasibility(["a"], [2], [[1, 1]], _halve)
    with pytest.raises(CTCInfeasibleError, match="no trainable samples"):
        apply_feasibility_policy(report, "drop")


def test_length_mismatch_is_reported():
    with pytest.raises(ValueError, match="differ in length"):
        check_ctc_feasibility(["a"], [1, 2], [[1]], _halve)
