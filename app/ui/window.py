"""The main window: drop photos in, watch the queue, retry what failed.

The window only observes: the controller owns the engine, the model holds snapshots,
delegates paint badges. Nothing here blocks; file dialogs are opened with open(), never
exec(), because a nested event loop inside qasync's loop misbehaves.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QItemSelection,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QPalette,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME
from app.core.models import FileSnapshot, FileState
from app.core.policy import is_retryable
from app.ui.badges import FilterCategory
from app.ui.controller import UploadController
from app.ui.delegates import BadgeDelegate, PreviewDelegate, StatusDelegate
from app.ui.detail_pane import DetailPane
from app.ui.preview_cache import PreviewCache
from app.ui.queue_model import Column, QueueModel, QueueRole, palette_is_dark
from app.ui.queue_proxy import QueueFilterProxy
from app.ui.settings import SettingsStore
from app.ui.settings_dialog import SettingsDialog

STATUS_REFRESH_MS = 250
FILTER_SHORTCUTS = {
    FilterCategory.ALL: "Alt+1",
    FilterCategory.IN_PROGRESS: "Alt+2",
    FilterCategory.FAILED: "Alt+3",
    FilterCategory.DONE: "Alt+4",
    FilterCategory.SKIPPED: "Alt+5",
}


def local_paths(mime: QMimeData) -> list[Path]:
    """Files and folders named by a drop or the clipboard: file URLs, or plain-text paths."""
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    if paths or not mime.hasText():
        return paths
    for line in mime.text().splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("file:"):
            url = QUrl(line)
            if url.isLocalFile():
                paths.append(Path(url.toLocalFile()))
        elif line.startswith(("/", "~")) or (len(line) > 2 and line[1] == ":"):
            paths.append(Path(line).expanduser())
    return paths


class ThroughputMeter:
    """Bytes per second over the last few seconds, and a time-left estimate."""

    def __init__(self, window_seconds: float = 5.0) -> None:
        self._samples: deque[tuple[float, int]] = deque()
        self._window = window_seconds

    def sample(self, sent_bytes: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._samples.append((now, sent_bytes))
        while self._samples and now - self._samples[0][0] > self._window:
            self._samples.popleft()

    def rate(self) -> float:
        if len(self._samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return max(0.0, (b1 - b0) / (t1 - t0)) if t1 > t0 else 0.0

    def reset(self) -> None:
        self._samples.clear()


def describe_rate(rate: float, remaining_bytes: int) -> str:
    if rate <= 0:
        return ""
    text = f"{rate / 1e6:.1f} MB/s"
    if remaining_bytes > 0:
        seconds = int(remaining_bytes / rate)
        left = f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
        text += f" · about {left} left"
    return text


class ElideRightDelegate(QStyledItemDelegate):
    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideRight


class DropHint(QWidget):
    """What an empty queue shows: a big, obvious drop target."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropHint")
        title = QLabel("Drop photos or folders here")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel(
            "Each photo is uploaded byte for byte with a thumbnail beside it.\n"
            "Identical photos are never sent twice. You can also paste file paths (Ctrl+V)."
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setWordWrap(True)
        self.add_photos = QPushButton("Add photos…")
        self.add_folder = QPushButton("Add folder…")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add_photos)
        buttons.addWidget(self.add_folder)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.setStyleSheet(
            "#dropHint { border: 2px dashed palette(mid); border-radius: 12px; margin: 16px; }"
        )


