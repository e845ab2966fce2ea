"""The Bucket tab: what the destination holds, as a grid of thumbnails (or a list),
searched, sorted and grouped by item; the selected photo larger with its fields; share,
save, download, open, edit its item, delete; check and repair.

The page composes and asks; the reading (app.ui.bucket.reading), the grid (grid,
model, delegate, ordering), the pane (photo_pane), the actions (actions) and Check
(checking) each have a file. Everything that touches the bucket runs in core on
workers and comes back as plain data.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.catalogue import Catalogue
from app.core.collection import SMALL_BODY_LIMIT, Photo, ReadableStore
from app.core.sidecar import sidecar_key, stored_record
from app.core.survey import Survey, SurveyNews
from app.ui.background import Background, Outcome
from app.ui.bucket.access import BucketAccess
from app.ui.bucket.actions import BucketActions
from app.ui.bucket.checking import BucketCheck, CheckBar
from app.ui.bucket.grid import PhotoGrid
from app.ui.bucket.model import ICON_SIDE, BucketModel
from app.ui.bucket.ordering import NEEDS_DETAILS, SORTS, Ordered, ordered_by
from app.ui.bucket.photo_pane import PREVIEW_SIDE, PhotoPane
from app.ui.bucket.reading import BucketReading, reading_status
from app.ui.bucket.thumbnails import ImageFetcher

SEARCH_AGAIN_MS = 1000


def _ask(parent: QWidget, title: str, text: str) -> bool:
    answer = QMessageBox.question(
        parent,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Yes


class BucketPage(QWidget):
    """The Bucket tab. `open_access` (blocking, run off the GUI thread) gives the store
    for the current destination, or None while there is none yet. `confirm(title, text)`,
    `choose_save_path(name)`, `choose_folder()` and `open_url(url)` ask the collector or
    the desktop (dialogs by default; tests pass their own).

    Signals:
        photos_shown(int): the bucket was read, with this many photos.
    """

    photos_shown = Signal(int)

    def __init__(
        self,
        open_access: Callable[[], BucketAccess | None],
        catalogue: Callable[[], Catalogue | None] = lambda: None,
        *,
        confirm: Callable[[str, str], bool] | None = None,
        choose_save_path: Callable[[str], str] | None = None,
        choose_folder: Callable[[], str] | None = None,
        open_url: Callable[[QUrl], object] = QDesktopServices.openUrl,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._open_access = open_access
        self._open_catalogue = catalogue
        self._catalogue: Catalogue | None = None
        self._access: BucketAccess | None = None
        self._background = Background(workers=2, name="bucket")
        self._images = ImageFetcher()
        self._generation = 0  # a new destination or reading: outcomes of the old dropped
        self._opening = False  # the store and catalogue are being made
        self._ordering = False  # an order is being made on a worker
        self._order_again = False  # ... and another was asked for meanwhile
        self.sorted_by = ""  # the order the grid shows now ("" before the first)
        # While details come in, a search is run again at most once a second.
        self._search_again = QTimer(self)
        self._search_again.setSingleShot(True)
        self._search_again.setInterval(SEARCH_AGAIN_MS)
        self._search_again.timeout.connect(lambda: self._search(self.search.text()))

        ask = confirm or (lambda title, text: _ask(self, title, text))
        self.model = BucketModel(self)
        self.model.thumbnail_wanted.connect(self._want_thumbnail)
        self.reading = BucketReading(self.model, self)
        self.reading.progress.connect(self._on_progress)
        self.reading.listing_done.connect(self._on_listed)
        self.reading.finished.connect(self._on_read)
        self.photo_actions = BucketActions(
            self,
            self,
            confirm=ask,
            choose_save_path=choose_save_path or self._save_dialog,
            choose_folder=choose_folder or self._folder_dialog,
            open_url=open_url,
        )
        self._build()
        self.checking = BucketCheck(self.check_bar, ask, self)
        self.checking.said.connect(self.status.setText)
        self.checking.details.connect(self.say)
        self.checking.repaired.connect(self.refresh)

    @property
    def loading(self) -> bool:
        """The bucket is being read (listing, or details still coming)."""
        return self._opening or self.reading.running

    # -- building ---------------------------------------------------------------------

    def _build(self) -> None:
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name, item or date")
        self.search.setAccessibleName("Search the bucket")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._search)
        self.sort_box = QComboBox()
        self.sort_box.addItems(list(SORTS))
        self.sort_box.setAccessibleName("Sort photos by")
        self.sort_box.currentTextChanged.connect(lambda _name: self._order())
        self.group_box = QCheckBox("Group by item")
        self.group_box.setToolTip("Each item's photos together, its primary photo first")
        self.group_box.toggled.connect(lambda _on: self._order())
        self.mode_box = QComboBox()
        self.mode_box.addItems(["Grid", "List"])
        self.mode_box.setAccessibleName("Show photos as")
        self.mode_box.currentTextChanged.connect(self._set_mode)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        # Check at a click; the arrow beside it offers the deep check.
        self.check_button = QToolButton()
        check = QAction("Check…", self)
        check.setToolTip("Find photos that are not whole, and repair them")
        check.triggered.connect(lambda: self.check(deep=False))
        self.deep_check_action = QAction("Deep check… (re-reads every original)", self)
        self.deep_check_action.triggered.connect(lambda: self.check(deep=True))
        self.check_button.setDefaultAction(check)
        check_menu = QMenu(self.check_button)
        check_menu.addAction(check)
        check_menu.addAction(self.deep_check_action)
        self.check_button.setMenu(check_menu)
        self.check_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.check_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar = QHBoxLayout()
        bar.addWidget(self.search, 1)
        bar.addWidget(QLabel("Sort:"))
        bar.addWidget(self.sort_box)
        bar.addWidget(self.group_box)
        bar.addWidget(self.mode_box)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.check_button)

        self.view = PhotoGrid(self.model)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._show_selection())
        self.view.clicked.connect(self._clicked)
        self.view.doubleClicked.connect(lambda _index: self.photo_actions.open_original())

        self.pane = PhotoPane()
        pane = self.pane
        pane.edit_button.clicked.connect(self.photo_actions.edit_item)
        pane.open_button.clicked.connect(self.photo_actions.open_original)
        pane.share_button.clicked.connect(
            lambda: self.photo_actions.share(str(pane.expiry_box.currentData()))
        )
        pane.save_button.clicked.connect(self.photo_actions.save_as)
        pane.download_button.clicked.connect(self.photo_actions.download_selected)
        pane.delete_button.clicked.connect(self.photo_actions.delete)
        # (names kept for the window's and tests' use)
        self.share_button, self.save_button = pane.share_button, pane.save_button
        self.delete_button, self.message = pane.delete_button, pane.message
        self.expiry_box = pane.expiry_box

        splitter = QSplitter()
        splitter.addWidget(self.view)
        splitter.addWidget(pane)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([760, 320])
        splitter.setChildrenCollapsible(False)
        self.check_bar = CheckBar()
        self.status = QLabel("Open this tab to see what the bucket holds.")
        self.status.setAccessibleName("Bucket status")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.check_bar)
        layout.addWidget(self.status)
        self._update_buttons()

    def _search(self, text: str) -> None:
        self.view.keeping_place(lambda: self.model.set_search(text))

    def _set_mode(self, mode: str) -> None:
        self.view.set_grid(mode == "Grid")

    # -- for the actions (app.ui.bucket.actions.ActionHost) ----------------------------

    def access(self) -> BucketAccess | None:
        return self._access

    def survey(self) -> Survey | None:
        return self.reading.survey

    def say(self, text: str) -> None:
        self.pane.message.setText(text)

    def photo_changed(self, photo: Photo) -> None:
        self.model.update(photo)
        if photo.key == self.pane.key:
            self._show_selection()

    def photos_removed(self, keys: Sequence[str]) -> None:
        """Photos deleted from here: out of the grid (put in order again, the place
        kept), without reading the bucket again."""
        if keys:
            self.model.apply([], keys)
            self._order()
            count = self.model.photos_known
            self.status.setText(f"{count:,} photo{'s' if count != 1 else ''} in {self._where()}.")

    # -- reading the bucket -----------------------------------------------------------

    def destination_changed(self) -> None:
        """The window now uploads elsewhere: what is shown is of the old bucket."""
        self.reading.stop()
        if self._access is not None:
            self._background.submit(self._access.store.close, then=lambda _outcome: None)
        self._generation += 1
        self._access = None
        self._images.reset()
        self.model.clear()
        self._update_buttons()
        if self.isVisible():
            self.refresh()
        else:
            self.status.setText("Open this tab to see what the bucket holds.")

    def refresh(self) -> None:
        """Read the bucket again: the grid shows at once what was listed last time (kept
        in the catalogue), then what the bucket holds now as it is listed; details fill
        in afterwards, the cells on screen first."""
        if self._opening:
            return
        self._generation += 1
        self._images.reset()
        self.status.setText("Reading the bucket…")
        if self._access is not None and self._catalogue is not None:
            self._start_reading(self._access, self._catalogue)
            return
        self._opening = True
        self.refresh_button.setEnabled(False)
        access, open_access, open_catalogue = self._access, self._open_access, self._open_catalogue
        catalogue = self._catalogue

        def opened() -> tuple[BucketAccess | None, Catalogue | None]:
            return access or open_access(), catalogue or open_catalogue()

        self._background.submit(opened, then=self._on_opened)

    def _on_opened(self, outcome: Outcome[tuple[BucketAccess | None, Catalogue | None]]) -> None:
        self._opening = False
        self.refresh_button.setEnabled(True)
        try:
            access, catalogue = outcome.get()
        except Exception as exc:  # a StoreError, or the server gone: one sentence
            self.status.setText(f"The bucket could not be read: {exc}")
            return
        self._catalogue = catalogue
        if access is None:
            self.status.setText("The destination is not ready yet; try Refresh in a moment.")
            return
        self._access = access
        self._start_reading(access, catalogue)

    def _start_reading(self, access: BucketAccess, catalogue: Catalogue | None) -> None:
        self.sorted_by = ""
        self.reading.start(access, catalogue)
        self._update_buttons()

    def _where(self) -> str:
        return self._access.destination.display_name if self._access is not None else ""

    def _on_progress(self, news: SurveyNews) -> None:
        self.status.setText(reading_status(news, self._where()))
        if news.removed and news.listing_done:
            self._order()  # (a cell gone shows empty until then)
        if news.rows and self.search.text().strip() and not self._search_again.isActive():
            self._search_again.start()  # details came that the search may now find

    def _on_listed(self) -> None:
        """Every photo is in the grid: put them in the order chosen when it needs no
        details (an order by date or item waits for them: the grid would reshuffle
        while they come, and ordering 100,000 photos while the survey settles its
        listing is two threads wanting the GIL the window wants)."""
        details_matter = self.sort_box.currentText() in NEEDS_DETAILS or self.group_box.isChecked()
        if not details_matter:
            self._order()

    def _on_read(self, news: SurveyNews) -> None:
        if news.error:
            self.status.setText(f"The bucket could not be read: {news.error}")
            return
        count = news.photos
        noun = "photo" if count == 1 else "photos"
        said = f"{count:,} {noun} in {self._where()} (listed in {self.reading.listed_in:.1f} s)."
        if news.failed:
            said += f" The details of {news.failed:,} could not be read; Refresh tries again."
        self.status.setText(said)
        details_matter = self.sort_box.currentText() in NEEDS_DETAILS or self.group_box.isChecked()
        if details_matter or news.removed or not self.sorted_by:
            self._order()
        self.photos_shown.emit(count)
        self._show_selection()

    def _order(self) -> None:
        """Order the photos known on a worker, then show them (the search, the selection
        and the photo at the top kept)."""
        if self._ordering:
            self._order_again = True
            return
        self._ordering = True
        sort, grouped = self.sort_box.currentText(), self.group_box.isChecked()
        generation = self._generation

        def shown(outcome: Outcome[Ordered]) -> None:
            self._ordering = False
            ordered = outcome.value
            if generation == self._generation and ordered is not None:
                self.view.keeping_place(lambda: self.model.set_order(ordered))
                self.sorted_by = sort + (", grouped" if grouped else "")
            if self._order_again:
                self._order_again = False
                self._order()

        order = functools.partial(ordered_by, grouped=grouped)
        self._background.submit(order, self.model.rows(), sort, then=shown)

    def _want_thumbnail(self, key: str) -> None:
        access = self._access
        if access is not None:
            self._images.fetch(access.store, key, ICON_SIDE, self._thumbnail_arrived)

    def _thumbnail_arrived(self, key: str, image: QImage | None) -> None:
        if image is not None:
            self.model.set_thumbnail(key, image)
        # (one that cannot be fetched stays grey; Check says why)

    # -- the selection ----------------------------------------------------------------

    def selected_photos(self) -> list[Photo]:
        return self.view.selected_photos()

    def select_key(self, key: str) -> None:
        position = self.model.position_of(key)
        if position is not None:
            self.view.select_positions([position], current=position)

    def _clicked(self, index: QModelIndex) -> None:
        """A heading clicked selects its item's photos."""
        position = self.model.position(index)
        if position is not None and isinstance(self.model.entry(position), tuple):
            members = self.model.group_positions(position)
            self.view.select_positions(members, current=members[0] if members else None)

    def _show_selection(self) -> None:
        photos = self.selected_photos()
        self.pane.show_photos(photos)
        self._update_buttons()
        access = self._access
        if len(photos) != 1 or access is None:
            return
        photo = photos[0]
        image_key = photo.preview_key or photo.thumbnail_key
        if image_key:
            self._images.fetch(access.store, image_key, PREVIEW_SIDE, self._preview_arrived)
        else:
            self.pane.show_image(photo.key, None)
        if photo.metadata_key:
            store = access.store
            self._background.submit(_read_record, store, photo.key, then=self._record_arrived)

    def _preview_arrived(self, key: str, image: QImage | None) -> None:
        photos = self.selected_photos()
        if len(photos) == 1 and key in (photos[0].preview_key, photos[0].thumbnail_key):
            self.pane.show_image(photos[0].key, image)

    def _record_arrived(self, outcome: Outcome[tuple[str, dict[str, object] | None]]) -> None:
        if outcome.value is None:
            return
        key, record = outcome.value
        photo = self.model.photo(key)
        if photo is not None:
            self.pane.show_record(photo, record)

    def _update_buttons(self) -> None:
        photos = self.selected_photos()
        ready = self._access is not None
        one = ready and len(photos) == 1
        pane = self.pane
        pane.share_button.setEnabled(one)
        pane.save_button.setEnabled(one)
        pane.open_button.setEnabled(one)
        pane.edit_button.setEnabled(ready and any(p.ours and p.detailed for p in photos))
        pane.download_button.setEnabled(ready and bool(photos))
        pane.delete_button.setEnabled(ready and bool(photos))
        self.check_button.setEnabled(ready)

    def _context_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        pane = self.pane
        for button in (
            pane.open_button,
            pane.edit_button,
            pane.share_button,
            pane.save_button,
            pane.download_button,
            pane.delete_button,
        ):
            action = menu.addAction(button.text())
            action.setEnabled(button.isEnabled())
            action.triggered.connect(button.click)
        menu.popup(self.view.viewport().mapToGlobal(pos))

    # -- dialogs ----------------------------------------------------------------------

    def _save_dialog(self, name: str) -> str:
        path, _filter = QFileDialog.getSaveFileName(self, "Save the original as", name)
        return path

    def _folder_dialog(self) -> str:
        return QFileDialog.getExistingDirectory(self, "Download the selected originals to")

    # -- check ------------------------------------------------------------------------

    def check(self, *, deep: bool = False) -> None:
        """Read the bucket whole and check it (deep: every original re-read too)."""
        if self._access is not None:
            self.checking.start(self._access, self._catalogue, deep=deep)

    def shutdown(self) -> None:
        self.reading.shutdown()
        self.checking.shutdown()
        self.photo_actions.shutdown()
        self._images.shutdown()
        self._background.shutdown()
        if self._catalogue is not None:
            self._catalogue.close()


def _read_record(store: ReadableStore, key: str) -> tuple[str, dict[str, object] | None]:
    """A photo's sidecar as stored (a worker's job)."""
    return key, stored_record(store.get_bytes(sidecar_key(key), SMALL_BODY_LIMIT))
