"""slr-phoenix."""

from slr_phoenix.__about__ import __version__

__all__ = ["__version__"]
