"""The headless command line: `python -m app upload PATH...`, `python -m app history`.

Its flags, JSON lines and exit codes are an interface other tools depend on (see README).
Exit 0 when nothing failed, 1 when a file failed, 2 for usage or configuration errors,
130 when interrupted (Ctrl+C, SIGTERM or SIGHUP: what got done is still reported).
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from app import __version__
from app.cli_bucket import BUCKET_COMMANDS, add_bucket_commands, run_bucket_command
from app.cli_common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    QUIT_SIGNALS,
    UsageError,
    add_destination_options,
    destination_from_args,
)
from app.cli_watch import add_watch_command, run_watch
from app.core import wording
from app.core.bandwidth import RateError, parse_rate
from app.core.config import (
    DEFAULT_CONCURRENCY,
    Destination,
    EngineSettings,
)
from app.core.crashlog import CrashTrail
from app.core.engine import Engine, StoreFactory, default_store_factory
from app.core.errors import StoreError
from app.core.journal import ORIGIN_CLI, JournalRow, default_journal_path, open_journal
from app.core.keys import KeyTemplate, KeyTemplateError
from app.core.localserver import LocalServerError, start_local_bucket
from app.core.localserver.store import local_store_factory
from app.core.models import FileSnapshot, FileState, Outage, OutageStatus, ThumbnailState
from app.core.paths import data_dir
from app.core.policy import run_failed, went_wrong
from app.core.sidecar import Item
from app.core.thumbnails import PREVIEW_FORMATS, PreviewSpec, ThumbnailSpec


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photo-uploader",
        description="Upload photos and their thumbnails to an S3 bucket. "
        "With no command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    upload = commands.add_parser(
        "upload",
        help="upload files and folders without opening the window",
        description="Upload each photo (byte for byte) and a thumbnail beside it. With no "
        "--bucket, photos go to the local test bucket the app runs itself.",
    )
    upload.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    add_upload_options(upload)
    add_watch_command(commands, add_upload_options)
    add_bucket_commands(commands, add_destination_options)
    history = commands.add_parser(
        "history",
        help="list past results, newest first",
        description="List files uploaded (or not) by earlier runs, the window's and the "
        "command line's, newest first, from the journal in the data folder.",
    )
    history.add_argument(
        "--failed",
        action="store_true",
        help="only files where something went wrong: failed files, failed thumbnails, "
        "missing index entries or metadata files",
    )
    history.add_argument(
        "--jsonl",
        action="store_true",
        help="one JSON object per file: the upload command's keys plus timestamp",
    )
    history.add_argument(
        "--limit", type=_limit, default=100, metavar="N", help="at most N files (0: all)"
    )
    return parser


def add_upload_options(parser: argparse.ArgumentParser) -> None:
    """What `upload` (and `watch`) take besides their paths: the destination, the report,
    and how each photo is sent and described."""
    add_destination_options(parser)
    parser.add_argument("--jsonl", action="store_true", help="one JSON object per file on stdout")
    parser.add_argument(
        "--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="files in flight at once"
    )
    parser.add_argument(
        "--bwlimit",
        type=_rate,
        default=None,
        metavar="RATE",
        help="upload speed limit for the whole run, e.g. 20M (MiB/s), 512K or off",
    )
    parser.add_argument("--thumbnail-size", type=int, default=300, help="longest side in pixels")
    parser.add_argument(
        "--preview-size",
        type=int,
        metavar="PX",
        default=None,
        help="also make a display preview this big beside each thumbnail (off by default)",
    )
    parser.add_argument(
        "--preview-format",
        choices=sorted(PREVIEW_FORMATS),
        default=None,
        help="the preview's format (jpeg by default; giving it turns previews on)",
    )
    parser.add_argument(
        "--key-template",
        default=None,
        help="e.g. '{prefix}{item}/{taken:%%Y/%%m}/{stem}-{sha8}{ext}'; "
        "also {view} {folder} {sha256}",
    )
    parser.add_argument(
        "--keep-gps",
        action="store_true",
        help="put each photo's GPS position in its metadata file (left out by default)",
    )
    parser.add_argument(
        "--item",
        metavar="ID",
        default=None,
        help="the item every photo belongs to (default: the dropped folder's name)",
    )
    parser.add_argument(
        "--no-folder-item",
        action="store_false",
        dest="item_from_folder",
        help="photos get no item from their folder's name (only from --item)",
    )
    parser.add_argument(
        "--set",
        metavar="FIELD=VALUE",
        action="append",
        default=[],
        dest="item_fields",
        help="an item field for every photo: title, view, notes or primary (repeatable)",
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="read each uploaded photo back and compare (for stores that check no checksums)",
    )


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of files, 0 or more, not {text!r}")
    return value


def _rate(text: str) -> int | None:
    try:
        return parse_rate(text)
    except RateError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def settings_from_args(args: argparse.Namespace) -> EngineSettings:
    try:
        keys = KeyTemplate(original=args.key_template) if args.key_template else KeyTemplate()
        return EngineSettings(
            concurrency=args.concurrency,
            thumbnail=ThumbnailSpec(max_side=args.thumbnail_size),
            preview=preview_from_args(args.preview_size, args.preview_format),
            keys=keys,
            verify_after_upload=args.verify,
            upload_limit=args.bwlimit,
            keep_gps=args.keep_gps,
            item=item_from_args(args.item, args.item_fields),
            item_from_folder=args.item_from_folder,
        )
    except (KeyTemplateError, ValueError) as exc:
        raise UsageError(str(exc)) from None


_ITEM_FIELDS = ("title", "view", "notes", "primary")


def preview_from_args(size: int | None, fmt: str | None) -> PreviewSpec | None:
    """The preview --preview-size and --preview-format ask for; None when neither was
    given. Raises ValueError with one sentence for a size out of range."""
    if size is None and fmt is None:
        return None
    default = PreviewSpec()
    return PreviewSpec(
        max_side=default.max_side if size is None else size, format=fmt or default.format
    )


def item_from_args(item_id: str | None, assignments: list[str]) -> Item | None:
    """The item --item and --set describe; None when neither was given."""
    if item_id is None and not assignments:
        return None
    values: dict[str, str] = {}
    for assignment in assignments:
        name, equals, value = assignment.partition("=")
        name = name.strip().lower()
        if not equals or name not in _ITEM_FIELDS:
            raise UsageError(
                f"--set takes FIELD=VALUE with FIELD one of {', '.join(_ITEM_FIELDS)}, "
                f"not {assignment!r}."
            )
        values[name] = value.strip()
    primary = values.pop("primary", "no").lower()
    if primary not in ("yes", "no", "true", "false", "1", "0"):
        raise UsageError(f"--set primary= takes yes or no, not {primary!r}.")
    return Item(
        id=(item_id or "").strip() or None,
        title=values.get("title") or None,
        view=values.get("view") or None,
        notes=values.get("notes") or None,
        primary=primary in ("yes", "true", "1"),
    )


def path_text(path: Path | str) -> str:
    """A path as text that always encodes, even when the name is not valid UTF-8."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def display_path(path: Path | str) -> str:
    """A path for a terminal line: also control characters (newlines, terminal escape
    sequences in a file name) are shown as escapes, never acted on."""
    return "".join(_escape_control(ch) for ch in path_text(path))


