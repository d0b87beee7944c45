"""The meetings table (`id`) and its `OwnerIndex` / `ParticipantIndex` (member + `id`)."""

from database.client import MEETINGS_TABLE, dynamodb, from_item, to_item, translate_errors
from database.models import Meeting
from database.paging import decode_key, encode_key, query_page

# A member's meetings are read side after side: first those they own, then those they booked.
_SIDES = (("OwnerIndex", "owner"), ("ParticipantIndex", "participant"))


@translate_errors
def get_meeting(meeting_id: str) -> Meeting | None:
    item = dynamodb().get_item(TableName=MEETINGS_TABLE, Key=to_item({"id": meeting_id}))
    return Meeting.from_item(from_item(item["Item"])) if "Item" in item else None


@translate_errors
def list_for_member(
    username: str, limit: int, start: str | None
) -> tuple[list[Meeting], str | None]:
    """The meetings `username` owns or booked, each exactly once across pages.

    A token is a key of the side being read ({owner, id} or {participant, id}), or
    {participant} alone: "the owner side is done, start the participant side"."""
    side, start_key = 0, None
    if start:
        start_key = decode_key(
            start,
            shapes=({"owner", "id"}, {"participant", "id"}, {"participant"}),
            fixed={"owner": username, "participant": username},
        )
        side = 0 if "owner" in start_key else 1
        if "id" not in start_key:
            start_key = None
    meetings: list[Meeting] = []
    for index_name, member in _SIDES[side:]:
        request = {
            "TableName": MEETINGS_TABLE,
            "IndexName": index_name,
            "KeyConditionExpression": "#member = :member",
            "ExpressionAttributeNames": {"#member": member},
            "ExpressionAttributeValues": to_item({":member": username}),
        }
        items, key = query_page(request, limit - len(meetings), start_key)
        meetings.extend(Meeting.from_item(item) for item in items)
        if key:
            return meetings, encode_key(key)
        start_key = None
        if len(meetings) >= limit:
            more = member == "owner"
            return meetings, encode_key(to_item({"participant": username})) if more else None
    return meetings, None
