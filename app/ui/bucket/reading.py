"""Reading the bucket for the Bucket tab: a core Survey run on a worker of its own, its
news taken on a timer (a batch a tick, never a call per photo) and prepared on another
worker (the rows' search texts), then put into the model on the GUI thread; the rows
the grid paints are asked for first."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.catalogue import Catalogue, store_id
from app.core.survey import Survey, SurveyNews
from app.ui.background import Background, Outcome
from app.ui.bucket.access import BucketAccess
from app.ui.bucket.model import BucketModel
from app.ui.bucket.ordering import search_text

#: How often news is taken into the model: often enough that the grid fills as the
#: listing arrives, rarely enough that each batch is worth a repaint.
NEWS_INTERVAL_MS = 50
#: Rows taken a tick at most: each costs the GUI thread a few microseconds (its search
#: text), so a bucket opened from the catalogue (100,000 rows at once) comes in over a
#: couple of seconds instead of stalling the window for a third of one.
NEWS_ROWS = 3_000


class BucketReading(QObject):
    """One reading at a time of the current destination (a new `start` ends the last).

    Signals:
        progress(object): SurveyNews after each batch (counts, whether the listing is
            complete, errors).
        listing_done(): every key is listed (the photos are all in the grid).
        finished(object): SurveyNews of the end (done, or an error).
    """

    progress = Signal(object)
    listing_done = Signal()
    finished = Signal(object)

    def __init__(self, model: BucketModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._runner = Background(workers=1, name="bucket-survey")
        self._preparer = Background(workers=1, name="bucket-news")
        self._preparing = False
        self._survey: Survey | None = None
        self._said_listed = False
        self._finished = False
        self.started_at = 0.0
        self.listed_in = 0.0  # seconds from start to a complete listing
        self._timer = QTimer(self)
        self._timer.setInterval(NEWS_INTERVAL_MS)
        self._timer.timeout.connect(self._take_news)

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    @property
    def survey(self) -> Survey | None:
        return self._survey

    def start(self, access: BucketAccess, catalogue: Catalogue | None) -> None:
        """Read `access`'s destination (the model is emptied first)."""
        self.stop()
        destination = access.destination
        survey = Survey(
            access.store,
            destination.prefix,
            catalogue=catalogue,
            store_name=store_id(destination.endpoint_url, destination.bucket),
        )
        self._survey = survey
        self._said_listed = False
        self._finished = False
        self._preparing = False
        self.started_at = time.monotonic()
        self._model.clear()
        self._runner.submit(survey.run, then=self._ended(survey))
        self._timer.start()

    def stop(self) -> None:
        if self._survey is not None:
            self._survey.stop()
        self._timer.stop()

    def shutdown(self) -> None:
        self.stop()
        self._runner.shutdown()
        self._preparer.shutdown()

    def _ended(self, survey: Survey) -> Callable[[Outcome[None]], None]:
        def ended(_outcome: Outcome[None]) -> None:
            if survey is self._survey:
                self._take_news()  # the last of it (the timer takes whatever is left)

        return ended

    def _take_news(self) -> None:
        """Ask a worker for the next batch (one at a time)."""
        survey = self._survey
        if survey is None or self._finished or self._preparing:
            return
        self._preparing = True
        self._preparer.submit(prepare, survey, NEWS_ROWS, then=self._arrived(survey))

    def _arrived(self, survey: Survey) -> Callable[[Outcome[Prepared]], None]:
        def arrived(outcome: Outcome[Prepared]) -> None:
            self._preparing = False
            if survey is not self._survey or self._finished or outcome.value is None:
                return
            self._apply(survey, outcome.value)

        return arrived

    def _apply(self, survey: Survey, prepared: Prepared) -> None:
        news = prepared.news
        self._model.apply(news.rows, news.removed, prepared.texts)
        wanted = self._model.take_wanted_details()
        if wanted:
            survey.want(wanted)
        if news.listing_done and not self._said_listed:
            self._said_listed = True
            self.listed_in = time.monotonic() - self.started_at
            self.listing_done.emit()
        if news.done or news.error:
            self._timer.stop()
            self._finished = True
            self.finished.emit(news)
        else:
            self.progress.emit(news)


@dataclass(frozen=True, slots=True)
class Prepared:
    """News with what search looks in for each row (made on a worker)."""

    news: SurveyNews
    texts: list[str]


def prepare(survey: Survey, limit: int) -> Prepared:
    """Take a survey's news and make its rows' search texts (a worker's job: a few
    microseconds a row, 3,000 rows a tick)."""
    news = survey.take(limit=limit)
    return Prepared(news, [search_text(row) for row in news.rows])


def reading_status(news: SurveyNews, where: str) -> str:
    """What the status line says while the bucket is read."""
    if news.error:
        return f"The bucket could not be read: {news.error}"
    photos = "1 photo" if news.photos == 1 else f"{news.photos:,} photos"
    if not news.listing_done:
        return f"Listing the bucket: {photos} so far…"
    waiting = news.photos - news.detailed
    return f"{photos} in {where}; reading the details of {waiting:,} more…"
