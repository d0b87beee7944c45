"""GET /admin/statistics: the club's counters, as the stream function keeps them (admins only;
docs/statistics.md says what each counts)."""

from api.admin import admin_handler
from api.http import Operation, Request
from counters.changes import statistics_of
from database.models import Statistics
from database.statistics import get_counters


def statistics(request: Request) -> dict:
    return statistics_of(get_counters())


handler = admin_handler(
    statistics,
    Operation("GET /admin/statistics", "The club's statistics (admins only)", response=Statistics),
)
