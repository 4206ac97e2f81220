from importlib.metadata import version

import slr_data


def test_installed_version_matches_about():
    assert version("slr-data") == slr_data.__version__
