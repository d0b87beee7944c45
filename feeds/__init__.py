"""Calendar feeds' iCalendar writer (docs/calendar-feed.md): shipped with getCalendarFeed only,
with the `icalendar` package (a layer: layers/icalendar.txt)."""