class MainWindow(QMainWindow):
    """The queue, its actions, the detail pane and the status bar.

    Signals:
        closed(): the window closed for good (after any confirmation); time to quit.
    """

    closed = Signal()

    def __init__(
        self,
        controller: UploadController,
        model: QueueModel,
        previews: PreviewCache,
        settings_store: SettingsStore,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.model = model
        self.previews = previews
        self.settings_store = settings_store
        self._tasks: set[asyncio.Task[None]] = set()
        self._quit_confirmed = False
        self._meter = ThroughputMeter()
        self._settings_dialog: SettingsDialog | None = None
        self.close_requested_with_work = False  # for tests: a confirmation was asked

        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.resize(1100, 680)

        self.proxy = QueueFilterProxy(self)
        self.proxy.setSourceModel(model)
        self.proxy.setSortRole(QueueRole.SORT_KEY)

        self._build_actions()
        self._build_toolbar()
        self._build_central()
        self._build_status_bar()
        self._restore_state()

        controller.destination_changed.connect(self._show_destination)
        controller.problem.connect(self._show_problem)
        controller.outage.connect(self._show_outage)
        model.rowsInserted.connect(self._update_view_page)
        model.rowsRemoved.connect(self._update_view_page)
        model.modelReset.connect(self._update_view_page)
        model.dataChanged.connect(self._on_data_changed)
        previews.preview_ready.connect(self._on_preview_ready)
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_REFRESH_MS)
        self._status_timer.timeout.connect(self._refresh_status)
        self._status_timer.start()
        self._show_destination(controller.destination_text)
        self._update_view_page()
        self._refresh_status()

    # -- building --------------------------------------------------------------------

    def _action(
        self,
        text: str,
        slot: object,
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut else tip)
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.add_photos_action = self._action(
            "Add &photos…", self.choose_files, QKeySequence.StandardKey.Open, "Add photo files"
        )
        self.add_folder_action = self._action(
            "Add &folder…", self.choose_folder, "Ctrl+Shift+O", "Add a folder of photos"
        )
        self.retry_action = self._action(
            "&Retry failed",
            self.retry_failed,
            "Ctrl+R",
            "Retry failed files and failed thumbnails; only the failed step is redone",
        )
        self.pause_action = self._action(
            "&Pause", self.toggle_pause, "Ctrl+P", "Pause: no new files start; running ones finish"
        )
        self.pause_action.setCheckable(True)
        self.cancel_action = self._action(
            "&Cancel selected", self.cancel_selected, "Ctrl+.", "Stop the selected files"
        )
        self.remove_action = self._action(
            "Re&move selected",
            self.remove_selected,
            QKeySequence.StandardKey.Delete,
            "Remove the selected files from the queue (nothing is deleted from the bucket)",
        )
        self.clear_action = self._action(
            "C&lear finished",
            self.clear_finished,
            "Ctrl+Shift+L",
            "Remove finished files from the queue; failed files stay",
        )
        self.settings_action = self._action(
            "&Settings…", self.open_settings, "Ctrl+,", "Destination, credentials and more"
        )
        self.paste_action = self._action(
            "Paste paths",
            self.paste,
            QKeySequence.StandardKey.Paste,
            "Add files named on the clipboard",
        )
        self.copy_key_action = self._action("Copy &key", self.copy_key, None, "Copy the object key")
        self.show_in_folder_action = self._action(
            "Show in &folder", self.show_in_folder, None, "Open the file's folder"
        )
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit, "Quit")

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Actions", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (
            self.add_photos_action,
            self.add_folder_action,
            None,
            self.retry_action,
            self.pause_action,
            self.cancel_action,
            self.remove_action,
            self.clear_action,
            None,
            self.settings_action,
        ):
            if action is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(action)
        self.addToolBar(toolbar)

    def _build_central(self) -> None:
        self.destination_label = QLabel()
        self.destination_label.setObjectName("destination")
        self.destination_label.setTextFormat(Qt.TextFormat.RichText)
        self.destination_label.setAccessibleName("Destination")
        self.destination_label.linkActivated.connect(lambda _link: self.open_settings())
        # One line for an outage, whatever the number of files waiting behind it.
        self.outage_banner = QLabel()
        self.outage_banner.setObjectName("outageBanner")
        self.outage_banner.setWordWrap(True)
        self.outage_banner.setAccessibleName("Storage server status")
        self.outage_banner.setStyleSheet(
            "#outageBanner { background: #fef3c7; color: #78350f; border-radius: 6px;"
            " padding: 6px 10px; }"
        )
        self.outage_banner.hide()

        self.filter_buttons = QButtonGroup(self)
        self.filter_buttons.setExclusive(True)
        filters = QHBoxLayout()
        filters.setSpacing(4)
        self._filter_button_for: dict[FilterCategory, QPushButton] = {}
        for category in FilterCategory:
            button = QPushButton(category.label)
            button.setCheckable(True)
            button.setAccessibleName(f"Show {category.label.lower()} files")
            button.setToolTip(f"Show {category.label.lower()} files ({FILTER_SHORTCUTS[category]})")
            button.setShortcut(QKeySequence(FILTER_SHORTCUTS[category]))
            self.filter_buttons.addButton(button)
            self._filter_button_for[category] = button
            button.clicked.connect(lambda _=False, c=category: self.set_filter(c))
            filters.addWidget(button)
        self._filter_button_for[FilterCategory.ALL].setChecked(True)
        filters.addStretch(1)

        self.table = QTableView()
        self.table.setObjectName("queue")
        self.table.setAccessibleName("Upload queue")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(44)
        self.table.setIconSize(QSize(40, 40))
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.doubleClicked.connect(lambda _index: self.show_in_folder())
        self.table.setItemDelegateForColumn(Column.PREVIEW, PreviewDelegate(40, self.table))
        self.table.setItemDelegateForColumn(Column.STATUS, StatusDelegate(self.table))
        self.table.setItemDelegateForColumn(
            Column.THUMBNAIL, BadgeDelegate(QueueRole.THUMBNAIL_BADGE, self.table)
        )
        # Names keep their extension (elided in the middle); messages keep their start.
        self.table.setItemDelegateForColumn(Column.MESSAGE, ElideRightDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        for column, width in (
            (Column.PREVIEW, 52),
            (Column.NAME, 260),
            (Column.SIZE, 80),
            (Column.STATUS, 150),
            (Column.THUMBNAIL, 110),
        ):
            self.table.setColumnWidth(column, width)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)

        self.drop_hint = DropHint()
        self.drop_hint.add_photos.clicked.connect(self.choose_files)
        self.drop_hint.add_folder.clicked.connect(self.choose_folder)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.drop_hint)
        self.pages.addWidget(self.table)

        self.detail = DetailPane()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.destination_label)
        left_layout.addWidget(self.outage_banner)
        left_layout.addLayout(filters)
        left_layout.addWidget(self.pages, 1)
        self.splitter = QSplitter()
        self.splitter.setObjectName("mainSplitter")
        detail_scroll = QScrollArea()
        detail_scroll.setWidget(self.detail)
        detail_scroll.setWidgetResizable(True)
        detail_scroll.setFrameShape(QFrame.Shape.NoFrame)
        detail_scroll.setMinimumWidth(240)  # the pane scrolls rather than make the window big
        self.splitter.addWidget(left)
        self.splitter.addWidget(detail_scroll)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setSizes([800, 300])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 4, 8, 0)
        layout.addWidget(self.splitter)
        self.setCentralWidget(central)

    def _build_status_bar(self) -> None:
        self.counts_label = QLabel()
        self.counts_label.setAccessibleName("Counts")
        self.rate_label = QLabel()
        self.rate_label.setAccessibleName("Speed and time left")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Overall progress")
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(False)
        bar = self.statusBar()
        bar.addWidget(self.counts_label, 1)
        bar.addPermanentWidget(self.rate_label)
        bar.addPermanentWidget(self.progress)

    # -- persistence -----------------------------------------------------------------

    def _restore_state(self) -> None:
        for key, restore in (
            ("geometry", self.restoreGeometry),
            ("state", self.restoreState),
            ("columns", self.table.horizontalHeader().restoreState),
            ("splitter", self.splitter.restoreState),
        ):
            data = self.settings_store.load_window(key)
            if data:
                restore(QByteArray(data))

    def save_state(self) -> None:
        self.settings_store.save_window("geometry", self.saveGeometry())
        self.settings_store.save_window("state", self.saveState())
        self.settings_store.save_window("columns", self.table.horizontalHeader().saveState())
        self.settings_store.save_window("splitter", self.splitter.saveState())

    # -- adding files ----------------------------------------------------------------

    def add_paths(self, paths: Iterable[Path]) -> None:
        paths = list(paths)
        if paths:
            self.controller.add_paths(paths)
            self.statusBar().showMessage(_adding_message(paths), 4000)

    def choose_files(self) -> None:
        dialog = QFileDialog(self, "Add photos")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.setNameFilters(
            [
                "Photos (*.jpg *.jpeg *.png *.webp *.gif *.tif *.tiff *.heic *.heif *.avif "
                "*.JPG *.JPEG *.PNG *.HEIC)",
                "All files (*)",
            ]
        )
        dialog.filesSelected.connect(lambda files: self.add_paths(Path(f) for f in files))
        dialog.open()

    def choose_folder(self) -> None:
        dialog = QFileDialog(self, "Add a folder of photos")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(lambda folder: self.add_paths([Path(folder)]))
        dialog.open()

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        paths = local_paths(mime) if mime is not None else []
        if paths:
            self.add_paths(paths)
        else:
            self.statusBar().showMessage("The clipboard holds no file paths to add.", 4000)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if local_paths(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Always a copy, never a move: the source files must stay where they are."""
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        # Defer the work out of the drop handler (the drag source is still waiting).
        QTimer.singleShot(0, lambda: self.add_paths(paths))

    # -- actions ---------------------------------------------------------------------

    def retry_failed(self) -> None:
        self._show_outage("")  # said and done; a new outage says so again
        count = self.controller.retry_failed()
        noun = "file" if count == 1 else "files"
        self.statusBar().showMessage(f"Retrying {count} {noun}.", 4000)
        self._refresh_status()

    def toggle_pause(self) -> None:
        paused = self.pause_action.isChecked()
        self.controller.set_paused(paused)
        self.pause_action.setText("&Resume" if paused else "&Pause")
        self._refresh_status()

    def cancel_selected(self) -> None:
        self.controller.cancel(self.selected_file_ids())

    def remove_selected(self) -> None:
        self.controller.remove(self.selected_file_ids())
        self._refresh_status()

    def clear_finished(self) -> None:
        self.controller.clear_finished()
        self._refresh_status()

    def copy_key(self) -> None:
        keys = [s.key for s in self.selected_snapshots() if s.key]
        if keys:
            QGuiApplication.clipboard().setText("\n".join(keys))

    def show_in_folder(self) -> None:
        snaps = self.selected_snapshots()
        if snaps:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(snaps[0].path.parent)))

    def set_filter(self, category: FilterCategory) -> None:
        self.proxy.set_category(category)
        self._filter_button_for[category].setChecked(True)
        self._refresh_status()

    def open_settings(self) -> None:
        if self._settings_dialog is not None:
            self._settings_dialog.raise_()
            return
        dialog = SettingsDialog(self.settings_store, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.settings_saved.connect(self._on_settings_saved)
        dialog.finished.connect(lambda _result: setattr(self, "_settings_dialog", None))
        self._settings_dialog = dialog
        dialog.open()

    def _on_settings_saved(self, settings: object) -> None:
        store = self.settings_store
        app_settings = store.load()
        self._spawn(self.controller.apply_settings(app_settings, store.secret_for(app_settings)))

    # -- selection and context menu ---------------------------------------------------

    def selected_file_ids(self) -> list[int]:
        rows = self.table.selectionModel().selectedRows()
        ids = [self.proxy.file_id_at(index.row()) for index in rows]
        return [i for i in ids if i is not None]

    def selected_snapshots(self) -> list[FileSnapshot]:
        snaps = (self.model.snapshot_for(i) for i in self.selected_file_ids())
        return [s for s in snaps if s is not None]

    def _context_menu(self, pos: QPoint) -> None:
        if not self.table.indexAt(pos).isValid():
            return
        menu = QMenu(self)
        retry = menu.addAction("Retry")
        retry.triggered.connect(lambda: self.controller.retry(self.selected_file_ids()))
        retry.setEnabled(any(is_retryable(s) for s in self.selected_snapshots()))
        menu.addAction(self.cancel_action)
        menu.addAction(self.remove_action)
        menu.addSeparator()
        menu.addAction(self.copy_key_action)
        menu.addAction(self.show_in_folder_action)
        menu.addSeparator()
        menu.addAction(self.retry_action)
        menu.addAction(self.clear_action)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _on_selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._show_detail()
        self._update_actions()

    def _show_detail(self) -> None:
        index = self.table.currentIndex()
        selected = self.table.selectionModel().isRowSelected(index.row(), QModelIndex())
        file_id = self.proxy.file_id_at(index.row()) if index.isValid() and selected else None
        snap = self.model.snapshot_for(file_id) if file_id is not None else None
        preview = self.previews.large_preview(file_id) if file_id is not None else None
        if snap is not None and preview is None:
            preview = self.previews.preview_for(snap.file_id)
            if preview is None:
                self.previews.request(snap.file_id, snap.path)
        self.detail.show_snapshot(snap, preview)

    def _on_data_changed(self, *_args: object) -> None:
        if self.detail.file_id is not None:
            snap = self.model.snapshot_for(self.detail.file_id)
            if snap is not None:
                self._show_detail()

    def _on_preview_ready(self, file_id: int) -> None:
        if file_id == self.detail.file_id:
            self._show_detail()

    # -- what the window says ---------------------------------------------------------

    def _show_destination(self, text: str) -> None:
        engine = self.controller.engine
        self.detail.set_endpoint_url(engine.destination.endpoint_url if engine else None)
        local = engine is not None and engine.destination.label is not None
        hint = (
            " — for your real bucket, open <a href='settings'>Settings</a>"
            if local
            else (" — <a href='settings'>change</a>")
        )
        link = self.palette().color(QPalette.ColorRole.Link).name()
        hint = hint.replace("<a ", f"<a style='color:{link}' ")
        self.destination_label.setText(f"Photos go to: <b>{_escape(text)}</b>{hint}")

    def _show_outage(self, message: str) -> None:
        self.outage_banner.setText(message)
        self.outage_banner.setVisible(bool(message))

    def _show_problem(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)
        box = QMessageBox(QMessageBox.Icon.Warning, APP_NAME, message, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _update_view_page(self, *_args: object) -> None:
        if self.statusBar().currentMessage().startswith("Adding"):
            self.statusBar().clearMessage()  # the files are here: say their counts instead
        self.pages.setCurrentWidget(self.table if self.model.rowCount() else self.drop_hint)
        self._update_actions()

    def _update_actions(self) -> None:
        self.retry_action.setEnabled(self.model.retryable_count > 0)
        has_selection = bool(self.table.selectionModel().selectedRows())
        self.cancel_action.setEnabled(has_selection)
        self.remove_action.setEnabled(has_selection)
        self.copy_key_action.setEnabled(has_selection)
        self.show_in_folder_action.setEnabled(has_selection)
        counts = self.model.counts()
        self.clear_action.setEnabled(any(counts.get(s, 0) for s in FileState if s.is_final))

    def _refresh_status(self) -> None:
        """Counts, progress, speed: polled a few times a second rather than per change,
        so a burst of thousands of updates costs one refresh."""
        counts = self.model.counts()
        total = self.model.rowCount()
        parts = []
        for label, states in (
            ("queued", (FileState.QUEUED,)),
            (
                "in progress",
                (
                    FileState.HASHING,
                    FileState.CHECKING,
                    FileState.THUMBNAILING,
                    FileState.UPLOADING,
                ),
            ),
            ("uploaded", (FileState.UPLOADED,)),
            ("duplicate", (FileState.DUPLICATE,)),
            ("failed", (FileState.FAILED,)),
            ("cancelled", (FileState.CANCELLED,)),
        ):
            n = sum(counts.get(s, 0) for s in states)
            if n:
                parts.append(f"{n} {label}")
        thumbnails_failed = self.model.thumbnails_failed
        if thumbnails_failed > 0:
            parts.append(
                f"{thumbnails_failed} thumbnail{'s' if thumbnails_failed > 1 else ''} failed"
            )
        prefix = "Paused · " if self.controller.paused else ""
        noun = "file" if total == 1 else "files"
        self.counts_label.setText(
            f"{prefix}{total} {noun}: " + ", ".join(parts) if parts else f"{prefix}No files yet"
        )
        self.progress.setValue(int(self.model.overall_progress() * 1000))
        active = any(counts.get(s, 0) for s in FileState if not s.is_final)
        if active and not self.controller.paused:
            self._meter.sample(self.model.sent_bytes)
            self.rate_label.setText(describe_rate(self._meter.rate(), self.model.remaining_bytes))
        else:
            self._meter.reset()
            self.rate_label.setText("")
        for category, button in self._filter_button_for.items():
            button.setText(f"{category.label} ({self._category_count(category)})")
        self._update_actions()

    def _category_count(self, category: FilterCategory) -> int:
        core = category.core
        return self.model.rowCount() if core is None else self.model.category_count(core)

    def changeEvent(self, event: QEvent) -> None:
        """Follow the desktop between light and dark: badge colours and the link."""
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.model.set_dark(palette_is_dark())
            self._show_destination(self.controller.destination_text)
        super().changeEvent(event)

    # -- closing ---------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.controller.has_unfinished() and not self._quit_confirmed:
            event.ignore()
            self.close_requested_with_work = True
            self._confirm_quit()
            return
        self.save_state()
        self._status_timer.stop()
        event.accept()
        self.closed.emit()

    def _confirm_quit(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            APP_NAME,
            "Uploads are still running. Quit anyway?",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setInformativeText(
            "Files that have not finished will not be in the bucket. Files already "
            "uploaded stay uploaded."
        )
        quit_button = box.addButton("Quit", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(
            lambda button: self.confirm_quit() if button is quit_button else None
        )
        box.open()

    def confirm_quit(self) -> None:
        self._quit_confirmed = True
        self.close()

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _adding_message(paths: Sequence[Path]) -> str:
    if len(paths) == 1:
        return f"Adding {paths[0].name}…"
    return f"Adding {len(paths)} items…"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
