"""The main window: it composes the queue view, the filter bar, the detail pane, the status
bar, drop handling and the actions, and wires them to the controller.

The window only observes: the controller owns the engine, the model holds snapshots,
delegates paint badges. Nothing here blocks; dialogs are opened with open(), never
exec(), because a nested event loop inside qasync's loop misbehaves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QItemSelection,
    QPoint,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import QCloseEvent, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME
from app.core.catalogue import FILE_NAME as CATALOGUE_FILE
from app.core.catalogue import Catalogue
from app.core.models import FileSnapshot, FileState
from app.core.paths import data_dir
from app.core.policy import is_retryable, takes_item
from app.ui.actions import WindowActions
from app.ui.app_icon import notification_icon
from app.ui.background import Tasks, shared_background
from app.ui.badges import FilterCategory
from app.ui.bucket.page import BucketPage
from app.ui.controller import UploadController
from app.ui.destination_bar import DestinationBar
from app.ui.detail_pane import DetailPane
from app.ui.drop import DropHint, DropTarget, choose_files, choose_folder, clipboard_paths
from app.ui.item_dialog import ItemDialog
from app.ui.notifications import NotificationCenter
from app.ui.notify import DesktopNotifications, Notifier
from app.ui.preview_cache import PreviewCache
from app.ui.queue_model import QueueModel, QueueRole, has_preview, palette_is_dark
from app.ui.queue_proxy import QueueFilterProxy
from app.ui.queue_view import FilterBar, QueueView
from app.ui.settings import SettingsStore, stored_secret
from app.ui.settings_dialog import SettingsDialog
from app.ui.status_bar import QueueStatusBar
from app.ui.tray import WatchTray

STATUS_REFRESH_MS = 250
# Where the table's column layout is kept; a new name when the columns change (the Bucket
# column came in before Message: an older layout would show it, with Message's width).
COLUMNS_KEY = "columns-v2"


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
        *,
        notifier: Notifier | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.model = model
        self.previews = previews
        self.settings_store = settings_store
        self._tasks = Tasks()
        self._quit_confirmed = False
        self._settings_dialog: SettingsDialog | None = None
        self.item_dialog: ItemDialog | None = None  # the last one opened
        self.close_requested_with_work = False  # for tests: a confirmation was asked

        self.setWindowTitle(APP_NAME)
        self.resize(_first_size(self))
        self.proxy = QueueFilterProxy(self)
        self.proxy.setSourceModel(model)
        self.proxy.setSortRole(QueueRole.SORT_KEY)

        self.actions_ = WindowActions(self, self._slots())
        self._name_actions()
        self.addToolBar(self.actions_.toolbar())
        self._build_central()
        self.status = QueueStatusBar()
        self.setStatusBar(self.status)
        self._drops = DropTarget(self, self.add_paths)
        self._restore_state()

        controller.destination_changed.connect(self._show_destination)
        controller.destination_changed.connect(lambda _text: self.bucket_page.destination_changed())
        controller.problem.connect(self._show_problem)
        controller.outage.connect(self._show_outage)
        controller.watching.connect(self.destination_bar.show_watch)
        self.notifications = NotificationCenter(
            notifier or DesktopNotifications(notification_icon()),
            focused=lambda: QApplication.activeWindow() is not None,  # (a dialog too)
            parent=self,
        )
        controller.files_changed.connect(self.notifications.seen)
        controller.restored.connect(self.notifications.start_counting)
        controller.removed.connect(self.notifications.forget)
        controller.paths_added.connect(self._paths_added)
        self.tray = WatchTray(
            show_window=lambda: self.bring_forward([]),
            toggle_pause=self.pause_action.trigger,
            quit=self.close,
            parent=self,
        )
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

    def _slots(self) -> dict[str, Any]:
        return {
            "add_photos": self.choose_files,
            "add_folder": self.choose_folder,
            "retry": self.retry_failed,
            "pause": self.toggle_pause,
            "cancel": self.cancel_selected,
            "remove": self.remove_selected,
            "clear": self.clear_finished,
            "settings": self.open_settings,
            "paste": self.paste,
            "copy_key": self.copy_key,
            "edit_item": self.edit_item,
            "show_in_folder": self.show_in_folder,
            "quit": self.close,
        }

    def _name_actions(self) -> None:
        actions = self.actions_
        self.retry_action, self.pause_action = actions.retry, actions.pause
        self.cancel_action, self.remove_action = actions.cancel, actions.remove
        self.clear_action, self.settings_action = actions.clear, actions.settings
        self.paste_action, self.copy_key_action = actions.paste, actions.copy_key
        self.show_in_folder_action = actions.show_in_folder
        self.edit_item_action = actions.edit_item

    def _build_central(self) -> None:
        self.destination_bar = DestinationBar()
        self.destination_bar.settings_requested.connect(self.open_settings)
        self.destination_label = self.destination_bar.label
        self.outage_banner = self.destination_bar.outage_banner

        self.filter_bar = FilterBar()
        self.filter_bar.chosen.connect(self.set_filter)
        self.filter_buttons = self.filter_bar.buttons

        self.table = QueueView(self.proxy)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.doubleClicked.connect(lambda _index: self.show_in_folder())
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
        left_layout.addWidget(self.destination_bar)
        left_layout.addWidget(self.filter_bar)
        left_layout.addWidget(self.pages, 1)
        self.splitter = QSplitter()
        self.splitter.setObjectName("mainSplitter")
        detail_scroll = QScrollArea()
        detail_scroll.setWidget(self.detail)
        detail_scroll.setWidgetResizable(True)
        detail_scroll.setFrameShape(QFrame.Shape.NoFrame)
        # The pane scrolls down rather than make the window big; never sideways: its
        # values wrap and elide to its width.
        detail_scroll.setMinimumWidth(260)
        detail_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.splitter.addWidget(left)
        self.splitter.addWidget(detail_scroll)
        self.detail.edit_item_requested.connect(self.edit_item)
        # A wider window widens the pane too (a quarter of what it gains): keys, URLs
        # and hashes then show whole on a big screen.
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([780, 300])
        self.bucket_page = BucketPage(self.controller.bucket_access, _open_catalogue)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.splitter, "Queue")
        self.tabs.addTab(self.bucket_page, "Bucket")
        self.tabs.setTabToolTip(1, "What the destination holds: browse, share, check, delete")
        self.tabs.currentChanged.connect(self._on_tab_changed)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 4, 8, 0)
        layout.addWidget(self.tabs)
        self.setCentralWidget(central)

    def _on_tab_changed(self, index: int) -> None:
        """The bucket is read when its tab is first shown (and on Refresh)."""
        page = self.bucket_page
        if self.tabs.widget(index) is page and page.model.rowCount() == 0:
            page.refresh()

    # -- persistence -----------------------------------------------------------------

    def _restore_state(self) -> None:
        for key, restore in (
            ("geometry", self.restoreGeometry),
            ("state", self.restoreState),
            (COLUMNS_KEY, self.table.horizontalHeader().restoreState),
            ("splitter", self.splitter.restoreState),
        ):
            data = self.settings_store.load_window(key)
            if data:
                restore(QByteArray(data))

    def save_state(self) -> None:
        self.settings_store.save_window("geometry", self.saveGeometry())
        self.settings_store.save_window("state", self.saveState())
        self.settings_store.save_window(COLUMNS_KEY, self.table.horizontalHeader().saveState())
        self.settings_store.save_window("splitter", self.splitter.saveState())

    # -- adding files ----------------------------------------------------------------

    def add_paths(self, paths: Iterable[Path]) -> None:
        paths = list(paths)
        if paths:
            self.controller.add_paths(paths)
            # Said where the counts go until the rows arrive (before the engine is up,
            # that can take a moment): not "No files yet".
            self.status.adding = _adding_message(paths)
            self._refresh_status()

    def _paths_added(self) -> None:
        """All given paths are queued: say the counts (or "No files yet": nothing in them
        was a file), not "Adding…"."""
        self.status.adding = None
        self._refresh_status()

    def choose_files(self) -> None:
        choose_files(self, self.add_paths)

    def choose_folder(self) -> None:
        choose_folder(self, self.add_paths)

    def paste(self) -> None:
        paths = clipboard_paths()
        if paths:
            self.add_paths(paths)
        else:
            self.status.showMessage("The clipboard holds no file paths to add.", 4000)

    # -- actions ---------------------------------------------------------------------

    def retry_failed(self) -> None:
        self._show_outage("")  # said and done; a new outage says so again
        count = self.controller.retry_failed()
        noun = "file" if count == 1 else "files"
        self.status.showMessage(f"Retrying {count} {noun}.", 4000)
        self._refresh_status()

    def toggle_pause(self) -> None:
        self.controller.set_paused(self.pause_action.isChecked())
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
        self.filter_bar.check(category)
        self._refresh_status()

    def edit_item(self) -> None:
        """Edit the item of the selected photos (those it applies to)."""
        snaps = [s for s in self.selected_snapshots() if takes_item(s)]
        if not snaps:
            return
        dialog = ItemDialog([s.item for s in snaps], len(snaps), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        ids = [s.file_id for s in snaps]
        dialog.edited.connect(lambda changes: self.controller.edit_items(ids, changes))
        self.item_dialog = dialog  # (for tests)
        dialog.open()

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

    def _on_settings_saved(self, _settings: object) -> None:
        self._tasks.spawn(self._apply_saved_settings(), name="apply-settings")

    async def _apply_saved_settings(self) -> None:
        store = self.settings_store
        app_settings = store.load()
        secret = await shared_background().run(stored_secret, store.secrets, app_settings)
        await self.controller.apply_settings(app_settings, secret)

    # -- selection, context menu and detail -------------------------------------------

    def selected_file_ids(self) -> list[int]:
        return self.table.selected_file_ids()

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
        menu.addAction(self.edit_item_action)
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
        file_id = self.table.current_file_id()
        snap = self.model.snapshot_for(file_id) if file_id is not None else None
        preview = self.previews.large_preview(file_id) if file_id is not None else None
        loading = False
        if snap is not None and preview is None and has_preview(snap):
            # (Not the row's icon-sized one: made from the original, in a moment.)
            loading = self.previews.request_large(snap.file_id, snap.path)
        self.detail.show_snapshot(snap, preview, loading=loading)

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
        self.destination_bar.show_destination(text, local=local)

    def _show_outage(self, message: str) -> None:
        self.destination_bar.show_outage(message)

    def _show_problem(self, message: str) -> None:
        self.status.showMessage(message, 15000)
        box = QMessageBox(QMessageBox.Icon.Warning, APP_NAME, message, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _update_view_page(self, *_args: object) -> None:
        if self.model.rowCount():
            self.status.adding = None  # the files are here: say their counts instead
        self.pages.setCurrentWidget(self.table if self.model.rowCount() else self.drop_hint)
        self._update_actions()

    def _update_actions(self) -> None:
        self.retry_action.setEnabled(self.model.retryable_count > 0)
        has_selection = bool(self.table.selectionModel().selectedRows())
        self.cancel_action.setEnabled(has_selection)
        self.remove_action.setEnabled(has_selection)
        self.copy_key_action.setEnabled(has_selection)
        self.show_in_folder_action.setEnabled(has_selection)
        self.edit_item_action.setEnabled(any(takes_item(s) for s in self.selected_snapshots()))
        counts = self.model.counts()
        self.clear_action.setEnabled(any(counts.get(s, 0) for s in FileState if s.is_final))

    def _refresh_status(self) -> None:
        """Counts, progress, speed and filter counts, a few times a second."""
        self.status.refresh(self.model, paused=self.controller.paused)
        self.filter_bar.show_counts(self.model)
        self.table.show_buckets(self.model.bucket_count > 1)
        self._update_actions()
        self.tray.follow(
            watching=self.controller.watch_summary(),
            counts=self.status.counts_label.text(),
            paused=self.controller.paused,
        )

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
        self.notifications.shutdown()
        self.tray.hide()
        self.bucket_page.shutdown()
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

    def bring_forward(self, paths: list[Path]) -> None:
        """A later launch handed over these paths (none: it only wants the window)."""
        self.add_paths(paths)
        if self.isMinimized():
            self.showNormal()
        self.raise_()
        self.activateWindow()

    def offer_crash_report(self, report: Path) -> None:
        """The last run stopped unexpectedly: say so, and offer its report."""
        box = QMessageBox(
            QMessageBox.Icon.Information,
            APP_NAME,
            "Photo Uploader stopped unexpectedly last time. Your queue is back; files that "
            "were running are finished now.",
            QMessageBox.StandardButton.Close,
            self,
        )
        box.setInformativeText(f"The report is in {report}.")
        show = box.addButton("Show report", QMessageBox.ButtonRole.ActionRole)
        show.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(report))))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def confirm_quit(self) -> None:
        self._quit_confirmed = True
        self.close()


def _open_catalogue() -> Catalogue | None:
    """The data folder's catalogue of what was read of buckets (blocking)."""
    try:
        return Catalogue(data_dir() / CATALOGUE_FILE)
    except OSError:  # no data folder: read everything each time
        return None


def _adding_message(paths: Sequence[Path]) -> str:
    if len(paths) == 1:
        return f"Adding {paths[0].name}…"
    return f"Adding {len(paths)} items…"


FIRST_SIZE = QSize(1100, 680)


def _first_size(window: QWidget) -> QSize:
    """The size of a first start (no saved geometry): FIRST_SIZE, or the screen's
    available area when that is smaller (a 1024x768 laptop)."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return FIRST_SIZE
    return FIRST_SIZE.boundedTo(screen.availableGeometry().size())
