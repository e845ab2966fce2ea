"""The queue as the collector sees it: the table (its columns from app.ui.columns) and
the filter buttons above it."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QStyledItemDelegate,
    QTableView,
    QWidget,
)

from app.ui.badges import FilterCategory
from app.ui.columns import COLUMNS, Column, Painter
from app.ui.delegates import BadgeDelegate, PreviewDelegate, StatusDelegate, TwoLineDelegate
from app.ui.queue_model import QueueModel, QueueRole
from app.ui.queue_proxy import QueueFilterProxy

ROW_HEIGHT = 44
PREVIEW_SIDE = 40
MIN_NAME = 140  # the name gives way down to this much before the message does
MIN_MESSAGE = 200  # what the message keeps before the name stops giving way
FILTER_SHORTCUTS = {
    FilterCategory.ALL: "Alt+1",
    FilterCategory.IN_PROGRESS: "Alt+2",
    FilterCategory.FAILED: "Alt+3",
    FilterCategory.DONE: "Alt+4",
    FilterCategory.NOT_SENT: "Alt+5",
}


class QueueView(QTableView):
    """The queue's table over a filter/sort proxy: one row per file, a badge delegate per
    badge column, the widths and painters of app.ui.columns."""

    def __init__(self, proxy: QueueFilterProxy, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.proxy = proxy
        self.setObjectName("queue")
        self.setAccessibleName("Upload queue")
        self.setModel(proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.setIconSize(QSize(PREVIEW_SIDE, PREVIEW_SIDE))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        # The message (the last column) takes the width the others leave, and the name
        # gives way before it (fit_columns): no horizontal scroll bar hides the reason a
        # file failed, but in a window narrower than any collector's screen.
        header = self.horizontalHeader()
        header.setAccessibleName("Columns: click one to sort by it")
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        for column, spec in zip(Column, COLUMNS, strict=True):
            delegate = self._delegate_for(spec.painter)
            if delegate is not None:
                self.setItemDelegateForColumn(column, delegate)
            if column != Column.MESSAGE:
                self.setColumnWidth(column, spec.width)
        self.setColumnHidden(Column.BUCKET, True)
        self._name_wanted = COLUMNS[Column.NAME].width  # as the collector last set it
        self._fitting = False
        header.sectionResized.connect(self._on_section_resized)

    def show_buckets(self, shown: bool) -> None:
        """Show the Bucket column (files of more than one bucket in the queue)."""
        if self.isColumnHidden(Column.BUCKET) == shown:
            self.setColumnHidden(Column.BUCKET, not shown)
            self.fit_columns()

    def fit_columns(self) -> None:
        """The name as wide as the collector made it, unless the message would get less
        than MIN_MESSAGE: then the name gives way, down to MIN_NAME."""
        others = sum(
            self.columnWidth(c)
            for c in Column
            if c not in (Column.NAME, Column.MESSAGE) and not self.isColumnHidden(c)
        )
        room = self.viewport().width() - others - MIN_MESSAGE
        width = max(MIN_NAME, min(self._name_wanted, room))
        if width != self.columnWidth(Column.NAME):
            self._fitting = True
            try:
                self.setColumnWidth(Column.NAME, width)
            finally:
                self._fitting = False

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_columns()

    def _on_section_resized(self, column: int, _old: int, new: int) -> None:
        if column == Column.NAME and not self._fitting:
            self._name_wanted = new  # the collector's choice (or a restored layout)

    def _delegate_for(self, painter: Painter) -> QStyledItemDelegate | None:
        if painter is Painter.PREVIEW:
            return PreviewDelegate(PREVIEW_SIDE, self)
        if painter is Painter.STATUS_BADGE:
            return StatusDelegate(self)
        if painter is Painter.THUMBNAIL_BADGE:
            return BadgeDelegate(QueueRole.THUMBNAIL_BADGE, self)
        if painter is Painter.MESSAGE:
            return TwoLineDelegate(self)
        if painter is Painter.NAME:
            return TwoLineDelegate(self, elide=Qt.TextElideMode.ElideMiddle)
        return None

    def selected_file_ids(self) -> list[int]:
        rows = self.selectionModel().selectedRows()
        ids = [self.proxy.file_id_at(index.row()) for index in rows]
        return [i for i in ids if i is not None]

    def current_file_id(self) -> int | None:
        """The file of the current row, if that row is selected."""
        index = self.currentIndex()
        if not index.isValid():
            return None
        if not self.selectionModel().isRowSelected(index.row(), QModelIndex()):
            return None
        return self.proxy.file_id_at(index.row())


class FilterBar(QWidget):
    """All / In progress / Failed / Done / Skipped, with their counts (Alt+1 to Alt+5).

    Signals:
        chosen(FilterCategory): the collector picked a filter.
    """

    chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buttons = QButtonGroup(self)
        self.buttons.setExclusive(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self._button_for: dict[FilterCategory, QPushButton] = {}
        for category in FilterCategory:
            button = QPushButton(category.label)
            button.setCheckable(True)
            button.setAccessibleName(f"Show {category.label.lower()} files")
            button.setToolTip(f"Show {category.label.lower()} files ({FILTER_SHORTCUTS[category]})")
            button.setShortcut(QKeySequence(FILTER_SHORTCUTS[category]))
            self.buttons.addButton(button)
            self._button_for[category] = button
            button.clicked.connect(lambda _=False, c=category: self.chosen.emit(c))
            layout.addWidget(button)
        self._button_for[FilterCategory.ALL].setChecked(True)
        layout.addStretch(1)

    def button(self, category: FilterCategory) -> QPushButton:
        return self._button_for[category]

    def check(self, category: FilterCategory) -> None:
        self._button_for[category].setChecked(True)

    def show_counts(self, model: QueueModel) -> None:
        for category, button in self._button_for.items():
            core = category.core
            count = model.rowCount() if core is None else model.category_count(core)
            button.setText(f"{category.label} ({count})")
            button.setAccessibleDescription(f"{count} {'file' if count == 1 else 'files'}")
