"""What the bot says on Discord is the bot's (issue 17): people are named from their stored
profiles, never from a request body; what players wrote shows as typed, never as the bot's own
markdown or masked links; links get no previews; ids in links are URL-encoded; nobody is
pinged."""

# ruff: noqa: F811 (the fixtures are test_notify's)

import json

from test_notify import (  # noqa: F401 (fixtures)
    FRONTEND,
    WHEN,
    discord_api,
    meeting,
    open_availability,
    players,
    put,
    run,
    seat,
    sleeps,
    streams,
)

from notifications.changes import announcement, plain
from notifications.discord import SUPPRESS_EMBEDS

FAKE = "**Book it: [the club's page](https://evil.test/steal)**"


def test_the_announcement_names_the_owner_from_the_stored_profile(players, streams, discord_api):
    # alice's stored Discord username is alice_dojo; her request body claimed "@here" and carol
    put(players, "availabilities", open_availability(ownerDiscord="@here carol_dojo"))

    assert run(streams.take("availabilities")) == []

    [post] = discord_api.announcements()
    assert post.startswith("**New availability** by alice\\_dojo (1500-1600)\n")
    assert "carol" not in post and "here" not in post


def test_a_canceled_group_session_names_its_owner_from_the_stored_profile(
    players, streams, discord_api
):
    session = open_availability(
        id="g1",
        ownerDiscord="bob_dojo",
        maxParticipants=2,
        participants={"carol": seat("carol", "carol_dojo")},
    )
    put(players, "availabilities", session)
    streams.take("availabilities")
    put(players, "availabilities", {**session, "status": "CANCELED"})

    assert run(streams.take("availabilities")) == []

    [told] = discord_api.direct_messages()["carol_dojo"]
    assert told.startswith(f"alice\\_dojo canceled the group session on {WHEN}")


def test_what_the_owner_wrote_shows_as_typed(players, streams, discord_api):
    written = open_availability(
        location="https://zoom.test/j/1_2?pwd=a*b <@&1> [x](https://evil.test)",
        description=f"Sicilian prep\n{FAKE}\n# Free money\n> quoted\n<t:0:f> @everyone ||spoiler||",
    )
    put(players, "availabilities", written)

    assert run(streams.take("availabilities")) == []

    [post] = discord_api.announcements()
    lines = post.split("\n")
    quoted = [
        "> Sicilian prep",
        # Discord's autolink takes the URL up to `)**`: shown raw, as a link, not as markdown
        "> \\*\\*Book it\\: \\[the club's page\\]\\(https://evil.test/steal)**",
        "> \\# Free money",
        "> \\> quoted",
        "> \\<t\\:0\\:f\\> \\@everyone \\|\\|spoiler\\|\\|",
    ]
    assert lines[-len(quoted) :] == quoted  # the description, quoted, after the bot's lines
    assert lines.count(f"Book it: {FRONTEND}/calendar") == 1
    assert (
        "Where: https://zoom.test/j/1_2?pwd=a*b \\<\\@&1\\> \\[x\\]\\(https://evil.test\\)" in lines
    )


def test_plain_keeps_links_clickable_and_escapes_everything_else():
    assert plain("https://zoom.test/j/1_2?a=*b*") == "https://zoom.test/j/1_2?a=*b*"
    assert plain("see https://a.test/x.") == "see https://a.test/x\\."
    assert plain("[t](https://evil.test)") == "\\[t\\]\\(https://evil.test\\)"
    assert plain("__u__ ~~s~~ `c` -# small") == "\\_\\_u\\_\\_ \\~\\~s\\~\\~ \\`c\\` \\-\\# small"
    assert plain("1. first") == "1\\. first"


def test_messages_suppress_link_previews_and_pings(players, streams, discord_api):
    put(players, "availabilities", open_availability())
    put(players, "meetings", meeting())

    assert run(streams.take("availabilities") + streams.take("meetings")) == []

    posts = discord_api.calls("POST", "/messages")
    assert len(posts) == 2
    for post in posts:
        sent = json.loads(post.request.body)
        assert sent["flags"] & SUPPRESS_EMBEDS
        assert sent["allowed_mentions"] == {"parse": []}


def test_an_edited_announcement_suppresses_previews_too(players, streams, discord_api):
    put(players, "availabilities", open_availability())
    put(players, "availabilities", open_availability(description="moved to https://zoom.test/2"))

    assert run(streams.take("availabilities")) == []

    [edit] = discord_api.calls("PATCH", "/messages")
    sent = json.loads(edit.request.body)
    assert sent["flags"] & SUPPRESS_EMBEDS
    assert sent["allowed_mentions"] == {"parse": []}


def test_ids_in_direct_message_links_are_url_encoded(players, streams, discord_api):
    put(players, "meetings", meeting(id="x?y#z/../admin"))

    assert run(streams.take("meetings")) == []

    [told] = discord_api.direct_messages()["alice_dojo"]
    assert told.endswith(f"\n{FRONTEND}/meeting/x%3Fy%23z%2F..%2Fadmin")


def test_the_announcement_function_takes_its_names_from_the_caller():
    post = announcement(open_availability(ownerDiscord="@everyone"), FRONTEND, lambda _: "a_b")

    assert post.startswith("**New availability** by a\\_b (1500-1600)")
