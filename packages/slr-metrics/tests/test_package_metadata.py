from importlib.metadata import version

import slr_metrics


def test_installed_version_matches_about():
    assert version("slr-metrics") == slr_metrics.__version__
