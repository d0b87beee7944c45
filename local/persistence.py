"""What `make run` keeps across restarts: every table's items and the user pool, in one file.

LOCAL_DATA (default `.local/` in the checkout, git-ignored) holds `state.json`: the items of
each table (DynamoDB JSON), and the user pool: its id and its app client's id (so a saved
token's issuer and audience, and a frontend's config, stay valid), and each user with their
password, status and attributes (so sign-in works as before). moto signs every pool's tokens
with the same key, so tokens issued before a restart still verify after it. The file is
written on a clean stop and, while the stack runs, every SAVE_SECONDS when something changed,
so a crash loses at most that much; always whole (written aside, then renamed into place).
`make run FRESH=1` starts empty (and the file is replaced at the next save).

Kept too: the tokens moto issued, so a refresh token from before a restart still refreshes.
Not kept: what is in flight (stream records not yet delivered, scheduled runs), SRP sign-ins
half done, and the Discord stand-in's messages.
"""

import json
import logging
import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from moto.cognitoidp.models import CognitoIdpUser, cognitoidp_backends
from moto.dynamodb.models import dynamodb_backends

from local.aws import UserPool
from local.serverless import ACCOUNT_ID, REGION

log = logging.getLogger("local")

FILE = "state.json"
SAVE_SECONDS = 30.0
VERSION = 1


def directory(root: Path) -> Path:
    """Where the stack's data lives: LOCAL_DATA, else `.local/` under `root`."""
    return Path(os.environ.get("LOCAL_DATA") or root / ".local")


def snapshot(table_names: list[str], pool: UserPool) -> dict[str, Any]:
    """The tables' items and the pool's users, as JSON-ready data. Call it while moto serves no
    request (under its lock): it reads moto's state directly."""
    tables = dynamodb_backends[ACCOUNT_ID][REGION].tables
    moto_pool = cognitoidp_backends[ACCOUNT_ID][REGION].user_pools[pool.id]
    users = moto_pool.users.values()
    return {
        "version": VERSION,
        "tables": {
            name: [item.to_json()["Attributes"] for item in tables[name].all_items()]
            for name in table_names
            if name in tables
        },
        "userPool": {
            "id": pool.id,
            "clientId": pool.client_id,
            "users": [
                {
                    "id": user.id,
                    "username": user.username,
                    "password": user.password,
                    "status": user.status,
                    "enabled": user.enabled,
                    "attributes": user.attributes,
                    "created": user.create_date.isoformat(),
                    "modified": user.last_modified_date.isoformat(),
                }
                for user in users
            ],
            # The tokens moto gave (it answers GetUser and refreshes only for those).
            "tokens": {
                kind: getattr(moto_pool, kind)
                for kind in ("refresh_tokens", "access_tokens", "id_tokens")
            },
        },
    }


def write(folder: Path, state: dict[str, Any]) -> None:
    """`state` into `folder`/state.json, whole or not at all."""
    folder.mkdir(parents=True, exist_ok=True)
    aside = folder / f".{FILE}.{os.getpid()}"
    aside.write_text(json.dumps(state, separators=(",", ":")))
    os.replace(aside, folder / FILE)


def read(folder: Path) -> dict[str, Any] | None:
    """The kept state, or None if there is none (or it is from another version)."""
    try:
        state = json.loads((folder / FILE).read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        log.warning("%s is not readable: starting empty", folder / FILE)
        return None
    return state if state.get("version") == VERSION else None


def restore(state: dict[str, Any], pool: UserPool) -> tuple[UserPool, int, int]:
    """Puts the kept items into the (new, empty) tables and the kept users into the (new)
    pool, under the kept pool and client ids. Before moto serves any request. Returns the
    pool as renamed, and how many items and users were restored."""
    backend = dynamodb_backends[ACCOUNT_ID][REGION]
    items = 0
    for name, kept in state["tables"].items():
        if name not in backend.tables:
            continue  # a table serverless.yml no longer has
        table = backend.tables[name]
        refused = 0
        for attributes in kept:
            try:
                table.put_item(attributes)
                items += 1
            except Exception:  # the table's keys changed in serverless.yml since it was kept
                refused += 1
        if refused:
            log.warning("%s: %d kept items no longer fit the table, left out", name, refused)
        if table.stream_shard is not None:
            table.stream_shard.items.clear()  # not changes: nothing to notify
    kept_pool = state["userPool"]
    pool = _rename(pool, kept_pool["id"], kept_pool["clientId"])
    moto_pool = cognitoidp_backends[ACCOUNT_ID][REGION].user_pools[pool.id]
    users = moto_pool.users
    for kind, tokens in kept_pool.get("tokens", {}).items():
        getattr(moto_pool, kind).update(
            {token: tuple(value) if value else value for token, value in tokens.items()}
        )
    for kept_user in kept_pool["users"]:
        user = CognitoIdpUser(
            pool.id,
            kept_user["username"],
            kept_user["password"],
            kept_user["status"],
            kept_user["attributes"],
        )
        user.id = kept_user["id"]
        user.update_attributes([{"Name": "sub", "Value": user.id}])
        user.enabled = kept_user["enabled"]
        user.create_date = datetime.fromisoformat(kept_user["created"])
        user.last_modified_date = datetime.fromisoformat(kept_user["modified"])
        users[user.username] = user
    return pool, items, len(kept_pool["users"])


def _rename(pool: UserPool, pool_id: str, client_id: str) -> UserPool:
    """The new pool and its client under the kept ids (tokens name them: `iss`, `aud`)."""
    if (pool.id, pool.client_id) == (pool_id, client_id):
        return pool
    pools = cognitoidp_backends[ACCOUNT_ID][REGION].user_pools
    moto_pool = pools.pop(pool.id)
    moto_pool.id = pool_id
    moto_pool.arn = moto_pool.arn.rsplit("/", 1)[0] + "/" + pool_id
    pools[pool_id] = moto_pool
    client = moto_pool.clients.pop(pool.client_id)
    client.id, client.user_pool_id = client_id, pool_id
    moto_pool.clients[client_id] = client
    return replace(pool, id=pool_id, client_id=client_id)


class Keeper:
    """Saves the stack's state into `folder`: every SAVE_SECONDS while something changed, and
    once more on stop()."""

    def __init__(
        self,
        folder: Path,
        table_names: list[str],
        pool: UserPool,
        moto_idle: Callable[[], AbstractContextManager],
        changes: Callable[[], int],
        interval: float = SAVE_SECONDS,
    ):
        self.folder = folder
        self.table_names = table_names
        self.pool = pool
        self.moto_idle = moto_idle  # a context in which moto serves no request (its lock)
        self.changes = changes  # a count of moto's requests that may have changed something
        self.interval = interval
        self.saved = -1
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="keeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def save(self) -> None:
        changes = self.changes()
        if changes == self.saved:
            return
        with self.moto_idle():
            state = snapshot(self.table_names, self.pool)
        write(self.folder, state)
        self.saved = changes

    def stop(self) -> None:
        """Stops the periodic saves, then saves what is there now."""
        self._stopping.set()
        self._thread.join()
        self.save()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.save()
            except Exception:  # a full disk must not stop the stack: said, tried again later
                log.exception("Saving the local data in %s failed", self.folder)
