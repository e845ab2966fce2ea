"""Edit item: which item (a coin, a book, a stamp) the selected photos show, and how.

For several photos at once, a field they do not agree on starts empty and is left as
each photo has it unless the collector types into it; only the fields touched are sent.
Opened with open(), never exec() (see app.ui.window).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.core.models import ITEM_FIELDS, Item

VIEWS = ("obverse", "reverse", "edge", "cover", "spine", "back cover", "title page", "detail")
SEVERAL = "several values: left as they are unless you type here"
_TEXT_FIELDS = tuple(name for name in ITEM_FIELDS if name != "primary")


class ItemDialog(QDialog):
    """Signals:
    edited(dict): the fields changed, by name (app.core.models.ITEM_FIELDS), on OK.
    """

    edited = Signal(dict)

    def __init__(
        self, items: Sequence[Item | None], photos: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("itemDialog")
        self.setWindowTitle("Edit item")
        known = [item or Item() for item in items] or [Item()]
        which = "this photo belongs to" if photos == 1 else f"these {photos} photos belong to"
        intro = QLabel(
            f"The item {which}. Photos already in the bucket get their metadata file "
            "rewritten; their keys stay as they are."
        )
        intro.setWordWrap(True)

        self._edits: dict[str, QLineEdit] = {}
        self._start: dict[str, str] = {}
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        labels = {"id": "Item &ID:", "title": "&Title:", "view": "&View:", "notes": "&Notes:"}
        hints = {
            "id": "e.g. coin-1907 or the book's catalogue number",
            "title": "e.g. Morgan dollar, 1921",
            "view": "e.g. obverse, reverse, cover, spine",
            "notes": "anything worth keeping with the photo",
        }
        for name in _TEXT_FIELDS:
            values = {getattr(item, name) or "" for item in known}
            edit = self._view_box() if name == "view" else QLineEdit()
            line = edit.lineEdit() if isinstance(edit, QComboBox) else edit
            assert line is not None
            line.setObjectName(f"item_{name}")
            line.setAccessibleName(labels[name].replace("&", "").rstrip(":"))
            line.setPlaceholderText(SEVERAL if len(values) > 1 else hints[name])
            line.setText(values.pop() if len(values) == 1 else "")
            self._edits[name] = line
            self._start[name] = line.text()
            label = QLabel(labels[name])
            label.setBuddy(edit)
            form.addRow(label, edit)

        self.primary_check = QCheckBox("&Primary photo of its item (shown first)")
        self.primary_check.setObjectName("item_primary")
        self.primary_check.setAccessibleName("Primary photo of its item")
        primaries = {item.primary for item in known}
        if len(primaries) > 1:
            self.primary_check.setTristate(True)
            self.primary_check.setCheckState(Qt.CheckState.PartiallyChecked)
            self.primary_check.setToolTip("Some are primary, some not: left as they are")
        else:
            self.primary_check.setChecked(primaries.pop())
        self._primary_start = self.primary_check.checkState()
        form.addRow(self.primary_check)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.resize(480, self.sizeHint().height())

    @staticmethod
    def _view_box() -> QComboBox:
        box = QComboBox()
        box.setEditable(True)
        box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        box.addItems(VIEWS)
        box.setCurrentIndex(-1)
        return box

    def field(self, name: str) -> QLineEdit:
        return self._edits[name]

    def changes(self) -> dict[str, object]:
        """The fields the collector changed; a field cleared means none."""
        changed: dict[str, object] = {
            name: edit.text().strip()
            for name, edit in self._edits.items()
            if edit.text() != self._start[name]
        }
        state = self.primary_check.checkState()
        if state != self._primary_start and state != Qt.CheckState.PartiallyChecked:
            changed["primary"] = state == Qt.CheckState.Checked
        return changed

    def accept(self) -> None:
        changes = self.changes()
        super().accept()
        if changes:
            self.edited.emit(changes)
