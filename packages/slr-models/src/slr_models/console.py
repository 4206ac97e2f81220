"""How ``slr-models`` ends: one line on stderr and a documented exit status, never a traceback.

0 success (also when stdout is a pipe whose reader stopped early, ``| head -1``); 2 bad input
(a malformed or missing file, an unusable output path, an OS error, stdout that cannot be
written); 130 interrupted (Ctrl-C); 1 a failed step (pip) or an internal error (a bug, with a
hint to rerun with ``--debug``). ``--debug`` or ``SLR_DEBUG=1`` adds the traceback. (slr-models
depends on no other slr package, so the workspace convention lives here; ``slr_phoenix.console``
re-exports it.)
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Mapping

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_FAILED = EXIT_INTERNAL  # a failed step (pip) or an internal error
DEBUG_ENV = "SLR_DEBUG"


class StdoutError(Exception):
    """Writing the command's output failed (a full disk, ``/dev/full``; not a closed pipe)."""


def debug_requested(flag: bool, environ: Mapping[str, str] = os.environ) -> bool:
    """``--debug`` or ``SLR_DEBUG`` set to anything but empty / ``0`` / ``false`` / ``no`` / ``off``."""
    return flag or environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def emit(text: str) -> None:
    """Print one line of output and flush, so that a stdout failure happens here, not at exit."""
    if sys.stdout is None:  # started with stdout closed (``>&-``)
        raise StdoutError("cannot write to stdout: it is closed")
    try:
        print(text, flush=True)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise StdoutError(f"cannot write to stdout: {exc.strerror or exc}") from exc


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush cannot fail again."""
    try:
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (AttributeError, OSError, ValueError):  # a test's captured stdout has no descriptor
        return
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def describe_error(exc: BaseException) -> str:
    """One line: ``path: reason`` for a plain OS error, else the message (newlines folded)."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None \
            and type(exc).__str__ is OSError.__str__:
        text = f"{exc.filename}: {exc.strerror}"
        if exc.filename2 is not None:
            text += f" ({exc.filename2})"
    elif isinstance(exc, UnicodeDecodeError):
        text = f"cannot decode text as {exc.encoding} (byte {exc.start}: {exc.reason})"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(part.strip() for part in text.strip().splitlines())


def run_command(prog: str, command: Callable[[], int], *, debug: bool,
                bad_input: tuple[type[BaseException], ...] = ()) -> int:
    """``command()``'s exit status, or the status and one stderr line for what it raised
    (:data:`bad_input`, ``OSError`` and ``UnicodeError``: 2; ``KeyboardInterrupt``: 130; else 1)."""

    def say(kind: str, text: str) -> None:
        if debug:
            traceback.print_exc()
        print(f"{prog}: {kind}{text}", file=sys.stderr, flush=True)

    try:
        code = command()
        if sys.stdout is not None:
            sys.stdout.flush()
        return code
    except BrokenPipeError:  # the reader went away (| head): nothing left to say
        _discard_stdout()
        return EXIT_OK
    except StdoutError as exc:
        _discard_stdout()
        say("error: ", str(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:
        say("interrupted", f": {describe_error(exc)}" if str(exc) else "")
        return EXIT_INTERRUPTED
    except (*bad_input, OSError, UnicodeError) as exc:
        say("error: ", describe_error(exc))
        return EXIT_BAD_INPUT
    except Exception as exc:
        hint = "" if debug else f" (run with --debug or {DEBUG_ENV}=1 for the traceback)"
        say("internal error: ", f"{type(exc).__name__}: {describe_error(exc)}{hint}")
        return EXIT_INTERNAL