def _escape_control(ch: str) -> str:
    if ch.isprintable() or ch == " ":
        return ch
    return ch.encode("unicode_escape").decode("ascii")


class HumanReport:
    """A line per finished file, a live status line on a terminal, and a summary."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self._out, self._err = out, err
        self._live = err.isatty()
        self._latest: dict[int, FileSnapshot] = {}
        self._reported: set[int] = set()
        self._started = time.monotonic()

    def on_change(self, snapshots: Sequence[FileSnapshot]) -> None:
        for snap in snapshots:
            self._latest[snap.file_id] = snap
            if snap.state.is_final and snap.file_id not in self._reported:
                self._reported.add(snap.file_id)
                self._clear_live()
                self._out.write(self.describe(snap) + "\n")
                self._out.flush()
        self._draw_live()

    @staticmethod
    def describe(snap: FileSnapshot) -> str:
        name = display_path(snap.path)
        if snap.state is FileState.UPLOADED:
            line = f"uploaded   {name} -> {snap.key} (thumbnail {snap.thumbnail_state.value})"
            if snap.thumbnail_state is ThumbnailState.FAILED:
                line += f"\n           thumbnail failed: {snap.thumbnail_error}"
            return line
        if snap.state is FileState.DUPLICATE:
            line = f"duplicate  {name}: already in the bucket as {snap.key}"
            if snap.thumbnail_state is ThumbnailState.FAILED:  # its thumbnail remade, failed
                line += f"\n           thumbnail failed: {snap.thumbnail_error}"
            return line
        if snap.state is FileState.CANCELLED:
            return f"cancelled  {name}"
        return f"failed     {name}: {snap.error}"

    def _draw_live(self) -> None:
        if not self._live:
            return
        snaps = self._latest.values()
        done = sum(1 for s in snaps if s.state.is_final)
        sent = sum(s.bytes_sent for s in snaps if s.state is not FileState.DUPLICATE)
        rate = sent / max(0.001, time.monotonic() - self._started) / 1e6
        active = [s for s in snaps if s.state.is_active]
        current = display_path(active[0].path.name) if active else ""
        self._err.write(f"\r\x1b[K[{done}/{len(self._latest)}] {rate:6.1f} MB/s  {current}"[:200])
        self._err.flush()

    def _clear_live(self) -> None:
        if self._live:
            self._err.write("\r\x1b[K")

    def summary(self, snapshots: Sequence[FileSnapshot], destination: Destination) -> str:
        self._clear_live()
        count = {state: 0 for state in FileState}
        thumbs = {state: 0 for state in ThumbnailState}
        for snap in snapshots:
            count[snap.state] += 1
            thumbs[snap.thumbnail_state] += 1
        elapsed = time.monotonic() - self._started
        parts = [f"{count[FileState.UPLOADED]} uploaded", f"{count[FileState.DUPLICATE]} duplicate"]
        parts.append(f"{count[FileState.FAILED]} failed")
        if count[FileState.CANCELLED]:
            parts.append(f"{count[FileState.CANCELLED]} cancelled")
        thumb_parts = ", ".join(
            f"{thumbs[s]} {s.value}"
            for s in (ThumbnailState.GENERATED, ThumbnailState.FAILED, ThumbnailState.SKIPPED)
        )
        noun = "file" if len(snapshots) == 1 else "files"
        return (
            f"{len(snapshots)} {noun} to {destination.display_name}: {', '.join(parts)} "
            f"(thumbnails: {thumb_parts}) in {elapsed:.1f} s"
        )


class OutageReport:
    """A destination that cannot be reached, on stderr: one line when an outage starts,
    one when it ends (the files' own lines say what became of each)."""

    def __init__(self, err: TextIO) -> None:
        self._err = err
        self._down = False

    def on_status(self, status: OutageStatus) -> None:
        if status.state is Outage.DOWN:
            if self._down:
                return  # said once; the watcher's next tries are not news
            self._down = True
        else:
            self._down = False
        if self._err.isatty():
            self._err.write("\r\x1b[K")  # over the live status line
        self._err.write(f"photo-uploader: {status.describe()}\n")
        self._err.flush()


class JsonLinesReport:
    """One JSON object per file on stdout, as each finishes."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._reported: set[int] = set()

    def on_change(self, snapshots: Sequence[FileSnapshot]) -> None:
        for snap in snapshots:
            if snap.state.is_final and snap.file_id not in self._reported:
                self._reported.add(snap.file_id)
                record = snap.to_json_dict()
                record["path"] = path_text(snap.path)  # JSON escapes control characters
                self._out.write(json.dumps(record, ensure_ascii=False) + "\n")
                self._out.flush()


class Interruption:
    """SIGINT, SIGTERM and SIGHUP as the command line hears them (logging out of a desktop
    sends SIGHUP or SIGTERM): the first asks for a clean stop (files still running are
    cancelled, left unfinished in the journal for the next run, and what got done is
    reported); a second ends the process at once."""

    SIGNALS = QUIT_SIGNALS

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self.signal: int | None = None
        for sig in self.SIGNALS:
            self._loop.add_signal_handler(sig, self._received, sig)

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        """Until a signal comes."""
        await self._event.wait()

    async def race(self, work: Awaitable[None]) -> bool:
        """Run `work`; True when it finished, False when a signal came first."""
        finished = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(self._event.wait())
        await asyncio.wait({finished, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if finished.done():
            finished.result()
            return True
        finished.cancel()
        return False

    def remove(self) -> None:
        for sig in self.SIGNALS:
            self._loop.remove_signal_handler(sig)

    def _received(self, sig: int) -> None:
        if self._event.is_set():
            os._exit(EXIT_INTERRUPTED)  # a second signal: now (our server dies with us)
        self.signal = sig
        self._event.set()


@dataclass(slots=True)
class OpenedEngine:
    engine: Engine
    destination: Destination
    report: HumanReport | JsonLinesReport


async def open_engine(
    args: argparse.Namespace, stack: AsyncExitStack, out: TextIO, err: TextIO
) -> OpenedEngine:
    """The engine `upload`'s flags describe (closed by `stack`), its destination checked
    (a StoreError is a usage error), with the report and outage lines attached."""
    settings = settings_from_args(args)
    destination = destination_from_args(args)
    store_factory: StoreFactory = default_store_factory
    if destination is None:
        server = await asyncio.to_thread(start_local_bucket, data_dir())
        stack.callback(server.stop)
        destination = server.destination(prefix=args.prefix, checksum_mode=args.checksums)
        store_factory = local_store_factory(server)
    journal = await asyncio.to_thread(open_journal, ORIGIN_CLI)
    engine = Engine(
        destination,
        settings,
        store_factory=store_factory,
        journal=journal,
        on_problem=lambda problem: print(f"photo-uploader: {problem}", file=err),
    )
    stack.push_async_callback(engine.aclose)
    try:
        await engine.check_destination()
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    report: HumanReport | JsonLinesReport
    report = JsonLinesReport(out) if args.jsonl else HumanReport(out, err)
    engine.add_observer(report.on_change)
    engine.add_status_observer(OutageReport(err).on_status)
    return OpenedEngine(engine, destination, report)


async def run_upload(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    interruption = Interruption()
    try:
        async with AsyncExitStack() as stack:
            opened = await open_engine(args, stack, out, err)
            engine = opened.engine
            finished = False
            if not interruption.requested:
                engine.add_paths(args.paths)
                finished = await interruption.race(engine.wait_idle())
            if not finished:
                await engine.aclose()  # cancels what runs; what got done is reported below
            return end_of_run(opened, out, err, cut_off=lambda _snapshots: not finished)
    finally:
        interruption.remove()
    raise AssertionError("unreachable")  # pragma: no cover


def end_of_run(
    opened: OpenedEngine,
    out: TextIO,
    err: TextIO,
    *,
    cut_off: Callable[[Sequence[FileSnapshot]], bool],
) -> int:
    """What a run of `upload` or `watch` says at its end, and its exit status: the
    summary (without --jsonl), then 130 and a sentence when `cut_off` says files were
    left unfinished, else 1 when a file failed, else 0."""
    snapshots = opened.engine.snapshots()
    if isinstance(opened.report, HumanReport):
        out.write(opened.report.summary(snapshots, opened.destination) + "\n")
    if cut_off(snapshots):
        err.write(f"photo-uploader: {interrupted_sentence(snapshots)}\n")
        return EXIT_INTERRUPTED
    return EXIT_FAILED if any(run_failed(s) for s in snapshots) else EXIT_OK


def interrupted_sentence(snapshots: Sequence[FileSnapshot]) -> str:
    left = sum(1 for s in snapshots if not is_finished_here(s))
    if not left:
        return "interrupted."
    noun = "file was" if left == 1 else "files were"
    return (
        f"interrupted: {left} {noun} not finished; the same command picks them up where "
        "they stopped."
    )


def is_finished_here(snap: FileSnapshot) -> bool:
    """Uploaded, duplicate or failed in this run (not cancelled by the interruption)."""
    return snap.state.is_final and snap.state is not FileState.CANCELLED


def run_history(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`history`: past results from the journal, newest first. Exit 0, or 2 when the
    journal cannot be read (one sentence on stderr)."""
    try:
        path = default_journal_path()
    except OSError as exc:  # the data folder cannot be made
        raise UsageError(f"The data folder cannot be used ({exc.strerror or exc}).") from None
    if not path.exists():
        return EXIT_OK  # nothing uploaded from this computer yet
    journal = open_journal(ORIGIN_CLI, path, for_reading=True)
    try:
        where = went_wrong if args.failed else None
        rows = journal.history(limit=args.limit or None, where=where).result()
    finally:
        journal.close().result()
    if journal.problem:
        raise UsageError(journal.problem)
    for row in rows:
        if args.jsonl:
            out.write(json.dumps(row.to_json_dict(), ensure_ascii=False) + "\n")
        else:
            out.write(describe_history(row) + "\n")
    return EXIT_OK


def describe_history(row: JournalRow) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(row.updated_at))
    return f"{when}  {HumanReport.describe(row.to_snapshot())}"


