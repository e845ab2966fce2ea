"""The queue's filter and sort proxy."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel

from app.ui.badges import FilterCategory, category_of
from app.ui.queue_model import QueueModel, QueueRole

AnyIndex = QModelIndex | QPersistentModelIndex


class QueueFilterProxy(QSortFilterProxyModel):
    """Filters the queue by `FilterCategory` and sorts by each column's SORT_KEY.

    Sorting compares SORT_KEY values (ints and strings) in C++; only fetching them
    crosses into Python, from keys the model computed once per update. The model
    signals updates in runs of nearby rows, so a progress tick costs a linear
    order check over the rows it touched, not a re-sort.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._category = FilterCategory.ALL
        self._queue: QueueModel | None = None
        self.setSortRole(int(QueueRole.SORT_KEY))
        self.setDynamicSortFilter(True)

    @property
    def category(self) -> FilterCategory:
        return self._category

    def set_category(self, category: FilterCategory) -> None:
        if category is self._category:
            return
        self.beginFilterChange()
        self._category = category
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def setSourceModel(self, model: Any) -> None:
        self._queue = model if isinstance(model, QueueModel) else None
        super().setSourceModel(model)

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        if self._category is FilterCategory.ALL:
            return True
        if self._queue is not None:
            snap = self._queue.snapshot_at(source_row)
        else:
            model = self.sourceModel()
            snap = model.data(model.index(source_row, 0, source_parent), QueueRole.SNAPSHOT)
            if snap is None:
                return False
        return self._category in category_of(snap)

    def file_id_at(self, proxy_row: int) -> int | None:
        """The file id shown at `proxy_row` of this proxy."""
        value = self.data(self.index(proxy_row, 0), QueueRole.FILE_ID)
        return value if isinstance(value, int) else None
