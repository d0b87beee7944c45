"""snapshotLeaderboards (EventBridge, 00:00 UTC on the 1st of each month): closes the month that
ended, and on 1 January the year: every current leaderboard is copied to its snapshot and
emptied, then every player's scores are reset in the club bot's MongoDB.

"Now" is the scheduled event's `time`, so the job can be run for any instant. A re-run is safe:
a snapshot that exists is never overwritten (nor its current leaderboard emptied again), and the
reset of a month is done once (a stored marker). If MongoDB fails, the invocation fails after the
snapshots are made; EventBridge's retry of it redoes only the reset.
"""

from typing import Any

from api.log import logger
from database import tournaments
from database.times import now, parse_time
from tournaments import mongo, secret


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    at = parse_time(event["time"]) if event.get("time") else now()
    periods = tournaments.closed_by(at)
    month = periods[tournaments.MONTHLY]
    logger.append_keys(job="snapshotLeaderboards", month=month)
    try:
        made = tournaments.snapshot_leaderboards(periods)
        logger.info("Leaderboards snapshot", snapshots=len(made))
        if tournaments.reset_done(month):
            logger.info("Scores were reset for this month already")
            return {"snapshots": made, "reset": "done before"}
        matched = mongo.reset_scores(secret.mongo_connection_string())
        tournaments.record_reset(month, now())
        logger.info("Scores reset", matched=matched)
        return {"snapshots": made, "reset": matched}
    finally:
        logger.remove_keys(["job", "month"])
