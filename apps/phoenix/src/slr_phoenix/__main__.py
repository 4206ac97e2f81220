"""``python -m slr_phoenix`` (what ``--nproc-per-node`` re-launches under torchrun)."""

from slr_phoenix.cli import main

raise SystemExit(main())
