"""`python -m app watch FOLDER...`: upload the photos that appear in folders, until stopped.

It takes `upload`'s options. When it starts it queues what the folders hold that is not
in the bucket yet (files added while nothing watched them); then each new or changed
photo once it is complete (app.core.watch). Ctrl+C, SIGTERM and SIGHUP stop it cleanly:
files still on their way are cancelled and left for the next run. Exit 0 when nothing
failed, 1 when a file failed, 130 when files were cut off, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from app.cli_common import UsageError

if TYPE_CHECKING:
    from app.core.watch import WatchStatus


def add_watch_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_upload_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    watch = commands.add_parser(
        "watch",
        help="upload the photos that appear in folders, until stopped",
        description="Watch folders (a tethered camera's, a scanner's) and upload each new or "
        "changed photo once it is complete, with its thumbnail, as `upload` does. Photos the "
        "folders already hold that are not in the bucket yet go first. Temporary names "
        "(*.part, *.tmp) wait until renamed; files without a photo's extension are left "
        "alone. Stop it with Ctrl+C.",
    )
    watch.add_argument("folders", nargs="+", type=Path, metavar="FOLDER", help="folders to watch")
    add_upload_options(watch)


def watched_folders(paths: Sequence[Path]) -> list[Path]:
    """The folders given, each checked to be one (a usage error names the first that is
    not)."""
    for path in paths:
        if not path.is_dir():
            what = "does not exist" if not os.path.lexists(path) else "is not a folder"
            raise UsageError(f"{path} {what}: watch takes folders.")
    return [Path(os.path.abspath(p)) for p in paths]


async def run_watch(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from app.cli import Interruption, end_of_run, is_finished_here, open_engine

    folders = await asyncio.to_thread(watched_folders, args.folders)
    interruption = Interruption()
    try:
        async with AsyncExitStack() as stack:
            opened = await open_engine(args, stack, out, err)
            engine = opened.engine

            def said(status: WatchStatus) -> None:
                err.write(f"photo-uploader: {status.describe()}\n")
                err.flush()

            if not interruption.requested:
                engine.watch(folders, on_status=said)
                await interruption.wait()
            await engine.aclose()  # stops the watch, cancels what still runs
            # (A signal is how a watch ends: it was cut off only if files were left.)
            return end_of_run(
                opened, out, err, cut_off=lambda snaps: not all(map(is_finished_here, snaps))
            )
    finally:
        interruption.remove()
