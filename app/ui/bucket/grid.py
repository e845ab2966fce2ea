"""The Bucket tab's view: the model's entries as a grid of cells (as many columns as fit
the width), or as a list (one column). A QTableView, whose cells are placed by
arithmetic (see app.ui.bucket.model); headers hidden, every row and column one size."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyle,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from app.core.collection import Photo
from app.ui.bucket.delegate import GRID_CELL, LIST_ROW, BucketDelegate
from app.ui.bucket.model import BucketModel


class PhotoGrid(QTableView):
    def __init__(self, model: BucketModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self.setModel(model)
        self.delegate = BucketDelegate(model, self)
        self.setItemDelegate(self.delegate)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTabKeyNavigation(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.hide()
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setMinimumSectionSize(1)
        self.setAccessibleName("Photos in the bucket")
        self.set_grid(True)

    @property
    def grid(self) -> bool:
        return self.delegate.grid

    def set_grid(self, grid: bool) -> None:
        """A grid of thumbnails, or a list of rows."""
        self.delegate.grid = grid
        self.verticalHeader().setDefaultSectionSize(GRID_CELL.height() if grid else LIST_ROW)
        self.verticalScrollBar().setSingleStep(GRID_CELL.height() // 4 if grid else LIST_ROW)
        self.fit_columns()

    def fit_columns(self) -> None:
        """As many columns as fit the width (one in the list), keeping the selection and
        the photo at the top."""
        width = max(1, self.viewport().width())
        columns = max(1, width // GRID_CELL.width()) if self.grid else 1
        cell = width // columns
        if columns != self._model.columns:
            self.keeping_place(lambda: self._model.set_columns(columns))
        if self.horizontalHeader().defaultSectionSize() != cell:
            self.horizontalHeader().setDefaultSectionSize(cell)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_columns()

    def paintEvent(self, event: QPaintEvent) -> None:
        """Every visible cell in one call from Qt into Python. QTableView's own painting
        calls into Python twice a cell (index() and the delegate), each call taking the
        GIL: while the survey's threads run Python, each take waits its turn, and a
        page of 40 cells waited 100 ms and more (bench/ui_lag.py --stall-stacks)."""
        model = self._model
        rows, columns = model.rowCount(), model.columns
        if not rows:
            return
        area = event.rect()
        first = max(0, self.rowAt(area.top()))
        last = self.rowAt(area.bottom())
        last = rows - 1 if last < 0 else last
        option = QStyleOptionViewItem()
        self.initViewItemOption(option)
        base = option.state & ~(QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_HasFocus)
        selection = self.selectionModel()
        current = self.currentIndex()
        focused = self.hasFocus()
        painter = QPainter(self.viewport())
        try:
            for row in range(first, last + 1):
                for column in range(columns):
                    index = model.index(row, column)
                    if not index.isValid():
                        continue
                    option.rect = self.visualRect(index)
                    state = base
                    if selection.isSelected(index):
                        state |= QStyle.StateFlag.State_Selected
                    if focused and index == current:
                        state |= QStyle.StateFlag.State_HasFocus
                    option.state = state
                    self.delegate.paint(painter, option, index)
        finally:
            painter.end()

    # -- positions (entries in flow order) ----------------------------------------------

    def selected_positions(self) -> list[int]:
        return self._model.positions_in(self.selectionModel().selection())

    def selected_photos(self) -> list[Photo]:
        photos = (self._model.photo_at(p) for p in self.selected_positions())
        return [photo for photo in photos if photo is not None]

    def select_positions(self, positions: list[int], *, current: int | None = None) -> None:
        selection = self._model.selection_of(positions)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.selectionModel().select(selection, flags)
        if current is not None:
            self.selectionModel().setCurrentIndex(
                self._model.index_of(current), QItemSelectionModel.SelectionFlag.NoUpdate
            )

    def top_photo(self) -> Photo | None:
        position = self._model.position(self.indexAt(QPoint(4, 4)))
        return self._model.photo_at(position) if position is not None else None

    def scroll_to_position(self, position: int) -> None:
        self.scrollTo(self._model.index_of(position), QAbstractItemView.ScrollHint.PositionAtTop)

    def keeping_place(self, change: Callable[[], None]) -> None:
        """Make a change that resets the model, keeping the selected photos selected and
        the photo at the top of the view at the top."""
        model = self._model
        selected = [p.key for p in self.selected_photos()]
        current = model.position(self.currentIndex())
        current_photo = model.photo_at(current) if current is not None else None
        top = self.top_photo()
        change()
        if not selected and top is None and current_photo is None:
            return
        where = model.positions_of([*selected, *(p.key for p in (top, current_photo) if p)])
        kept = [where[key] for key in selected if key in where]
        current_at = where.get(current_photo.key) if current_photo is not None else None
        if kept or current_at is not None:
            self.select_positions(kept, current=current_at)
        if top is not None and top.key in where:
            self.scroll_to_position(where[top.key])