COMMANDS = ("upload", "watch", "history", *BUCKET_COMMANDS)


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out = sys.stdout if out is None else out  # resolved now: tests capture sys.stdout
    err = sys.stderr if err is None else err
    before = wording.use(wording.Surface.CLI)  # "--bucket", not "Settings"
    try:
        return _main(argv, out, err)
    finally:
        wording.use(before)


def _main(argv: Sequence[str] | None, out: TextIO, err: TextIO) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in COMMANDS:
        parser.print_help(out)
        return EXIT_USAGE
    try:
        if args.command == "history":
            return run_history(args, out, err)
        if args.command in BUCKET_COMMANDS:
            return run_bucket_command(args, out, err)
        trail = CrashTrail(data_dir()).install()
        try:
            if trail.last_crash is not None:
                err.write(
                    "photo-uploader: the last run stopped unexpectedly; its report is in "
                    f"{trail.last_crash}.\n"
                )
            run = run_watch if args.command == "watch" else run_upload
            return asyncio.run(run(args, out, err))
        finally:
            trail.uninstall()
    except (UsageError, LocalServerError, StoreError) as exc:
        err.write(f"photo-uploader: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:  # before the loop could hear it
        err.write("\nphoto-uploader: interrupted before anything was uploaded.\n")
        return EXIT_INTERRUPTED


def unknown_command(word: str) -> str:
    """One sentence for a first word that is neither a command nor an existing path."""
    close = difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.6)
    hint = f" Did you mean “{close[0]}”?" if close else ""
    commands = ", ".join(COMMANDS)
    return (
        f"“{word}” is not a command, nor a file or folder here.{hint} The commands are "
        f"{commands}; to open a file with that name, write it as a path (./{word})."
    )
