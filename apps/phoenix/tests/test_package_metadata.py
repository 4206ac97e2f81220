from importlib.metadata import version

import slr_phoenix


def test_installed_version_matches_about():
    assert version("slr-phoenix") == slr_phoenix.__version__
