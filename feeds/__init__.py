"""Calendar feeds' iCalendar writer (docs/calendar-feed.md): shipped with getCalendarFeed only,
with the `icalendar` package (a layer: layers/icalendar.txt), which only `feeds.ics` loads.

Here, what a poll compares without loading it: the feed's ETag."""

import hashlib

# Raised when what a feed is made of changes without a version's change (this code's output).
FORMAT = "1"


def etag(owner: str, version: int, day: str) -> str:
    """The ETag of `owner`'s feed at feed version `version` (database/feed_version.py) on the
    UTC day `day`: the day, because time alone changes a feed (events leave it 30 days after
    their start), and so that every feed is read in full at least once a day whatever
    happens."""
    text = "|".join((FORMAT, owner, str(version), day))
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
