from importlib.metadata import version

import slr_train


def test_installed_version_matches_about():
    assert version("slr-train") == slr_train.__version__
