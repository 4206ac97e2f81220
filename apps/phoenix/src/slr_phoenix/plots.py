"""Loss, learning-rate and WER curves of a run as PNG files (from ``history.json``)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Sequence

from slr_train.atomic import atomic_write_bytes


def _figure_png(draw) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    try:
        draw(ax)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)


def _series(history: Sequence[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    points = [(entry["epoch"], entry[key]) for entry in history if entry.get(key) is not None]
    return [p[0] for p in points], [float(p[1]) for p in points]


def curve_pngs(history: Sequence[dict[str, Any]], *, dev_decoding: str = "greedy decoding",
               loss_unit: str = "video") -> dict[str, bytes]:
    """``{"loss.png": ..., "lr.png": ..., "wer.png": ...}``: mean train CTC loss per epoch (per
    ``loss_unit``), the learning rate at the end of each epoch, and dev WER (raw and EMA, decoded
    with ``dev_decoding``)."""

    def loss(ax) -> None:
        epochs, values = _series(history, "train_loss")
        ax.plot(epochs, values, marker="o", label="train CTC loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"loss per {loss_unit}")
        ax.set_title("Training loss")
        ax.legend()

    def lr(ax) -> None:
        epochs, values = _series(history, "lr")
        ax.plot(epochs, values, marker="o", label="learning rate (end of epoch)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("lr")
        ax.set_title("Learning rate")
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
        ax.legend()

    def wer(ax) -> None:
        for key, label in (("dev_wer_raw", "dev WER (raw weights)"),
                           ("dev_wer_ema", "dev WER (EMA weights)")):
            epochs, values = _series(history, key)
            if epochs:
                ax.plot(epochs, values, marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel("WER %")
        ax.set_title(f"Dev WER ({dev_decoding} during training)")
        ax.legend()

    return {name: _figure_png(draw) for name, draw in (("loss.png", loss), ("lr.png", lr), ("wer.png", wer))}


def write_plots(history: Sequence[dict[str, Any]], out_dir: Path, *, dev_decoding: str = "greedy decoding",
                loss_unit: str = "video") -> list[Path]:
    """:func:`curve_pngs` as ``loss.png``, ``lr.png`` and ``wer.png`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, png in curve_pngs(history, dev_decoding=dev_decoding, loss_unit=loss_unit).items():
        path = out_dir / name
        atomic_write_bytes(path, png)
        paths.append(path)
    return paths
