"""MongoDB for `make run` with TOURNAMENTS=1: the club bot's database that the monthly job resets.

With MONGO_URL set, that real server. Otherwise a stand-in in this process: mongomock (pymongo's
API over in-memory collections) behind a small server that speaks MongoDB's wire protocol
(OP_MSG, and OP_QUERY for the handshake) on 127.0.0.1, so the snapshotLeaderboards function, in
its own process, runs the real pymongo code it runs on AWS against a `mongodb://` connection
string. It answers the commands pymongo sends for what this backend and its control routes do:
the handshake and monitoring (hello, isMaster, ping, buildInfo, endSessions), insert, update,
delete and find (one batch).

Control routes, either way, through pymongo's API (a real client for MONGO_URL, mongomock's for
the stand-in):
    PUT /_local/mongo/{database}/{collection}   body: a document or a list of them: inserted
    GET /_local/mongo/{database}/{collection}   {"documents": [...]} (`_id` as a string)
    PUT /_local/mongo/_outage                   {"down": true|false}: the stand-in refuses
                                                connections (a server that is down)
"""

import itertools
import json
import logging
import socket
import socketserver
import struct
import threading
from datetime import UTC, datetime

import bson
import mongomock
import pymongo
from bson import json_util

from local.events import HttpRequest, HttpResponse, json_body, json_response

log = logging.getLogger("local")

PATH = "/_local/mongo"
OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013
CHECKSUM_PRESENT, MORE_TO_COME = 1, 2
MAX_MESSAGE = 48_000_000
_HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode


class WireServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class MongoStandIn:
    """mongomock's collections served over MongoDB's wire protocol on 127.0.0.1:`port`."""

    def __init__(self, port: int = 0):
        self.client = mongomock.MongoClient()
        self.down = False
        self._lock = threading.Lock()  # mongomock is not thread-safe: one command at a time
        self._ids = itertools.count(1)
        stand_in = self

        class Connection(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                stand_in._serve(self.request)

        self._server = WireServer(("127.0.0.1", port), Connection)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"mongodb://127.0.0.1:{port}/?directConnection=true"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- the wire protocol ---

    def _serve(self, connection: socket.socket) -> None:
        connection_id = next(self._ids)
        while not self.down:
            try:
                header = _read(connection, _HEADER.size)
                length, request_id, _, opcode = _HEADER.unpack(header)
                if not _HEADER.size < length <= MAX_MESSAGE:
                    return
                body = _read(connection, length - _HEADER.size)
            except (ConnectionError, OSError):
                return
            if self.down:
                return
            if opcode == OP_QUERY:
                command, database, flags = _op_query(body)
                reply = self._command(command, database, connection_id)
                payload = struct.pack("<iqii", 0, 0, 0, 1) + bson.encode(reply)
                answer_opcode = OP_REPLY
            elif opcode == OP_MSG:
                command, flags = _op_msg(body)
                reply = self._command(command, command.get("$db", "admin"), connection_id)
                if flags & MORE_TO_COME:  # an unacknowledged write: no answer
                    continue
                payload = struct.pack("<I", 0) + b"\0" + bson.encode(reply)
                answer_opcode = OP_MSG
            else:
                return  # OP_COMPRESSED and legacy opcodes: pymongo sends neither here
            header = _HEADER.pack(_HEADER.size + len(payload), 0, request_id, answer_opcode)
            try:
                connection.sendall(header + payload)
            except OSError:
                return

    def _command(self, command: dict, database: str, connection_id: int) -> dict:
        name = next(iter(command), "")
        try:
            with self._lock:
                return {**self._run(name, command, database, connection_id), "ok": 1.0}
        except Exception as error:  # mongomock's errors, as the server's error document
            return {"ok": 0.0, "errmsg": str(error), "code": 2, "codeName": "BadValue"}

    def _run(self, name: str, command: dict, database: str, connection_id: int) -> dict:
        lowered = name.lower()
        if lowered in ("hello", "ismaster"):
            return {
                "helloOk": True,
                "isWritablePrimary": True,
                "ismaster": True,
                "maxBsonObjectSize": 16 * 1024 * 1024,
                "maxMessageSizeBytes": MAX_MESSAGE,
                "maxWriteBatchSize": 100_000,
                "localTime": datetime.now(UTC),
                "logicalSessionTimeoutMinutes": 30,
                "connectionId": connection_id,
                "minWireVersion": 0,
                "maxWireVersion": 21,
                "readOnly": False,
            }
        if lowered in ("ping", "endsessions", "killcursors"):
            return {}
        if lowered == "buildinfo":
            return {"version": "7.0.0", "versionArray": [7, 0, 0, 0]}
        collection = self.client[database][command[name]] if lowered in _ON_COLLECTIONS else None
        if lowered == "insert":
            collection.insert_many(command["documents"])
            return {"n": len(command["documents"])}
        if lowered == "update":
            matched = modified = 0
            upserted = []
            for index, change in enumerate(command["updates"]):
                update = collection.update_many if change.get("multi") else collection.update_one
                result = update(change["q"], change["u"], upsert=bool(change.get("upsert")))
                matched += result.matched_count
                modified += result.modified_count
                if result.upserted_id is not None:
                    upserted.append({"index": index, "_id": result.upserted_id})
            answer = {"n": matched + len(upserted), "nModified": modified}
            return {**answer, "upserted": upserted} if upserted else answer
        if lowered == "delete":
            deleted = 0
            for change in command["deletes"]:
                remove = collection.delete_one if change.get("limit") else collection.delete_many
                deleted += remove(change["q"]).deleted_count
            return {"n": deleted}
        if lowered == "find":
            cursor = collection.find(command.get("filter") or {}, command.get("projection"))
            if command.get("sort"):
                cursor = cursor.sort(list(command["sort"].items()))
            cursor = cursor.skip(int(command.get("skip") or 0)).limit(
                abs(int(command.get("limit") or 0))
            )
            return {
                "cursor": {
                    "firstBatch": list(cursor),
                    "id": bson.int64.Int64(0),
                    "ns": f"{database}.{command[name]}",
                }
            }
        raise LookupError(f"no such command: '{name}'")


_ON_COLLECTIONS = {"insert", "update", "delete", "find"}


def _read(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _op_query(body: bytes) -> tuple[dict, str, int]:
    """OP_QUERY (the handshake only): flags, `<db>.$cmd`, skip, return count, the command."""
    (flags,) = struct.unpack_from("<i", body)
    end = body.index(b"\0", 4)
    database = body[4:end].decode().split(".", 1)[0]
    start = end + 1 + 8
    (size,) = struct.unpack_from("<i", body, start)
    command = bson.decode(body[start : start + size])
    if "$query" in command:  # a command wrapped with a read preference
        command = command["$query"]
    return command, database, flags


def _op_msg(body: bytes) -> tuple[dict, int]:
    """OP_MSG: the body section, with each document sequence (`documents`, `updates`, ...) added
    to it under its identifier."""
    (flags,) = struct.unpack_from("<I", body)
    end = len(body) - (4 if flags & CHECKSUM_PRESENT else 0)
    position, command, sequences = 4, {}, {}
    while position < end:
        kind = body[position]
        position += 1
        (size,) = struct.unpack_from("<i", body, position)
        if kind == 0:
            command = bson.decode(body[position : position + size])
        else:
            section = body[position + 4 : position + size]
            name_end = section.index(b"\0")
            sequences[section[:name_end].decode()] = bson.decode_all(section[name_end + 1 :])
        position += size
    return {**command, **sequences}, flags


# --- make run: which MongoDB, and the control routes ---------------------------------------


class LocalMongo:
    """The bot's MongoDB for `make run`: the developer's MONGO_URL, or a stand-in."""

    def __init__(self, url: str | None):
        self.stand_in = None if url else MongoStandIn()
        self.url = url or self.stand_in.url
        # The control routes' client: pymongo's own for a real server, mongomock's (the same
        # collections the stand-in serves) otherwise.
        self.client = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000) if url else None
        if self.stand_in:
            self.client = self.stand_in.client

    def describe(self) -> str:
        if self.stand_in:
            return f"{self.url} (a stand-in: mongomock over the wire protocol)"
        return "MONGO_URL (a real server)"

    def stop(self) -> None:
        if self.stand_in:
            self.stand_in.stop()
        else:
            self.client.close()

    def handle(self, request: HttpRequest) -> HttpResponse:
        parts = request.raw_path.removeprefix(PATH).strip("/").split("/")
        if parts == ["_outage"] and request.method == "PUT" and self.stand_in:
            try:
                self.stand_in.down = bool(json.loads(request.body or b"{}").get("down"))
            except (ValueError, AttributeError):
                return json_response(400, {"message": 'Body must be {"down": true|false}'})
            return json_response(200, {"down": self.stand_in.down})
        if len(parts) != 2 or not all(parts):
            return json_response(404, {"message": f"{PATH}/{{database}}/{{collection}}"})
        collection = self.client[parts[0]][parts[1]]
        if request.method == "GET":
            documents = [json.loads(json_util.dumps(d)) for d in collection.find({})]
            for document in documents:
                document["_id"] = str(document.get("_id", {}).get("$oid", document.get("_id")))
            return json_response(200, {"documents": documents})
        if request.method == "PUT":
            given = json_body(request)  # None (no body, not JSON) is refused below
            documents = given if isinstance(given, list) else [given]
            if not documents or not all(isinstance(d, dict) for d in documents):
                return json_response(
                    400, {"message": "Body must be a JSON document or a list of them"}
                )
            inserted = collection.insert_many(documents).inserted_ids
            return json_response(200, {"inserted": len(inserted)})
        return json_response(405, {"message": "GET or PUT"})
