"""Intake: dropped files and folders walked (off the loop) into the queue."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from app.core.journal import JournalRow
from app.core.pipeline.journaling import PipelineJournal, absolute
from app.core.pipeline.tools import PipelineTools
from app.core.walker import WalkEntry, walk_paths_in_batches

log = logging.getLogger(__name__)

Enqueue = Callable[[Iterable[WalkEntry], Mapping[Path, JournalRow] | None], object]


async def walk_into_queue(
    paths: list[Path],
    tools: PipelineTools,
    journal: PipelineJournal,
    destination_id: Callable[[], str],
    enqueue: Enqueue,
) -> None:
    """Queue what `paths` hold, batch by batch, with what the journal knows of each file.

    A walk that breaks off says so: each path it had not finished comes into the queue as
    a failed entry with the reason, so part of a drop is never left out in silence.
    """
    reached = 0  # paths[:reached] are walked to the end
    try:
        async for batch in walk_paths_in_batches(paths, tools.io):
            wanted = [absolute(e.path) for e in batch if not e.problem]
            known = await journal.known(wanted, destination_id())
            enqueue(batch, known)
            reached = _root_of(paths, batch[-1].path, reached)
    except Exception as exc:
        log.error("walking %d dropped path(s) broke off", len(paths), exc_info=exc)
        reason = walk_incomplete(exc)
        enqueue((WalkEntry(path, reason) for path in paths[reached:]), None)


def walk_incomplete(exc: Exception) -> str:
    return (
        "Not all of it could be queued: going through it stopped on an unexpected error "
        f"({type(exc).__name__}: {exc}). Add it again to queue the rest; what is in the "
        "bucket already is not sent twice."
    )


def _root_of(paths: list[Path], entry: Path, start: int) -> int:
    """The index of the path (at `start` or later) that `entry` was found under: the
    walk goes through them in order."""
    for index in range(start, len(paths)):
        if entry == paths[index] or entry.is_relative_to(paths[index]):
            return index
    return start
