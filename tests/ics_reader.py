"""An iCalendar reader independent of the `icalendar` package, as a second calendar client
would read a feed: RFC 5545 3.1 (CRLF content lines of at most 75 octets, unfolding) and
3.3.11 (TEXT escapes), nothing else. Used by the feed's handler tests and its make run test."""

import re


def unfold(text: bytes) -> list[str]:
    """Content lines: each ends with CRLF, none longer than 75 octets, folds removed."""
    assert text.endswith(b"\r\n")
    physical = text[:-2].split(b"\r\n")
    assert all(b"\n" not in line and b"\r" not in line for line in physical)
    assert all(len(line) <= 75 for line in physical), max(physical, key=len)
    joined = b"\r\n".join(physical).replace(b"\r\n ", b"").replace(b"\r\n\t", b"")
    return [line.decode("utf-8") for line in joined.split(b"\r\n")]  # a split character fails


def unescape(value: str) -> str:
    escapes = {"\\\\": "\\", "\\;": ";", "\\,": ",", "\\n": "\n", "\\N": "\n"}
    return re.sub(r"\\[\\;,nN]", lambda m: escapes[m.group()], value)


def simple_events(text: bytes) -> dict[str, dict[str, str]]:
    events, current = {}, None
    for line in unfold(text):
        name, _, value = line.partition(":")  # no parameters in this feed's properties
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            assert current is not None
            events[current["UID"]] = current
            current = None
        elif current is not None:
            current[name] = (
                unescape(value) if name in ("SUMMARY", "LOCATION", "DESCRIPTION") else value
            )
    return events
