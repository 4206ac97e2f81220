"""Bringing models and checkpoints of other codebases into slr.

* :func:`import_mamba_slr`: a checkpoint of the original Mamba_SLR code (torch.amp or DeepSpeed
  layout) as a :class:`~slr_models.MambaSLRCTC` with the same function.
* :func:`read_gloss_dict`: a PHOENIX-style ``gloss_dict.npy`` as the list of glosses in id order.
* model bundles (:func:`save_bundle`, :func:`load_bundle`): one file with config, weights,
  vocabulary and preprocessing, which ``slr-phoenix evaluate`` / ``predict`` accept.

Nothing here runs code from a pickle (``torch.load(weights_only=True)`` with an explicit allowlist).
"""

from slr_models.interop.bundle import (
    BUNDLE_FORMAT,
    Preprocessing,
    check_bundle,
    is_bundle,
    load_bundle,
    model_from_bundle,
    save_bundle,
)
from slr_models.errors import CheckpointImportError
from slr_models.interop.gloss_dict import read_gloss_dict
from slr_models.interop.mamba_slr import import_mamba_slr, infer_config, load_mamba_slr_state
from slr_models.interop.safe_load import safe_torch_load

#: How the original prepares evaluation frames: PHOENIX's 256x256 frame tree, resize 256 (bicubic),
#: centre crop 224, mean 0.45 / std 0.225.
MAMBA_SLR_PREPROCESSING = Preprocessing(resize=256, crop=224, interpolation="bicubic", frame_tree="256x256px")

__all__ = [
    "BUNDLE_FORMAT",
    "CheckpointImportError",
    "MAMBA_SLR_PREPROCESSING",
    "Preprocessing",
    "check_bundle",
    "import_mamba_slr",
    "infer_config",
    "is_bundle",
    "load_bundle",
    "load_mamba_slr_state",
    "model_from_bundle",
    "read_gloss_dict",
    "safe_torch_load",
    "save_bundle",
]
