"""The bucket from the command line: `list`, `share`, `check` and `delete`.

Each takes the destination flags of `upload` and defaults to the local test bucket.
Exit 0 when all is well, 1 when something named could not be done or problems remain
(each said in one line), 2 for usage and configuration errors, 130 when interrupted:
Ctrl+C, SIGTERM and SIGHUP stop the command where it is, with one sentence on stderr
saying what was done; a second signal ends it at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType, TracebackType
from typing import TextIO

from app.cli_common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    QUIT_SIGNALS,
    UsageError,
    destination_from_args,
)
from app.core.catalogue import FILE_NAME as CATALOGUE_FILE
from app.core.catalogue import Catalogue
from app.core.checkup import Problem, Repaired, find_problems, repair_all
from app.core.collection import (
    SMALL_BODY_LIMIT,
    Collection,
    Photo,
    read_collection,
)
from app.core.config import Destination
from app.core.errors import StoreError
from app.core.localserver import start_local_bucket
from app.core.localserver.store import LocalBucketStore
from app.core.paths import data_dir
from app.core.removal import VERSIONING_CAUTION, describe_removals, plan_removals, remove
from app.core.sharing import DEFAULT_EXPIRY, EXPIRY_CHOICES, make_share_link, parse_expiry
from app.core.sidecar import sidecar_key, stored_record
from app.core.sizes import human_size
from app.core.store import S3Store

BUCKET_COMMANDS = ("list", "share", "check", "delete")
#: Reading a bucket needs few connections: listing is sequential, bodies are small.
READ_CONCURRENCY = 8


def add_bucket_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_destination_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    listing = commands.add_parser(
        "list",
        help="list the photos in the bucket",
        description="One line per photo in the destination, from its index and metadata "
        "files (not from file names).",
    )
    add_destination_options(listing)
    listing.add_argument(
        "--jsonl",
        action="store_true",
        help="one JSON object per photo: key, sha256, size, content_type, thumbnail_key, "
        "metadata_key, item, taken_at, uploaded_at",
    )
    listing.add_argument("--item", metavar="ID", help="only the photos of this item")

    share = commands.add_parser(
        "share",
        help="print a link that opens a photo's original",
        description="Sign a link to the original at KEY (a presigned GET). Anyone with the "
        "link can open it until it expires.",
    )
    share.add_argument("key", metavar="KEY", help="the photo's key, as `list` shows it")
    add_destination_options(share)
    share.add_argument(
        "--expires",
        choices=list(EXPIRY_CHOICES),
        default=DEFAULT_EXPIRY,
        help=f"how long the link works (default {DEFAULT_EXPIRY})",
    )

    check = commands.add_parser(
        "check",
        help="find photos that are not whole (and repair them)",
        description="Find missing thumbnails, previews and metadata files, index entries "
        "pointing nowhere, leftovers of deleted photos and photos another tool uploaded.",
    )
    add_destination_options(check)
    check.add_argument("--repair", action="store_true", help="make what is missing")
    check.add_argument(
        "--deep", action="store_true", help="also re-read every original and compare SHA-256"
    )
    check.add_argument(
        "--yes", action="store_true", help="with --repair: remove leftovers without asking"
    )
    check.add_argument("--jsonl", action="store_true", help="one JSON object per problem")

    delete = commands.add_parser(
        "delete",
        help="delete photos with everything that belongs to them",
        description="Delete each photo's original, thumbnail, preview, metadata file and "
        "index entry together.",
    )
    delete.add_argument("keys", nargs="+", metavar="KEY", help="the photos' keys")
    add_destination_options(delete)
    delete.add_argument("--yes", action="store_true", help="delete without asking")


def run_bucket_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    runners = {"list": _run_list, "share": _run_share, "check": _run_check, "delete": _run_delete}
    doing = Doing(lambda: f"interrupted before {args.command} began; nothing was changed.")
    with Signals() as signals:
        try:
            with opened_destination(args) as opened:
                opened.doing, opened.cancelled = doing, signals.stopping.is_set
                return runners[args.command](args, opened, out, err)
        except Interrupted:
            with contextlib.suppress(Exception):  # (a closed pipe: nothing more to say)
                out.flush()
            err.write(f"photo-uploader: {doing.describe()}\n")
            return EXIT_INTERRUPTED


# -- signals ----------------------------------------------------------------------------


class Interrupted(BaseException):
    """A signal asked a bucket command to stop (raised where the command was)."""


@dataclass(slots=True)
class Doing:
    """What an interrupted command has done, said in one sentence when asked (commands
    set `describe` as they go from step to step)."""

    describe: Callable[[], str]


class Signals:
    """SIGINT, SIGTERM and SIGHUP while a bucket command runs. The commands block in the
    main thread (where Python runs signal handlers), so the first signal raises
    Interrupted there and sets `stopping`, which the reading threads look at to leave
    early; a second ends the process at once (the local server dies with it)."""

    SIGNALS = QUIT_SIGNALS

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._before: dict[int, object] = {}

    def __enter__(self) -> Signals:
        for sig in self.SIGNALS:
            self._before[sig] = signal.signal(sig, self._received)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for sig, handler in self._before.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def _received(self, sig: int, _frame: FrameType | None) -> None:
        if self.stopping.is_set():
            os._exit(EXIT_INTERRUPTED)  # a second signal: now
        else:
            self.stopping.set()
            raise Interrupted(sig)


# -- reaching the bucket --------------------------------------------------------------


@dataclass(slots=True)
class Opened:
    destination: Destination
    store: S3Store
    local: bool
    catalogue: Catalogue
    doing: Doing = field(default_factory=lambda: Doing(lambda: "interrupted."))
    cancelled: Callable[[], bool] = lambda: False

    def read(self) -> Collection:
        return read_collection(
            self.store,
            self.destination.prefix,
            catalogue=self.catalogue,
            endpoint_url=self.destination.endpoint_url,
            cancelled=self.cancelled,
        )


@contextmanager
def opened_destination(args: argparse.Namespace) -> Iterator[Opened]:
    """The destination the flags name (the local test bucket without --bucket), checked
    reachable; a StoreError on the way is a usage error (one sentence, exit 2)."""
    destination = destination_from_args(args)
    folder = data_dir()
    server = None
    store: S3Store
    try:
        if destination is None:
            server = start_local_bucket(folder)
            destination = server.destination(prefix=args.prefix, checksum_mode=args.checksums)
            store = LocalBucketStore(destination, concurrency=READ_CONCURRENCY, bucket=server)
        else:
            store = S3Store(destination, concurrency=READ_CONCURRENCY)
        catalogue = Catalogue(folder / CATALOGUE_FILE)
        try:
            store.check_bucket()
            yield Opened(destination, store, server is not None, catalogue)
        finally:
            catalogue.close()
            store.close()
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    finally:
        if server is not None:
            server.stop()


def _confirm(question: str, *, given: bool, err: TextIO) -> bool | None:
    """True when --yes was given or the collector typed yes; None when no one can be
    asked (not a terminal)."""
    if given:
        return True
    if not sys.stdin.isatty():
        return None
    err.write(f"{question} [y/N] ")
    err.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


# -- the commands ------------------------------------------------------------------------


def _run_list(args: argparse.Namespace, opened: Opened, out: TextIO, err: TextIO) -> int:
    opened.doing.describe = lambda: "interrupted while reading the bucket; nothing was listed."
    photos = opened.read().photos
    if args.item is not None:
        photos = [p for p in photos if p.item is not None and p.item.id == args.item]
    printed = 0
    opened.doing.describe = lambda: (
        f"interrupted after listing {printed:,} of {len(photos):,} photos."
    )
    for photo in photos:
        printed += 1
        if args.jsonl:
            out.write(json.dumps(photo.to_json_dict(), ensure_ascii=False) + "\n")
        else:
            out.write(_photo_line(photo) + "\n")
    if not args.jsonl:
        noun = "photo" if len(photos) == 1 else "photos"
        out.write(f"{len(photos)} {noun} in {opened.destination.display_name}.\n")
    return EXIT_OK


def _photo_line(photo: Photo) -> str:
    item = photo.item.id if photo.item is not None and photo.item.id else "-"
    taken = (photo.taken_at or "-")[:10]
    return f"{photo.key}  {human_size(photo.size)}  item {item}  taken {taken}"


def _run_share(args: argparse.Namespace, opened: Opened, out: TextIO, err: TextIO) -> int:
    seconds = parse_expiry(args.expires)
    opened.doing.describe = lambda: "interrupted before the link was made."
    try:
        sidecar = stored_record(opened.store.get_bytes(sidecar_key(args.key), SMALL_BODY_LIMIT))
        link = make_share_link(
            opened.store,
            args.key,
            seconds,
            local_bucket=opened.local,
            sidecar_has_gps=bool(sidecar and sidecar.get("gps")),
        )
    except StoreError as exc:
        err.write(f"photo-uploader: {exc}\n")
        return EXIT_FAILED
    out.write(link.url + "\n")
    for caution in link.cautions:
        err.write(f"photo-uploader: {caution}\n")
    return EXIT_OK


def _run_check(args: argparse.Namespace, opened: Opened, out: TextIO, err: TextIO) -> int:
    opened.doing.describe = lambda: "interrupted while checking; nothing was changed."
    collection = opened.read()
    problems = find_problems(
        collection, store=opened.store, deep=args.deep, cancelled=opened.cancelled
    )
    changed = [p for p in problems if p.kind == "content_changed"]  # repair cannot mend
    if args.repair and problems:
        may_remove = True
        if any(p.removes for p in problems):
            count = sum(len(p.removes) for p in problems)
            answer = _confirm(f"Remove {count} leftover objects?", given=args.yes, err=err)
            if answer is None:
                err.write(
                    "photo-uploader: leftovers are not removed without asking: add --yes "
                    "to remove them.\n"
                )
            may_remove = bool(answer)
        repaired: list[Repaired] = []

        def said(done: Repaired) -> None:
            repaired.append(done)
            if not args.jsonl:
                verdict = "repaired" if done.fixed else "not repaired"
                out.write(f"{verdict}: {done.problem.message} ({done.detail})\n")

        opened.doing.describe = lambda: (
            f"interrupted while repairing: {sum(r.fixed for r in repaired):,} of "
            f"{len(problems):,} problems repaired; `check` shows what is left."
        )
        repair_all(opened.store, collection, problems, may_remove=may_remove, on_repaired=said)
        opened.doing.describe = lambda: (
            f"interrupted after repairing {sum(r.fixed for r in repaired):,} of "
            f"{len(problems):,} problems, while checking again."
        )
        collection = opened.read()  # what is left, as the bucket says now
        problems = find_problems(collection, store=opened.store) + changed
    _report_problems(problems, collection, opened.destination, args.jsonl, out)
    return EXIT_FAILED if problems else EXIT_OK


def _report_problems(
    problems: Sequence[Problem],
    collection: Collection,
    destination: Destination,
    jsonl: bool,
    out: TextIO,
) -> None:
    if jsonl:
        for problem in problems:
            out.write(json.dumps(problem.to_json_dict(), ensure_ascii=False) + "\n")
        return
    for problem in problems:
        out.write(_problem_line(problem) + "\n")
    count = len(collection.photos)
    photos = "1 photo" if count == 1 else f"{count} photos"
    where = destination.display_name
    if not problems:
        out.write(f"All is well: {photos} in {where}, each whole.\n")
        return
    mendable = sum(1 for p in problems if p.fix)
    noun = "problem" if len(problems) == 1 else "problems"
    hint = " `check --repair` can mend them." if mendable else ""
    out.write(f"{len(problems)} {noun} in {where} ({photos} photos).{hint}\n")


def _problem_line(problem: Problem) -> str:
    fix = f" Repair: {problem.fix}." if problem.fix else ""
    return f"{problem.kind.replace('_', ' ')}: {problem.message}{fix}"


def _run_delete(args: argparse.Namespace, opened: Opened, out: TextIO, err: TextIO) -> int:
    opened.doing.describe = lambda: "interrupted before deleting anything; nothing was changed."
    removals, unknown = plan_removals(opened.read(), args.keys)
    for key in unknown:
        err.write(f"photo-uploader: {key} is not a photo in {opened.destination.display_name}.\n")
    if not removals:
        return EXIT_FAILED
    question = describe_removals(removals)
    answer = _confirm(question, given=args.yes, err=err)
    if answer is None:
        raise UsageError(f"{question} Add --yes to delete without being asked.")
    if not answer:
        err.write("photo-uploader: nothing deleted.\n")
        return EXIT_FAILED
    failed = False
    deleted = 0
    opened.doing.describe = lambda: (
        f"interrupted: {deleted:,} of {len(removals):,} photos deleted. One cut off while "
        "it was deleted may have left pieces: `check` finds them, `check --repair` removes them."
        if deleted < len(removals)
        else f"interrupted after deleting all {deleted:,} photos."
    )
    for removal in removals:
        try:
            remove(opened.store, removal)
            deleted += 1
        except StoreError as exc:
            failed = True
            err.write(f"photo-uploader: {removal.key} could not be deleted wholly: {exc}\n")
        else:
            out.write(f"deleted {removal.key} ({len(removal.parts)} objects)\n")
    if opened.store.versioning_on():
        err.write(f"photo-uploader: {VERSIONING_CAUTION}\n")
    return EXIT_FAILED if failed or unknown else EXIT_OK
