"""Entry point: `python -m app` opens the window; `python -m app upload ...` runs headless."""

from __future__ import annotations

import sys
from collections.abc import Sequence

CLI_COMMANDS = frozenset({"upload", "history", "-h", "--help", "--version"})


def main(argv: Sequence[str] | None = None) -> int:
    from app.core.thumbnails import silence_decoder_warnings

    silence_decoder_warnings()
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in CLI_COMMANDS:
        from app.cli import main as cli_main

        return cli_main(args)
    return gui_main(args)


def gui_main(argv: Sequence[str] | None = None) -> int:
    """Open the window, with any files or folders given queued for upload."""
    from app.ui.main import run_gui

    return run_gui(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
