from importlib.metadata import version

import slr_models


def test_installed_version_matches_about():
    assert version("slr-models") == slr_models.__version__
