"""checkSesAccount (prod, daily): fails while SES cannot carry Cognito's mail, so its errors alarm
tells the operator. SES's GetAccount is answered by a botocore Stubber in SES's own shapes."""

import pytest
from botocore.stub import Stubber

from handlers.mail import check

HEALTHY = {
    "DedicatedIpAutoWarmupEnabled": False,
    "EnforcementStatus": "HEALTHY",
    "ProductionAccessEnabled": True,
    "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 12.0},
    "SendingEnabled": True,
}


@pytest.fixture
def ses():
    check.ses.cache_clear()
    client = check.ses()
    with Stubber(client) as stubber:
        yield stubber
    stubber.assert_no_pending_responses()
    check.ses.cache_clear()


def test_a_healthy_account_passes(ses):
    ses.add_response("get_account", HEALTHY, {})

    assert check.handler({"time": "2030-01-01T00:00:00Z"}) == {
        "productionAccess": True,
        "max24HourSend": 50000.0,
    }


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            {
                "ProductionAccessEnabled": False,
                "SendQuota": {"Max24HourSend": 200.0, "MaxSendRate": 1.0},
            },
            "sandbox",
        ),
        ({"SendingEnabled": False}, "paused"),
        ({"EnforcementStatus": "PROBATION"}, "PROBATION"),
    ],
    ids=["sandbox", "sending paused", "under review"],
)
def test_an_account_that_cannot_send_at_scale_fails_the_run(ses, change, says):
    ses.add_response("get_account", {**HEALTHY, **change}, {})

    with pytest.raises(check.MailSendingAtRisk, match=says):
        check.handler({})
