"""slr-models: Mamba2 models for continuous sign language recognition.

Kernels (``ssd_scan``, ``causal_conv1d``, ``add_norm``) have a pure-PyTorch reference and an
optional CUDA fast path; the model registry builds CTC models from frozen configs.
"""

from slr_models.__about__ import __version__
from slr_models.decoding import (
    BackendChoice,
    CTCBeamDecoder,
    Decoder,
    create_decoder,
    ctc_greedy_decode,
    ctc_log_likelihood,
    list_decoders,
    register_decoder,
)
from slr_models.errors import (
    CheckpointImportError,
    DecoderOptionError,
    ModelConfigError,
    SlrModelsError,
    UnknownDecoderError,
    UnknownModelError,
)
from slr_models.models import (
    CTCOutput,
    MambaSLRConfig,
    MambaSLRCTC,
    SLRMambaConfig,
    SLRMambaCTC,
    create_model,
    create_model_from_config,
    get_config,
    list_models,
    register_model,
)
from slr_models.ops import add_norm, causal_conv1d, rms_norm_gated, ssd_scan

__all__ = [
    "BackendChoice",
    "CTCBeamDecoder",
    "CTCOutput",
    "CheckpointImportError",
    "Decoder",
    "DecoderOptionError",
    "MambaSLRCTC",
    "MambaSLRConfig",
    "ModelConfigError",
    "SLRMambaCTC",
    "SLRMambaConfig",
    "SlrModelsError",
    "UnknownDecoderError",
    "UnknownModelError",
    "__version__",
    "add_norm",
    "causal_conv1d",
    "create_decoder",
    "create_model",
    "create_model_from_config",
    "ctc_greedy_decode",
    "ctc_log_likelihood",
    "get_config",
    "list_decoders",
    "list_models",
    "register_decoder",
    "register_model",
    "rms_norm_gated",
    "ssd_scan",
]
