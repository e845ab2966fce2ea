"""What the Bucket tab does with the selected photos: share a link, save one, download
several into a folder, open one in the desktop's viewer, edit their item, delete them.

Each asks on the GUI thread and does its work in core (app.core.sharing, downloads,
itemedits, removal) on the page's Background; what became of it is said in one line.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Protocol

from PySide6.QtCore import QObject, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QWidget

from app.core.collection import Photo
from app.core.downloads import Downloaded, download_new
from app.core.itemedits import EditingStore, set_item
from app.core.removal import (
    VERSIONING_CAUTION,
    Removal,
    describe_removals,
    plan_removals_of,
    remove,
)
from app.core.sharing import EXPIRY_CHOICES, ShareLink, make_share_link
from app.core.survey import Survey
from app.ui.background import Background, Outcome
from app.ui.bucket.access import BucketAccess
from app.ui.item_dialog import ItemDialog


class ActionHost(Protocol):
    """What the actions need from the page."""

    def access(self) -> BucketAccess | None: ...
    def survey(self) -> Survey | None: ...
    def selected_photos(self) -> list[Photo]: ...
    def say(self, text: str) -> None: ...
    def photo_changed(self, photo: Photo) -> None: ...
    def photos_removed(self, keys: Sequence[str]) -> None: ...


class BucketActions(QObject):
    """`confirm(title, text)`, `choose_save_path(name)`, `choose_folder()` and
    `open_url(url)` ask the collector or the desktop (dialogs by default; tests pass
    their own)."""

    def __init__(
        self,
        host: ActionHost,
        window: QWidget,
        *,
        confirm: Callable[[str, str], bool],
        choose_save_path: Callable[[str], str],
        choose_folder: Callable[[], str],
        open_url: Callable[[QUrl], object] = QDesktopServices.openUrl,
    ) -> None:
        super().__init__(window)
        self._host = host
        self._window = window
        self._confirm = confirm
        self._choose_save_path = choose_save_path
        self._choose_folder = choose_folder
        self._open_url = open_url
        self._background = Background(workers=2, name="bucket-actions")
        self._open_folder: Path | None = None  # where opened originals go (made once)
        self.downloading = False
        self.last_link: ShareLink | None = None
        self.last_opened: Path | None = None
        self.item_dialog: ItemDialog | None = None  # the last one opened (for tests)

    def shutdown(self) -> None:
        if self._open_folder is not None:  # opened originals: a viewer may still show one
            self._background.submit(shutil.rmtree, self._open_folder, True, then=_ignore)
        self._background.shutdown(drop_queued=False)

    # -- one photo ------------------------------------------------------------------

    def share(self, expiry: str) -> None:
        photos, access = self._host.selected_photos(), self._host.access()
        if len(photos) != 1 or access is None:
            return
        photo, store, local = photos[0], access.store, access.local
        seconds = EXPIRY_CHOICES[expiry]

        def sign() -> ShareLink:
            return make_share_link(
                store, photo.key, seconds, local_bucket=local, sidecar_has_gps=photo.has_gps
            )

        def done(outcome: Outcome[ShareLink]) -> None:
            try:
                link = outcome.get()
            except Exception as exc:
                self._host.say(f"No link could be made: {exc}")
                return
            self.last_link = link
            QGuiApplication.clipboard().setText(link.url)
            self._host.say("Link copied. " + " ".join(link.cautions))

        self._background.submit(sign, then=done)

    def save_as(self) -> None:
        photos, access = self._host.selected_photos(), self._host.access()
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
                self._host.say(f"{key} could not be saved: {exc}")
                return
            said = f"Saved to {target}." if found else f"{key} is no longer in the bucket."
            self._host.say(said)

        self._background.submit(access.store.download_to, key, Path(target), then=done)

    def open_original(self) -> None:
        """Download the original to a folder of ours, then hand it to the desktop."""
        photos, access = self._host.selected_photos(), self._host.access()
        if len(photos) != 1 or access is None:
            return
        key, store, folder = photos[0].key, access.store, self._open_folder
        self._host.say(f"Opening {PurePosixPath(key).name}…")

        def fetch() -> tuple[Path, Downloaded]:
            where = folder or Path(tempfile.mkdtemp(prefix="photo-uploader-open-"))
            return where, download_new(store, key, where)

        def done(outcome: Outcome[tuple[Path, Downloaded]]) -> None:
            try:
                where, downloaded = outcome.get()
            except Exception as exc:
                self._host.say(f"{key} could not be opened: {exc}")
                return
            self._open_folder = where
            self.last_opened = downloaded.path
            if self._open_url(QUrl.fromLocalFile(str(downloaded.path))) is False:
                self._host.say(f"No viewer opened it; it is in {downloaded.path}.")
            else:
                self._host.say(f"Opened {downloaded.path.name} (a copy in {where}).")

        self._background.submit(fetch, then=done)

    # -- several --------------------------------------------------------------------

    def download_selected(self) -> None:
        """Each selected original into a folder the collector chooses, one after another;
        a name already taken there gets another, nothing is overwritten."""
        photos, access = self._host.selected_photos(), self._host.access()
        if not photos or access is None or self.downloading:
            return
        chosen = self._choose_folder()
        if not chosen:
            return
        folder, store = Path(chosen), access.store
        done: list[Downloaded] = []
        failed: list[str] = []
        self.downloading = True

        def next_one() -> None:
            position = len(done) + len(failed)
            if position == len(photos):
                self.downloading = False
                self._host.say(_downloaded(done, failed, folder))
                return
            photo = photos[position]
            name = PurePosixPath(photo.key).name
            self._host.say(f"Downloading {position + 1:,} of {len(photos):,}: {name}…")
            self._background.submit(download_new, store, photo.key, folder, then=arrived)

        def arrived(outcome: Outcome[Downloaded]) -> None:
            try:
                done.append(outcome.get())
            except Exception as exc:
                failed.append(f"{photos[len(done) + len(failed)].key}: {exc}")
            next_one()

        next_one()

    def edit_item(self) -> None:
        """The item dialog (the queue's) for the selected photos; on OK their sidecars
        are rewritten with the fields changed."""
        photos, access = self._host.selected_photos(), self._host.access()
        photos = [p for p in photos if p.ours and p.detailed]
        if not photos or access is None:
            self._host.say("Select photos uploaded by Photo Uploader to edit their item.")
            return
        dialog = ItemDialog([p.item for p in photos], len(photos), self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        store = access.store
        dialog.edited.connect(lambda changes: self._save_items(store, photos, changes))
        self.item_dialog = dialog
        dialog.open()

    def _save_items(
        self, store: EditingStore, photos: Sequence[Photo], changes: dict[str, object]
    ) -> None:
        self._host.say(f"Saving the item of {len(photos):,} photo(s)…")

        def save_all() -> tuple[list[Photo], list[str]]:
            saved: list[Photo] = []
            failures: list[str] = []
            for photo in photos:
                try:
                    saved.append(set_item(store, photo, changes))
                except Exception as exc:
                    failures.append(str(exc))
            return saved, failures

        def done(outcome: Outcome[tuple[list[Photo], list[str]]]) -> None:
            try:
                saved, failures = outcome.get()
            except Exception as exc:
                self._host.say(f"The item could not be saved: {exc}")
                return
            for photo in saved:
                self._host.photo_changed(photo)
            said = f"Item saved for {len(saved):,} photo{'s' if len(saved) != 1 else ''}."
            self._host.say(said + "".join(f"\n• {text}" for text in failures))

        self._background.submit(save_all, then=done)

    def delete(self) -> None:
        photos, access, survey = (
            self._host.selected_photos(),
            self._host.access(),
            self._host.survey(),
        )
        if not photos or access is None or survey is None:
            return
        prefix, store = access.destination.prefix, access.store

        def plan() -> tuple[list[Removal], bool | None]:
            removals, _unknown = plan_removals_of(store, survey.listing(), prefix, photos)
            return removals, store.versioning_on()

        self._host.say("Looking at what belongs to them…")
        self._background.submit(plan, then=self._confirm_delete)

    def _confirm_delete(self, outcome: Outcome[tuple[list[Removal], bool | None]]) -> None:
        try:
            removals, versioned = outcome.get()
        except Exception as exc:
            self._host.say(f"Nothing deleted: {exc}")
            return
        access = self._host.access()
        if access is None or not removals:
            self._host.say("")
            return
        store = access.store
        names = ", ".join(PurePosixPath(r.key).name for r in removals[:5])
        more = f" and {len(removals) - 5} more" if len(removals) > 5 else ""
        text = f"{describe_removals(removals)}\n\n{names}{more}"
        if versioned:
            text += f"\n\n{VERSIONING_CAUTION}"
        if not self._confirm("Delete photos", text):
            self._host.say("")
            return
        self._host.say("Deleting…")

        def delete_all() -> tuple[list[str], list[str]]:
            gone: list[str] = []
            failures: list[str] = []
            for removal in removals:
                try:
                    remove(store, removal)
                except Exception as exc:
                    failures.append(f"{removal.key}: {exc}")
                else:
                    gone.append(removal.key)
            return gone, failures

        def deleted(outcome: Outcome[tuple[list[str], list[str]]]) -> None:
            gone, failures = outcome.value or ([], [])
            if outcome.error is not None:
                failures = [str(outcome.error)]
            said = f"Deleted {len(gone)} photo{'s' if len(gone) != 1 else ''}."
            self._host.say(said + ("" if not failures else " Not deleted: " + "; ".join(failures)))
            self._host.photos_removed(gone)  # (the grid keeps its place; no reread)

        self._background.submit(delete_all, then=deleted)


def _downloaded(done: Sequence[Downloaded], failed: Sequence[str], folder: Path) -> str:
    """The one line a finished download says."""
    noun = "photo" if len(done) == 1 else "photos"
    said = f"Downloaded {len(done):,} {noun} to {folder}."
    renamed = [d for d in done if d.renamed]
    if renamed:
        names = ", ".join(f"{PurePosixPath(d.key).name} as {d.path.name}" for d in renamed[:3])
        more = f" and {len(renamed) - 3} more" if len(renamed) > 3 else ""
        said += f" Names already there were kept: saved {names}{more}."
    if failed:
        said += f" Not downloaded ({len(failed)}): " + "; ".join(failed[:3])
    return said


def _ignore(_outcome: Outcome[object]) -> None:
    pass
