"""How ``slr-phoenix`` ends: one line on stderr and a documented exit status, never a traceback.

=====  ================================================================================
exit   when
=====  ================================================================================
0      success; also when stdout is a pipe whose reader stopped early (``| head -1``)
2      bad input: a malformed, missing, over-limit or refused file (config, checkpoint,
       corpus, video), a refused or unwritable output path (``--out``: a file, a folder
       under a file, a read-only file system, no space left), stdout that cannot be
       written (``> /dev/full``); ``predict``: any video that could not be read
130    interrupted (Ctrl-C); ``train`` names the last complete checkpoint to resume from
1      internal error (a bug): ``internal error: <type>: <message>``
=====  ================================================================================

``--debug`` (before or after the command) or ``SLR_DEBUG=1`` adds the traceback.
"""

from slr_models.console import (  # the workspace convention, one implementation (slr-phoenix depends on slr-models)
    DEBUG_ENV,
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    StdoutError,
    debug_requested,
    describe_error,
    emit,
    run_command,
)

__all__ = ["DEBUG_ENV", "EXIT_BAD_INPUT", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK", "StdoutError",
           "debug_requested", "describe_error", "emit", "run_command"]
