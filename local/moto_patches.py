"""Every change this project makes to moto's internals, in one place, fenced by moto's version.

The local stack (local/aws.py) and the handler tests (tests/conftest.py) run the same moto
with the same patches. Each patch replaces private moto code (a method, a constructor, a
class's `__new__`), written against one moto release: another release may have moved or
rewritten what it replaces, and then every handler test would fail at once, or worse, pass
against a moto that no longer behaves like DynamoDB. So install() refuses any moto but the one
the patches were written for, naming each patch and what it replaces; upgrading moto means
reading each patch against the new release (its contract test in tests/ says what it must
keep doing), then changing MOTO_VERSION here.
"""

from dataclasses import dataclass
from importlib.metadata import version

# The moto release every patch below was written against (requirements-dev.txt pins it).
MOTO_VERSION = "5.2.1"


@dataclass(frozen=True)
class Patch:
    module: str  # under local/: its install() applies it
    replaces: str  # the moto internals it replaces
    test: str  # the contract test that says what it must keep doing


PATCHES = (
    Patch(
        "dynamodb_limits",
        "DynamoDBBackend.get_keys_value/query, Table._validate_key_sizes, "
        "LimitedSizeDict.__setitem__",
        "tests/local/test_dynamodb_limits.py",
    ),
    Patch(
        "transactions",
        "DynamoDBBackend.transact_write_items, DynamoHandler.transact_write_items",
        "tests/local/test_local_transactions.py",
    ),
    Patch(
        "stream_retention",
        "StreamShard.get, DynamoDBStreamsBackend.__init__",
        "tests/local/test_local_stream_retention.py",
    ),
    Patch("untracked", "BaseModel.__new__", "tests/local/test_local_stream_retention.py"),
    Patch(
        "serialization",
        "XFormedAttributePicker.__call__, responses.method_names_from_class",
        "tests/local/test_local_serialization.py",
    ),
    Patch(
        "mock_restart",
        "MockAWS._enable_patching, MockAWS._disable_patching",
        "tests/local/test_local_mock_restart.py",
    ),
    Patch(
        "mail",
        "SESV2Response.send_email, SESBackend.send_raw_email",
        "tests/local/test_local_mail.py",
    ),
)


class UnsupportedMoto(RuntimeError):
    pass


def check(installed: str | None = None) -> None:
    """UnsupportedMoto, naming every patch, unless the installed moto is MOTO_VERSION."""
    installed = installed or version("moto")
    if installed == MOTO_VERSION:
        return
    patches = "\n".join(f"  local/{p.module}.py replaces {p.replaces} ({p.test})" for p in PATCHES)
    raise UnsupportedMoto(
        f"moto {installed} is installed, but local/moto_patches.py's patches were written for "
        f"moto {MOTO_VERSION}:\n{patches}\nRead each against moto {installed}, run its test, "
        "then set MOTO_VERSION; or install moto==" + MOTO_VERSION + " (requirements-dev.txt)."
    )


def install() -> None:
    """Applies every patch (idempotent), after checking moto's version."""
    check()
    from local import (
        dynamodb_limits,
        mail,
        mock_restart,
        serialization,
        stream_retention,
        transactions,
        untracked,
    )

    dynamodb_limits.apply()  # refuse what DynamoDB refuses (sizes of keys and items)
    transactions.install()  # TransactWriteItems without table copies, tokens honoured
    stream_retention.install()  # stream records and iterators kept as long as DynamoDB does
    untracked.install()  # no list of every item moto ever made
    serialization.install()  # the same answers, each member's candidate names found once
    mock_restart.install()  # a new moto per test, its `requests` callbacks registered once
    mail.install()  # SES's refusals (size, headers, addresses) and each mail's time
