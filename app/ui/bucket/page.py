"""The Bucket tab: what the destination holds, as a grid of thumbnails (or a list), with
search, sort, share links, Save as, Delete and Check.

The page only shows and asks; everything that touches the bucket runs in core
(app.core.collection, checkup, sharing, removal) on the page's own Background, and comes
back as plain data. Thumbnails are fetched only for the rows the view paints, decoded
off the GUI thread, and kept in a bounded cache.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.catalogue import Catalogue
from app.core.checkup import Problem, Repairer, find_problems
from app.core.collection import Collection, Photo, read_collection
from app.core.removal import (
    VERSIONING_CAUTION,
    Removal,
    describe_removals,
    plan_removals_of,
    remove,
)
from app.core.sharing import EXPIRY_CHOICES, ShareLink, make_share_link
from app.core.survey import SurveyNews
from app.ui.background import Background, Outcome
from app.ui.bucket.access import BucketAccess
from app.ui.bucket.grid import PhotoGrid
from app.ui.bucket.model import ICON_SIDE, BucketModel, photo_summary
from app.ui.bucket.ordering import NEEDS_DETAILS, SORTS, Ordered, ordered_by
from app.ui.bucket.reading import BucketReading, reading_status
from app.ui.bucket.thumbnails import ImageFetcher

EXPIRY_NAMES = {"1h": "1 hour", "1d": "1 day", "7d": "7 days"}


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
    for the current destination, or None while there is none yet. `confirm(title, text)`
    asks the collector (a dialog by default; tests pass their own)."""

    photos_shown = Signal(int)

    def __init__(
        self,
        open_access: Callable[[], BucketAccess | None],
        catalogue: Callable[[], Catalogue | None] = lambda: None,
        *,
        confirm: Callable[[str, str], bool] | None = None,
        choose_save_path: Callable[[str], str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._open_access = open_access
        self._open_catalogue = catalogue
        self._catalogue: Catalogue | None = None
        self._confirm = confirm or (lambda title, text: _ask(self, title, text))
        self._choose_save_path = choose_save_path or self._save_dialog
        self._access: BucketAccess | None = None
        self._background = Background(workers=2, name="bucket")
        self._images = ImageFetcher()
        self._generation = 0  # a new destination or reading: outcomes of the old dropped
        self._opening = False  # the store and catalogue are being made
        self._ordering = False  # an order is being made on a worker
        self._order_again = False  # ... and another was asked for meanwhile
        self.sorted_by = ""  # the order the grid shows now
        self.last_link: ShareLink | None = None

        self.model = BucketModel(self)
        self.model.thumbnail_wanted.connect(self._want_thumbnail)
        self.reading = BucketReading(self.model, self)
        self.reading.progress.connect(self._on_progress)
        self.reading.listing_done.connect(self._on_listed)
        self.reading.finished.connect(self._on_read)
        self._build()

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
        self.mode_box = QComboBox()
        self.mode_box.addItems(["Grid", "List"])
        self.mode_box.setAccessibleName("Show photos as")
        self.mode_box.currentTextChanged.connect(self._set_mode)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.check_button = QPushButton("Check…")
        self.check_button.setToolTip("Find photos that are not whole, and repair them")
        self.check_button.clicked.connect(self.check)
        bar = QHBoxLayout()
        bar.addWidget(self.search, 1)
        bar.addWidget(QLabel("Sort:"))
        bar.addWidget(self.sort_box)
        bar.addWidget(self.mode_box)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.check_button)

        self.view = PhotoGrid(self.model)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._show_selection())

        self.info = QLabel("Select a photo to see its details.")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.expiry_box = QComboBox()
        for code in EXPIRY_CHOICES:
            self.expiry_box.addItem(f"for {EXPIRY_NAMES[code]}", code)
        self.expiry_box.setCurrentIndex(1)
        self.expiry_box.setAccessibleName("How long the link works")
        self.share_button = QPushButton("Copy share link")
        self.share_button.clicked.connect(self.share_selected)
        self.save_button = QPushButton("Save as…")
        self.save_button.clicked.connect(self.save_selected)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self.delete_selected)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.info)
        share_row = QHBoxLayout()
        share_row.addWidget(self.share_button)
        share_row.addWidget(self.expiry_box)
        side_layout.addLayout(share_row)
        side_layout.addWidget(self.save_button)
        side_layout.addWidget(self.delete_button)
        side_layout.addWidget(self.message)
        side_layout.addStretch(1)
        side.setMinimumWidth(240)

        splitter = QSplitter()
        splitter.addWidget(self.view)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([760, 300])
        self.status = QLabel("Open this tab to see what the bucket holds.")
        self.status.setAccessibleName("Bucket status")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)
        self._update_buttons()

    def _search(self, text: str) -> None:
        self.view.keeping_place(lambda: self.model.set_search(text))

    def _set_mode(self, mode: str) -> None:
        self.view.set_grid(mode == "Grid")

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
        if self.isVisible():
            self.refresh()
        else:
            self.status.setText("Open this tab to see what the bucket holds.")

    def refresh(self) -> None:
        """Read the bucket again: the grid shows at once what was listed last time (kept
        in the catalogue), then what the bucket holds now as it is listed; details fill
        in afterwards, the rows on screen first."""
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
            self._order()  # (a row gone shows empty until then)

    def _on_listed(self) -> None:
        """Every photo is in the grid: put them in the order chosen (those that need
        details are put in order again when the details are in)."""
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
        if self.sort_box.currentText() in NEEDS_DETAILS or news.removed or not self.sorted_by:
            self._order()
        self.photos_shown.emit(count)
        self._show_selection()

    def _order(self) -> None:
        """Order the photos known on a worker, then show them (the search, the selection
        and the row at the top kept)."""
        if self._ordering:
            self._order_again = True
            return
        self._ordering = True
        sort, generation = self.sort_box.currentText(), self._generation

        def shown(outcome: Outcome[Ordered]) -> None:
            self._ordering = False
            if generation == self._generation and outcome.value is not None:
                self.view.keeping_place(lambda: self.model.set_order(outcome.value))  # type: ignore[arg-type]
                self.sorted_by = sort
            if self._order_again:
                self._order_again = False
                self._order()

        self._background.submit(ordered_by, self.model.rows(), sort, then=shown)

    def _want_thumbnail(self, key: str) -> None:
        access = self._access
        if access is not None:
            self._images.fetch(access.store, key, ICON_SIDE, self._thumbnail_arrived)

    def _thumbnail_arrived(self, key: str, image: QImage | None) -> None:
        if image is not None:
            self.model.set_thumbnail(key, image)
        # (one that cannot be fetched stays grey; `check` says why)

    # -- the selection ----------------------------------------------------------------

    def selected_photos(self) -> list[Photo]:
        return self.view.selected_photos()

    def select_key(self, key: str) -> None:
        position = self.model.position_of(key)
        if position is not None:
            self.view.select_positions([position], current=position)

    def _show_selection(self) -> None:
        photos = self.selected_photos()
        if not photos:
            self.info.setText("Select a photo to see its details.")
        elif len(photos) == 1:
            self.info.setText(photo_summary(photos[0]))
        else:
            total = sum(p.size for p in photos)
            self.info.setText(f"{len(photos)} photos selected ({total:,} bytes).")
        self._update_buttons()

    def _update_buttons(self) -> None:
        count = len(self.selected_photos())
        ready = self._access is not None
        self.share_button.setEnabled(ready and count == 1)
        self.save_button.setEnabled(ready and count == 1)
        self.delete_button.setEnabled(ready and count >= 1)
        self.check_button.setEnabled(ready)

    def _context_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        for button in (self.share_button, self.save_button, self.delete_button):
            action = menu.addAction(button.text())
            action.setEnabled(button.isEnabled())
            action.triggered.connect(button.click)
        menu.exec(self.view.viewport().mapToGlobal(pos))

    def _say(self, text: str) -> None:
        self.message.setText(text)

    # -- actions --------------------------------------------------------------------

    def share_selected(self) -> None:
        photos, access = self.selected_photos(), self._access
        if len(photos) != 1 or access is None:
            return
        photo = photos[0]
        seconds = EXPIRY_CHOICES[self.expiry_box.currentData()]
        local = access.local

        def sign() -> ShareLink:
            return make_share_link(
                access.store, photo.key, seconds, local_bucket=local, sidecar_has_gps=photo.has_gps
            )

        def done(outcome: Outcome[ShareLink]) -> None:
            try:
                link = outcome.get()
            except Exception as exc:
                self._say(f"No link could be made: {exc}")
                return
            self.last_link = link
            QGuiApplication.clipboard().setText(link.url)
            self._say("Link copied. " + " ".join(link.cautions))

        self._background.submit(sign, then=done)

    def _save_dialog(self, name: str) -> str:
        path, _filter = QFileDialog.getSaveFileName(self, "Save the original as", name)
        return path

    def save_selected(self) -> None:
        photos, access = self.selected_photos(), self._access
        if len(photos) != 1 or access is None:
            return
        key = photos[0].key
        target = self._choose_save_path(PurePosixPath(key).name)
        if not target:
            return

        def done(outcome: Outcome[bool]) -> None:
            try:
                found = outcome.get()
            except Exception as exc:
                self._say(f"{key} could not be saved: {exc}")
                return
            self._say(f"Saved to {target}." if found else f"{key} is no longer in the bucket.")

        self._background.submit(access.store.download_to, key, Path(target), then=done)

    def delete_selected(self) -> None:
        photos, access, survey = self.selected_photos(), self._access, self.reading.survey
        if not photos or access is None or survey is None:
            return
        prefix = access.destination.prefix
        store = access.store

        def plan() -> tuple[list[Removal], bool | None]:
            removals, _unknown = plan_removals_of(store, survey.listing(), prefix, photos)
            return removals, store.versioning_on()

        self._say("Looking at what belongs to them…")
        self._background.submit(plan, then=self._confirm_delete)

    def _confirm_delete(self, outcome: Outcome[tuple[list[Removal], bool | None]]) -> None:
        try:
            removals, versioned = outcome.get()
        except Exception as exc:
            self._say(f"Nothing deleted: {exc}")
            return
        access = self._access
        if access is None or not removals:
            self._say("")
            return
        store = access.store
        names = ", ".join(PurePosixPath(r.key).name for r in removals[:5])
        more = f" and {len(removals) - 5} more" if len(removals) > 5 else ""
        text = f"{describe_removals(removals)}\n\n{names}{more}"
        if versioned:
            text += f"\n\n{VERSIONING_CAUTION}"
        if not self._confirm("Delete photos", text):
            self._say("")
            return
        self._say("Deleting…")

        def delete_all() -> list[str]:
            failures = []
            for removal in removals:
                try:
                    remove(store, removal)
                except Exception as exc:
                    failures.append(f"{removal.key}: {exc}")
            return failures

        def deleted(outcome: Outcome[list[str]]) -> None:
            failures = outcome.value or []
            if outcome.error is not None:
                failures = [str(outcome.error)]
            done = len(removals) - len(failures)
            said = f"Deleted {done} photo{'s' if done != 1 else ''}."
            self._say(said + ("" if not failures else " Not deleted: " + "; ".join(failures)))
            self.refresh()

        self._background.submit(delete_all, then=deleted)

    def check(self) -> None:
        access = self._access
        if access is None:
            return
        self.status.setText("Checking the bucket…")
        self.check_button.setEnabled(False)
        catalogue = self._catalogue

        def run() -> tuple[Collection, list[Problem]]:
            collection = read_collection(
                access.store,
                access.destination.prefix,
                catalogue=catalogue,
                endpoint_url=access.destination.endpoint_url,
            )
            return collection, find_problems(collection, store=access.store)

        self._background.submit(run, then=self._on_checked)

    def _on_checked(self, outcome: Outcome[tuple[Collection, list[Problem]]]) -> None:
        self.check_button.setEnabled(True)
        try:
            collection, problems = outcome.get()
        except Exception as exc:
            self.status.setText(f"The bucket could not be checked: {exc}")
            return
        count = len(collection.photos)
        if not problems:
            self.status.setText(f"All is well: {count} photos checked, each whole.")
            return
        listed = "\n".join(f"• {p.message}" for p in problems[:20])
        more = f"\n… and {len(problems) - 20} more." if len(problems) > 20 else ""
        noun = "problem" if len(problems) == 1 else "problems"
        self.status.setText(f"{len(problems)} {noun} found in {count} photos.")
        mendable = [p for p in problems if p.fix]
        if not mendable:
            self._say(listed + more)
            return
        removing = sum(len(p.removes) for p in mendable)
        question = f"{len(problems)} {noun} found:\n\n{listed}{more}\n\nRepair them now?"
        if removing:
            question += f" ({removing} leftover objects would be removed.)"
        if not self._confirm("Check the bucket", question):
            self._say(listed + more)
            return
        assert self._access is not None
        store = self._access.store

        def repair() -> list[str]:
            repairer = Repairer(store, collection)
            results = [repairer.repair(p, may_remove=True) for p in mendable]
            return [f"{r.problem.message} ({r.detail})" for r in results if not r.fixed]

        def repaired(result: Outcome[list[str]]) -> None:
            left = result.value or ([str(result.error)] if result.error else [])
            fixed = len(mendable) - len(left)
            self._say(f"Repaired {fixed} of {len(problems)}." + "".join(f"\n• {t}" for t in left))
            self.refresh()

        self._background.submit(repair, then=repaired)

    def shutdown(self) -> None:
        self.reading.shutdown()
        self._images.shutdown()
        self._background.shutdown()
        if self._catalogue is not None:
            self._catalogue.close()
