"""Entry point: `python -m app` opens the window; `python -m app upload ...` runs headless."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

CLI_COMMANDS = frozenset(
    {"upload", "watch", "history", "list", "share", "check", "delete", "-h", "--help", "--version"}
)


def main(argv: Sequence[str] | None = None) -> int:
    from app.core.thumbnails import silence_decoder_warnings

    silence_decoder_warnings()
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in CLI_COMMANDS:  # a command word wins over a file of that name
        from app.cli import main as cli_main

        return cli_main(args)
    if args and is_unknown_command(args[0]):
        from app.cli import EXIT_USAGE, unknown_command

        print(f"photo-uploader: {unknown_command(args[0])}", file=sys.stderr)
        return EXIT_USAGE
    return gui_main(args)


def run() -> None:
    """The process's entry (`python -m app`, `photo-uploader`): `main`, then, after a
    command, out at once. Its work is done and closed by then (the journal, the local
    server, every pool), so the interpreter's teardown of boto3's and Pillow's modules
    (about a tenth of a second here) buys nothing; the window exits normally."""
    args = sys.argv[1:]
    code = main(args)
    if args and (args[0] in CLI_COMMANDS or is_unknown_command(args[0])):
        leave_now(code)
    sys.exit(code)


def leave_now(code: int) -> None:
    """End the process with `code` once what it wrote has been flushed."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe (`... | head`): nothing to add
            stream.flush()
    os._exit(code)


def is_unknown_command(word: str) -> bool:
    """A bare word (no folder in it) that is neither an option nor an existing path: a
    mistyped command, not a photo. Anything written as a path opens the window, which
    says so if it does not exist."""
    if word.startswith("-") or os.sep in word or "/" in word or word.startswith(("~", ".")):
        return False
    return not os.path.lexists(word)


def gui_main(argv: Sequence[str] | None = None, script: Any = None) -> int:
    """Open the window, with any files or folders given queued for upload.

    `script` (an async callable taking the window) lets docs/ and bench/ drive the real
    window; see app.ui.main.run_gui.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if script is None:
        # A window is open already? Hand it the paths before loading the rest of the app
        # (a third of a second instead of more than a second).
        from app.ui.single_instance import hand_over_to_open_window

        if hand_over_to_open_window(args):
            return 0
    from app.core.thumbnails import silence_decoder_warnings
    from app.ui.main import run_gui

    silence_decoder_warnings()
    return run_gui(args, script)


if __name__ == "__main__":
    run()
