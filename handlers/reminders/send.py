"""sendReminders: every minute (EventBridge), sends the reminders due by the scheduled event's
`time` (contract v4, "Reminders"): a Discord direct message and an email each, exactly once
(notifications/remind.py). "Now" is the event's time, so a late or repeated run, or `POST
/_local/schedule/sendReminders` with any time, does what a run at that time does; runs at once
send nothing twice. A reminder still unsent at its meeting's start is dropped and counted in
the RemindersDropped metric (EMF, alarmed on prod: config/plugins/operations.js).
"""

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from api.log import logger
from api.secrets import SecretUnavailable, stage_secret
from notifications.discord import Discord
from notifications.remind import Reminders, Settings

settings = Settings.from_environment()
TOKEN_KEY = "discordAuth"  # as notify's: the key in the stage's Discord secret
# No new reminder is started with less time left than one slow send may take (3 Discord calls
# of 2 attempts of 2 s + 5 s each, or an SES send): it waits for the next run.
RESERVE_MS = 50_000
metrics = Metrics(namespace="dojo-scheduler", service="sendReminders")


def _token() -> str:
    token = stage_secret(settings.secret_name).get(TOKEN_KEY)
    if not token:  # as an unreadable secret: this send is tried again next run
        raise SecretUnavailable(f"secret {settings.secret_name} holds no {TOKEN_KEY}")
    return str(token)


# Each call bounded tighter than notify's (2 attempts of 2 s connect + 5 s read, rate-limit
# waits up to 2 s): the next run is a minute away.
discord = Discord(_token, settings.api_url, attempts=2, max_wait=2.0, timeout=(2.0, 5.0))
reminders = Reminders(settings, discord if settings.secret_name else None)


@metrics.log_metrics
def handler(event: dict, context: Any) -> dict:
    at = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    run = reminders.run(at, lambda: remaining is None or remaining() >= RESERVE_MS)
    # Every run reports it, 0 included: the alarm's metric has a datapoint each minute.
    metrics.add_metric(name="RemindersDropped", unit=MetricUnit.Count, value=run.late)
    logger.info("Reminders sent", at=at.isoformat(), **run.as_dict())
    return run.as_dict()
