"""`make run`'s pages in a real browser: the interactive API docs (Swagger UI, signed in, a call
tried) and the local console (who signed up, the stand-ins' state, scheduled functions).

Chromium as in test_browser.py (skipped without it unless REQUIRE_BROWSER is set). With
UPDATE_SCREENSHOTS=1 the screenshots in docs/images are written anew.
"""

import os
from collections.abc import Iterator
from typing import Any

import pytest
from local_stack import PASSWORD, ROOT, Stack, running_stack
from test_browser import CHROMIUM, CHROMIUM_ARGS, _require

SCREENSHOTS = ROOT / "docs" / "images"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    _require(CHROMIUM, "Chromium")
    with running_stack(tmp_path_factory.mktemp("local"), {"SEED": "1"}) as started:
        yield started


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require(CHROMIUM, "Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, chromium_sandbox=False, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(60_000)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, errors  # no script error on the page


def _screenshot(page, name: str) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{name}.png")


def test_the_docs_sign_in_as_the_demo_player_and_try_a_call(stack: Stack, page):
    page.goto(f"{stack.config['apiUrl']}/_local/docs")
    page.get_by_text("signed in as demo").wait_for()

    operation = page.locator("#operations-default-getUser")
    operation.locator(".opblock-summary").click()
    operation.locator(".execute").click()
    response = operation.locator(".live-responses-table tbody .response-col_status")
    response.wait_for()
    assert response.inner_text().strip().startswith("200")
    assert '"username": "demo"' in operation.locator(".live-responses-table").inner_text()
    _screenshot(page, "docs")


def test_the_docs_show_every_route_with_its_schemas(stack: Stack, page):
    _, _, document = stack.call("GET", "/_local/openapi.json")
    page.goto(f"{stack.config['apiUrl']}/_local/docs")
    page.locator(".opblock").first.wait_for()
    shown = page.locator(".opblock").count()
    assert shown == sum(len(operations) for operations in document["paths"].values())
    page.get_by_text("Schemas").wait_for()


def test_the_docs_sign_in_as_anyone(stack: Stack, page):
    stack.sign_up_and_in("pat")
    page.goto(f"{stack.config['apiUrl']}/_local/docs")
    page.get_by_text("signed in as demo").wait_for()
    page.fill("#login", "pat")
    page.fill("#password", "wrong-Password-1")
    page.click("#sign-in button")
    page.get_by_text("sign-in failed").wait_for()
    page.fill("#password", PASSWORD)
    page.click("#sign-in button")
    page.get_by_text("signed in as pat").wait_for()


def test_the_console_shows_the_players_the_stand_ins_and_the_stats(stack: Stack, page):
    page.goto(f"{stack.config['apiUrl']}/_local/")
    page.get_by_text("signed in as demo").wait_for()
    users = page.locator("#users")
    users.get_by_text("anna@example.com").wait_for()
    # The demo data's announcements, as the stand-in Discord received them.
    page.locator("#discord").get_by_text("New availability").first.wait_for()
    # The mail stand-in's section: what the stack mailed (nothing yet), and its button.
    page.locator("#mail button", has_text="Empty").wait_for()
    # The demo player's calendar offers the others' open slots that admit their cohort.
    page.locator("#stats").get_by_text("getUser").first.wait_for()


def test_a_player_books_and_pays_a_priced_slot_in_the_console(stack: Stack, page):
    """The demo data's coach (erik) offers a paid session: the demo player books it, pays the
    Checkout Session the stand-in Stripe holds, and the coach is told on Discord."""
    page.goto(f"{stack.config['apiUrl']}/_local/")
    page.get_by_text("signed in as demo").wait_for()
    offer = page.locator("#player tr", has_text="erik")
    for _ in range(60):  # the demo data is still being created when the stack answers
        if offer.count():
            break
        page.wait_for_timeout(1000)
        page.click("#refresh")
    offer.get_by_text("25 usd").wait_for()
    offer.locator("button.book").click()
    page.locator("#last-result").get_by_text("AWAITING_PAYMENT").wait_for()

    page.locator("#stripe button.pay").click()

    page.locator("#stripe").get_by_text("checkout.session.completed").wait_for()
    page.locator("#stripe").get_by_text("complete", exact=True).wait_for()
    # notify runs from the meetings stream: the coach's direct message comes a moment later
    messages = page.locator("#discord table").first  # directMessages: "none" until one is sent
    for _ in range(60):
        if messages.count() and "demo" in messages.inner_text():
            break
        page.wait_for_timeout(1000)
        page.click("#refresh")
    assert "demo" in messages.inner_text(), page.locator("#discord").inner_text()
    _screenshot(page, "console")
