"""Between the window and the engine: owns the Engine and the local server, feeds the model.

Everything here runs on the GUI thread (qasync's loop is Qt's); blocking work is the
engine's, in its own threads. The pipeline's observer is called on this same thread,
already coalesced, so snapshots go straight into the model.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from app.core.config import Destination
from app.core.engine import Engine, SecretLookup, StoreFactory, default_store_factory
from app.core.errors import StoreError
from app.core.journal import ORIGIN_GUI, Journal, QueueLock, open_journal
from app.core.localserver import (
    LocalServerError,
    SharedLocalBucket,
    start_local_bucket,
)
from app.core.localserver.store import LocalBucketStore, local_store_factory
from app.core.models import FileSnapshot, Outage, OutageStatus
from app.core.paths import data_dir
from app.core.policy import finished_cleanly
from app.core.store import S3Store
from app.core.watch import FolderWatch, WatchEvent, WatchStatus
from app.ui.background import Background, Tasks
from app.ui.bucket.access import BucketAccess, BucketStore
from app.ui.queue_model import QueueModel
from app.ui.settings import AppSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

# Snapshots reach the model in slices of DRAIN_SLICE rows, at most DRAIN_BUDGET seconds
# per turn of the event loop (measured: ~50 us a row for new rows).
DRAIN_SLICE = 100
DRAIN_BUDGET = 0.008
LocalServerStarter = Callable[[], SharedLocalBucket]
JournalOpener = Callable[[], Journal | None]


def _default_local_server() -> SharedLocalBucket:
    return start_local_bucket(data_dir())


def _default_journal() -> Journal:
    return open_journal(ORIGIN_GUI)


class UploadController(QObject):
    """Runs uploads for the window.

    Signals:
        destination_changed(str): where photos now go, in words for the window.
        problem(str): one plain sentence to show the user (a server that will not
            start, a bucket that cannot be reached, a journal that cannot be written).
        ready(): the engine is running; queued paths are being processed.
        outage(str): what to say about a destination that cannot be reached ("" once it
            answers again).
        watching(str): what the watched folders are doing, in a sentence ("" when none
            are watched); see `watched_folders`.
        files_changed(list[FileSnapshot]): the engine's snapshots, coalesced, as they
            come (before they reach the model), for notifications.
        restored(list[int]): the queue an earlier session left is back (these file ids;
            none when there was nothing to restore); new files follow.
        removed(list[int]): files taken out of the queue.
        paths_added(): files and folders given to `add_paths` are walked and queued (a
            folder with no photos in it adds no row: the window stops saying "Adding").

    At the first start the queue an earlier session left in the journal comes back
    (unfinished files are finished; see Engine.restore_queue), unless another window
    holds it.
    """

    destination_changed = Signal(str)
    problem = Signal(str)
    ready = Signal()
    outage = Signal(str)
    watching = Signal(str)
    files_changed = Signal(object)
    restored = Signal(object)
    removed = Signal(object)
    paths_added = Signal()

    def __init__(
        self,
        model: QueueModel,
        *,
        store_factory: StoreFactory | None = None,
        local_server: LocalServerStarter = _default_local_server,
        journal: JournalOpener = _default_journal,
        secret_for: SecretLookup | None = None,
        bucket_store: Callable[[Destination], BucketStore] | None = None,
        parent: QObject | None = None,
    ) -> None:
        """`bucket_store(destination)` makes the Bucket tab's store (S3Store by default;
        tests pass tests.helpers.fakes.FakeStore, no server needed)."""
        super().__init__(parent)
        self._bucket_store = bucket_store
        self._secret_for = secret_for  # blocking (keyring): the engine calls it off the loop
        self._model = model
        self._store_factory = store_factory
        self._start_local_server = local_server
        self._open_journal = journal
        self._queue_lock: QueueLock | None = None
        self._engine: Engine | None = None
        self._server: SharedLocalBucket | None = None
        self._waiting_paths: list[Path] = []
        self._destination_text = "the bucket in Settings (connecting…)"
        self._tasks = Tasks()
        self._settings_lock = asyncio.Lock()
        self._closing = False
        self._pending: dict[int, FileSnapshot] = {}
        self._watch: FolderWatch | None = None
        self._watch_statuses: dict[Path, WatchStatus] = {}
        self._drain_scheduled = False
        # Starting servers and engines, opening the journal: off the GUI thread, on a
        # pool of its own (stopped in aclose).
        self._background = Background(name="controller")

    # -- state the window shows ------------------------------------------------------

    @property
    def destination_text(self) -> str:
        return self._destination_text

    @property
    def engine(self) -> Engine | None:
        return self._engine

    def bucket_access(self) -> BucketAccess | None:
        """A store for what the Bucket tab shows: the current destination (blocking:
        makes a boto3 client; call it off the GUI thread). None before the first start."""
        engine = self._engine
        if engine is None:
            return None
        destination = engine.destination
        local = destination.label is not None
        store: BucketStore
        if self._bucket_store is not None:
            store = self._bucket_store(destination)
        elif local and self._server is not None:
            store = LocalBucketStore(destination, concurrency=4, bucket=self._server)
        else:
            store = S3Store(destination, concurrency=4)
        return BucketAccess(destination, store, local)

    @property
    def paused(self) -> bool:
        return self._engine is not None and self._engine.paused

    @property
    def watched_folders(self) -> list[Path]:
        """The folders being watched now (none before the engine starts)."""
        return self._watch.folders if self._watch is not None else []

    def watch_summary(self) -> str:
        """One sentence on the watched folders: which are watched, which are missing
        or cannot be watched; "" when none are."""
        statuses = list(self._watch_statuses.values())
        if not statuses:
            return ""
        troubles = [s for s in statuses if s.event is not WatchEvent.WATCHING]
        if troubles:
            return " ".join(s.describe() for s in troubles)
        if len(statuses) == 1:
            return statuses[0].describe()
        return f"Watching {len(statuses)} folders."

    def has_unfinished(self) -> bool:
        if any(not snap.state.is_final for snap in self._pending.values()):
            return True
        counts = self._model.counts()
        return any(n for state, n in counts.items() if not state.is_final)

    # -- starting and settings -------------------------------------------------------

    async def start(self, settings: AppSettings, secret_key: str | None) -> None:
        """Start the engine for these settings; a failure is reported through `problem`.
        Until it runs, the window says where photos will go, and that it is connecting."""
        if self._engine is None:
            where = "the local test bucket" if settings.uses_local_bucket else settings.bucket
            self._destination_text = f"{where} (connecting…)"
            self.destination_changed.emit(self._destination_text)
        await self._use_settings(settings, secret_key)

    async def apply_settings(self, settings: AppSettings, secret_key: str | None) -> None:
        """Use new settings; during start-up this waits for the start, then applies."""
        await self._use_settings(settings, secret_key)

    async def _use_settings(self, settings: AppSettings, secret_key: str | None) -> None:
        # One at a time: each step below looks, awaits, then acts (no engine yet? no local
        # server yet?), so a Settings OK while the app starts must wait for the start,
        # or it would build a second engine and a second server beside the first.
        async with self._settings_lock:
            if self._closing:
                return
            await self._use_settings_now(settings, secret_key)

    async def _use_settings_now(self, settings: AppSettings, secret_key: str | None) -> None:
        try:
            engine_settings = settings.engine_settings()
            destination = await self._destination_for(settings, secret_key)
            store = await self._in_thread(
                self._factory_for(destination), destination, engine_settings.concurrency
            )
            restore = False
            starting = self._engine is None
            if self._engine is None:
                journal, restore = await self._in_thread(self._journal_and_lock)
                self._engine = Engine(
                    destination,
                    engine_settings,
                    store_factory=lambda *_: store,
                    journal=journal,
                    on_problem=self.problem.emit,
                    secret_for=self._secret_for,
                )
                self._engine.add_observer(self._on_snapshots)
                self._engine.add_status_observer(self._on_outage)
            else:
                self._engine.reconfigure(destination, engine_settings, store)
        except (StoreError, LocalServerError, ValueError) as exc:
            self._destination_text = "Not connected"
            self.destination_changed.emit(self._destination_text)
            self.problem.emit(str(exc))
            return
        self._destination_text = destination.display_name
        self.destination_changed.emit(self._destination_text)
        self.ready.emit()
        self._check_in_background()
        engine = self._engine
        assert engine is not None  # (made or reconfigured above)
        if starting:
            self.restored.emit(await engine.restore_queue() if restore else [])
        if self._waiting_paths and not self._closing:
            paths, self._waiting_paths = self._waiting_paths, []
            self._walk(engine, paths)
        await self._watch_folders(settings.watched_folders)

    async def _watch_folders(self, folders: Sequence[str]) -> None:
        """Watch these folders (after the queue came back: what it shows is not queued
        twice); a watch of other folders is stopped first."""
        wanted = [Path(f) for f in folders]
        engine = self._engine
        if engine is None or self._closing or wanted == self.watched_folders:
            return
        if self._watch is not None:
            watch, self._watch = self._watch, None
            await engine.stop_watching(watch)
        self._watch_statuses = {}
        if wanted:
            self._watch = engine.watch(wanted, on_status=self._on_watch_status)
        self.watching.emit(self.watch_summary())

    def _on_watch_status(self, status: WatchStatus) -> None:
        self._watch_statuses[status.folder] = status
        self.watching.emit(self.watch_summary())

    def _factory_for(self, destination: Destination) -> StoreFactory:
        """The local test bucket's store also restarts its server if that went away."""
        if self._store_factory is not None:
            return self._store_factory
        if destination.label is not None and self._server is not None:
            return local_store_factory(self._server)
        return default_store_factory

    def _journal_and_lock(self) -> tuple[Journal | None, bool]:
        """Open the journal (in a worker thread) and take the right to restore its queue."""
        journal = self._open_journal()
        if journal is None or not journal.enabled:
            return journal, False
        self._queue_lock = QueueLock(journal.path.with_name(journal.path.name + ".queue-lock"))
        return journal, self._queue_lock.acquire()

    async def _destination_for(self, settings: AppSettings, secret_key: str | None) -> Destination:
        remote = settings.destination(secret_key)
        if remote is not None:
            return remote
        if self._server is None:
            self._server = await self._in_thread(self._start_local_server)
        else:  # it may have gone with the process that owned it
            await self._in_thread(self._server.ensure_running)
        return self._server.destination(
            prefix=settings.prefix, checksum_mode=settings.checksum_mode
        )

    def _check_in_background(self) -> None:
        """Tell the user early if the bucket cannot be used (files would fail anyway)."""
        engine = self._engine
        if engine is None:
            return

        async def check() -> None:
            try:
                await engine.check_destination(warm_up=False)
            except StoreError as exc:
                self.problem.emit(str(exc))

        self._spawn(check())

    # -- actions ---------------------------------------------------------------------

    def add_paths(self, paths: Iterable[Path]) -> None:
        """Queue files and folders (folders are walked off the GUI thread, in batches)."""
        paths = list(paths)
        if not paths:
            return
        if self._engine is None:
            self._waiting_paths.extend(paths)
        else:
            self._walk(self._engine, paths)

    def _walk(self, engine: Engine, paths: list[Path]) -> None:
        walk = engine.add_paths(paths)
        walk.add_done_callback(lambda _task: self.paths_added.emit())

    def retry_failed(self) -> int:
        if self._engine is None:
            return 0
        return len(self._engine.retry_failed())

    def retry(self, file_ids: Iterable[int]) -> int:
        if self._engine is None:
            return 0
        return len(self._engine.retry(file_ids))

    def edit_items(self, file_ids: Iterable[int], changes: Mapping[str, object]) -> int:
        """Set item fields; photos in the bucket get their sidecars rewritten."""
        if self._engine is None:
            return 0
        return len(self._engine.edit_items(file_ids, changes))

    def cancel(self, file_ids: Iterable[int]) -> int:
        if self._engine is None:
            return 0
        return len(self._engine.cancel(file_ids))

    def remove(self, file_ids: Iterable[int]) -> int:
        ids = list(file_ids)
        for file_id in ids:
            self._pending.pop(file_id, None)  # a late snapshot must not bring it back
        if self._engine is not None:
            self._engine.remove(ids)
        self._model.remove_file_ids(ids)
        self.removed.emit(ids)
        return len(ids)

    def clear_finished(self) -> int:
        """Remove rows whose work is done (uploaded with a good thumbnail, duplicates,
        cancelled); failed files stay so they can be retried."""
        return self.remove(self._model.file_ids_where(finished_cleanly))

    def set_paused(self, paused: bool) -> None:
        if self._engine is None:
            return
        if paused:
            self._engine.pause()
        else:
            self._engine.resume()

    # -- shutting down ---------------------------------------------------------------

    async def aclose(self) -> None:
        """Cancel uploads, stop threads and the local server. Never hangs on a stuck upload."""
        if self._closing:
            return
        self._closing = True
        self._tasks.cancel_all()
        if self._engine is not None:
            await self._engine.aclose()
            self._engine = None
        if self._server is not None:
            await self._in_thread(self._server.stop)
            self._server = None
        if self._queue_lock is not None:
            self._queue_lock.release()
        self._background.shutdown()

    # -- internals -------------------------------------------------------------------

    def _on_outage(self, status: OutageStatus) -> None:
        self.outage.emit("" if status.state is Outage.BACK else status.describe())

    def _on_snapshots(self, snapshots: Sequence[FileSnapshot]) -> None:
        """Queue snapshots for the model; they are applied in slices (see _drain)."""
        self.files_changed.emit(snapshots)
        for snap in snapshots:
            self._pending.pop(snap.file_id, None)  # keep the latest, in arrival order
            self._pending[snap.file_id] = snap
        if not self._drain_scheduled:
            self._drain_scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)

    def _drain(self) -> None:
        """Apply pending snapshots for at most DRAIN_BUDGET seconds, then let the loop run
        (paint, input) before the next slice: 10,000 new files never freeze the window."""
        self._drain_scheduled = False
        deadline = time.perf_counter() + DRAIN_BUDGET
        while self._pending and time.perf_counter() < deadline:
            count = min(DRAIN_SLICE, len(self._pending))
            ids = list(itertools.islice(self._pending, count))
            self._model.apply_snapshots([self._pending.pop(i) for i in ids])
        if self._pending and not self._closing:
            self._drain_scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)

    def flush_pending(self) -> None:
        """Apply everything pending now (tests and shutdown)."""
        if self._pending:
            self._model.apply_snapshots(list(self._pending.values()))
            self._pending.clear()

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._background.run(fn, *args)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(coro, name="controller")
