"""CTC models and their registry."""

from slr_models.models.config import SLRMambaConfig
from slr_models.models.ctc import CTCOutput, SLRMambaCTC
from slr_models.models.mamba_slr import MambaSLRConfig, MambaSLRCTC
from slr_models.models.registry import (
    build_model,
    config_from_dict,
    create_model,
    create_model_from_config,
    get_config,
    list_models,
    register_model,
)

__all__ = [
    "CTCOutput",
    "MambaSLRCTC",
    "MambaSLRConfig",
    "build_model",
    "config_from_dict",
    "SLRMambaCTC",
    "SLRMambaConfig",
    "create_model",
    "create_model_from_config",
    "get_config",
    "list_models",
    "register_model",
]
