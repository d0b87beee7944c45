"""extendSeries: daily (EventBridge), makes every occurrence of the repeating availabilities
that starts within 28 days of now exist (database.series). "Now" is the scheduled event's
`time`, so a late or repeated run, or `POST /_local/schedule/extendSeries` with any time, does
exactly what a run at that time does; runs at once create nothing twice. One series' failure
is logged and left for the next run."""

from datetime import datetime
from typing import Any

from api.log import logger
from database import series
from database.errors import DataError


def extend_all(at: datetime) -> dict:
    done = {"series": 0, "created": 0, "deferred": 0}
    for due in series.due(at):
        try:
            done["created"] += series.extend(due, at)
            done["series"] += 1
        except DataError as error:
            logger.warning("Series not extended", series_id=due.id, detail=error.detail)
            done["deferred"] += 1
    logger.info(
        "Series extended",
        at=at.isoformat(),
        series_extended=done["series"],
        occurrences_created=done["created"],
        series_deferred=done["deferred"],
    )
    return done


def handler(event: dict, context: Any) -> dict:
    at = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    return extend_all(at)
