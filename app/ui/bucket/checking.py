"""Check in the Bucket tab: the bucket read whole and checked on a worker (a deep check
re-reads every original, streamed), with a progress bar and Cancel; at the end a
summary, and, when the collector says yes, repair (app.core.checkup.repair_all) with
its own progress.

Progress crosses threads as plain data: the worker writes the latest Progress into a
box, a timer on the GUI thread shows it a few times a second.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from app.core.catalogue import Catalogue
from app.core.checkup import Problem, Repaired, find_problems, repair_all
from app.core.collection import Cancelled, Collection, Progress, read_collection
from app.ui.background import Background, Outcome
from app.ui.bucket.access import BucketAccess

PROGRESS_INTERVAL_MS = 150
LISTED_AT_MOST = 20  # problems named in the question and the summary

_STEPS = {
    "listing": "listing the bucket",
    "reading": "reading index entries and metadata files",
    "re-reading originals": "re-reading originals",
    "repairing": "repairing",
}


class _Box:
    """The latest progress, written by a worker, read by the GUI's timer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._progress: Progress | None = None

    def put(self, progress: Progress) -> None:
        with self._lock:
            self._progress = progress

    def take(self) -> Progress | None:
        with self._lock:
            return self._progress


@dataclass(frozen=True, slots=True)
class Checked:
    collection: Collection
    problems: list[Problem]


class CheckBar(QWidget):
    """What runs, how far it is, and Cancel (hidden when nothing runs)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setMaximumWidth(260)
        self.progress.setAccessibleName("Check progress")
        self.cancel_button = QPushButton("Cancel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.cancel_button)
        self.hide()

    def show_progress(self, what: str, progress: Progress | None) -> None:
        step = _STEPS.get(progress.step, progress.step) if progress else "starting"
        if progress is None or not progress.total:
            self.progress.setRange(0, 0)  # (busy: its end is not known yet)
            counted = f" ({progress.done:,} so far)" if progress and progress.done else ""
            self.label.setText(f"{what}: {step}{counted}…")
        else:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
            self.label.setText(f"{what}: {step}, {progress.done:,} of {progress.total:,}…")


class BucketCheck(QObject):
    """One check (and repair) at a time.

    Signals:
        said(str): a line for the status bar (the summary).
        details(str): the problems, or what repair could not do (for the pane).
        repaired(): something was repaired (the grid reads the bucket again).
    """

    said = Signal(str)
    details = Signal(str)
    repaired = Signal()

    def __init__(
        self, bar: CheckBar, confirm: Callable[[str, str], bool], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._bar = bar
        self._confirm = confirm
        self._background = Background(workers=1, name="bucket-check")
        self._box = _Box()
        self._cancel = threading.Event()
        self._what = ""
        self.running = False
        self.last_problems: list[Problem] = []
        self._timer = QTimer(self)
        self._timer.setInterval(PROGRESS_INTERVAL_MS)
        self._timer.timeout.connect(self._show_progress)
        bar.cancel_button.clicked.connect(self.cancel)

    def start(self, access: BucketAccess, catalogue: Catalogue | None, *, deep: bool) -> None:
        if self.running:
            return
        destination, store, box, cancel = access.destination, access.store, self._box, self._cancel
        self._begin("Deep check" if deep else "Checking")

        def check() -> Checked:
            collection = read_collection(
                store,
                destination.prefix,
                catalogue=catalogue,
                endpoint_url=destination.endpoint_url,
                cancelled=cancel.is_set,
                on_progress=box.put,
            )
            problems = find_problems(
                collection, store=store, deep=deep, on_progress=box.put, cancelled=cancel.is_set
            )
            return Checked(collection, problems)

        self._background.submit(check, then=lambda outcome: self._checked(access, outcome))

    def cancel(self) -> None:
        self._cancel.set()
        self._bar.label.setText(f"{self._what}: cancelling…")
        self._bar.cancel_button.setEnabled(False)

    def shutdown(self) -> None:
        self._cancel.set()
        self._timer.stop()
        self._background.shutdown()

    def _begin(self, what: str) -> None:
        self.running = True
        self._what = what
        self._cancel.clear()
        self._box.put(Progress("listing", 0))
        self._bar.cancel_button.setEnabled(True)
        self._bar.show_progress(what, None)
        self._bar.show()
        self._timer.start()

    def _end(self) -> None:
        self.running = False
        self._timer.stop()
        self._bar.hide()

    def _show_progress(self) -> None:
        if not self._cancel.is_set():
            self._bar.show_progress(self._what, self._box.take())

    def _checked(self, access: BucketAccess, outcome: Outcome[Checked]) -> None:
        self._end()
        try:
            checked = outcome.get()
        except Cancelled:
            self.said.emit("Check cancelled: nothing was changed.")
            return
        except Exception as exc:
            self.said.emit(f"The bucket could not be checked: {exc}")
            return
        problems = checked.problems
        self.last_problems = problems
        count = len(checked.collection.photos)
        photos = "1 photo" if count == 1 else f"{count:,} photos"
        if not problems:
            self.said.emit(f"All is well: {photos} checked, each whole.")
            self.details.emit("")
            return
        listed = _listed(problems)
        noun = "problem" if len(problems) == 1 else "problems"
        self.said.emit(f"{len(problems):,} {noun} found in {photos}.")
        mendable = [p for p in problems if p.fix]
        if not mendable:
            self.details.emit(listed)
            return
        question = f"{len(problems):,} {noun} found:\n\n{listed}\n\nRepair them now?"
        removing = sum(len(p.removes) for p in mendable)
        if removing:
            question += f" ({removing:,} leftover objects would be removed.)"
        if not self._confirm("Check the bucket", question):
            self.details.emit(listed)
            return
        self._repair(access, checked.collection, mendable, len(problems))

    def _repair(
        self, access: BucketAccess, collection: Collection, mendable: list[Problem], found: int
    ) -> None:
        store, box, cancel = access.store, self._box, self._cancel
        self._begin("Repairing")

        def repair() -> list[Repaired]:
            return repair_all(
                store,
                collection,
                mendable,
                may_remove=True,
                on_progress=box.put,
                cancelled=cancel.is_set,
            )

        def done(outcome: Outcome[list[Repaired]]) -> None:
            self._end()
            results = outcome.value or []
            left = [f"{r.problem.message} ({r.detail})" for r in results if not r.fixed]
            if outcome.error is not None:
                left.append(str(outcome.error))
            fixed = sum(1 for r in results if r.fixed)
            said = f"Repaired {fixed:,} of {found:,}."
            if len(results) < len(mendable) and outcome.error is None:
                said += f" Cancelled before the other {len(mendable) - len(results):,}."
            self.said.emit(said)
            self.details.emit(said + "".join(f"\n• {text}" for text in left))
            if fixed:
                self.repaired.emit()

        self._background.submit(repair, then=done)


def _listed(problems: list[Problem]) -> str:
    listed = "\n".join(f"• {p.message}" for p in problems[:LISTED_AT_MOST])
    if len(problems) > LISTED_AT_MOST:
        listed += f"\n… and {len(problems) - LISTED_AT_MOST:,} more."
    return listed
