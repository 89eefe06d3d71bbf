"""Two users chat in a browser, a third one elsewhere sees nothing; in both topologies."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

pytestmark = pytest.mark.browser

TIMEOUT = 15_000
expect.set_options(timeout=TIMEOUT)
OTHER = {"community": "single", "single": "community"}


async def log_in(browser: Browser, site: str, username: str, topology: str) -> Page:
    """Open the page in a fresh browser context and log in."""
    context = await browser.new_context(viewport={"width": 1280, "height": 760})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(site + "/")
    await page.check(f'input[name="topology"][value="{topology}"]')
    await page.fill("#username", username)
    await page.fill("#password", "password")
    await page.click("#login-button")
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "connected", timeout=TIMEOUT
    )
    page.set_default_timeout(TIMEOUT)
    assert errors == []
    return page


async def open_channel(page: Page, community: str, channel: str) -> None:
    await page.click(f'#communities .community[data-name="{community}"] button')
    await expect(page.locator("#community-name")).to_have_text(community)
    await page.click(f'#channels .channel[data-name="{channel}"]')
    await expect(page.locator("#channel-name")).to_have_text(channel)


async def send(page: Page, text: str) -> None:
    await page.fill("#message-input", text)
    await page.press("#message-input", "Enter")
    # Stored and acknowledged: the message has its server id.
    await expect(page.locator("#messages .message:not(.pending)", has_text=text)).to_have_attribute(
        "data-id", re.compile(r"^\d+$")
    )


async def received(page: Page) -> list[dict[str, Any]]:
    """Every message:new the page's sockets received."""
    events: list[dict[str, Any]] = await page.evaluate(
        "communityDebug.events.filter(e => e.event === 'message:new').map(e => e.data)"
    )
    return events


@pytest.mark.parametrize("topology", ["community", "single"])
async def test_two_users_chat_and_a_third_sees_nothing(
    site: str, browser: Browser, artifacts: Path, topology: str
) -> None:
    alice = await log_in(browser, site, "alice", topology)
    bob = await log_in(browser, site, "bob", topology)
    dave = await log_in(browser, site, "dave", topology)  # not in Async Python
    for page in (alice, bob):
        await open_channel(page, "Async Python", "asyncio")
    await open_channel(dave, "Night Owls", "general")
    transport = "/socket" if topology == "single" else "namespaces"
    await expect(alice.locator("#status")).to_contain_text(transport)

    # Both online in the members list.
    await expect(alice.locator('#members .member[data-username="bob"]')).to_have_attribute(
        "data-online", "true"
    )
    # Typing indicator.
    await bob.type("#message-input", "hel")
    await expect(alice.locator("#typing")).to_contain_text("Bob is typing")
    await bob.fill("#message-input", "")

    lines = [(alice, f"hi bob ({topology})"), (bob, f"hello alice ({topology})")]
    for author, text in lines:
        await send(author, text)
    for page in (alice, bob):
        for _author, text in lines:
            await expect(page.locator("#messages .message", has_text=text)).to_have_count(1)

    # dave: a round trip of his own after theirs, then nothing of theirs arrived.
    await send(dave, f"night owl ({topology})")
    bodies = [m["body"] for m in await received(dave)]
    assert bodies == [f"night owl ({topology})"]
    for _author, text in lines:
        await expect(dave.locator("#messages .message", has_text=text)).to_have_count(0)

    await alice.screenshot(path=str(artifacts / f"e2e-chat-{topology}.png"))

    # Switch alice to the other topology live: the chat goes on.
    await alice.check(f'input[name="topology"][value="{OTHER[topology]}"]')
    await expect(alice.locator("#status")).to_have_attribute("data-state", "connected")
    other = "/socket" if OTHER[topology] == "single" else "namespaces"
    await expect(alice.locator("#status")).to_contain_text(other)
    await send(bob, f"after the switch ({topology})")
    await expect(alice.locator("#messages .message", has_text="after the switch")).to_have_count(1)
    assert f"after the switch ({topology})" not in [m["body"] for m in await received(dave)]


async def test_removed_member_loses_the_community_at_once(site: str, browser: Browser) -> None:
    carol = await log_in(browser, site, "carol", "community")
    dave = await log_in(browser, site, "dave", "single")
    await open_channel(dave, "Night Owls", "general")
    # carol owns Night Owls and removes dave through the REST API.
    token = await carol.evaluate("sessionStorage.getItem('token')")
    dave_id = await dave.evaluate("JSON.parse(sessionStorage.getItem('user')).id")
    community_id = await dave.get_attribute(
        '#communities .community[data-name="Night Owls"]', "data-id"
    )
    status = await carol.evaluate(
        """async ([communityId, userId, token]) => (await fetch(
            `/api/communities/${communityId}/members/${userId}`,
            {method: "DELETE", headers: {Authorization: `Bearer ${token}`}})).status""",
        [community_id, dave_id, token],
    )
    assert status == 204
    await expect(dave.locator('#communities .community[data-name="Night Owls"]')).to_have_count(0)
    await expect(dave.locator("#notice")).to_contain_text("removed from: Night Owls")


@pytest.mark.parametrize("topology", ["community", "single"])
async def test_joining_a_community_and_a_channel_from_the_page(
    site: str, browser: Browser, artifacts: Path, topology: str
) -> None:
    bob = await log_in(browser, site, "bob", topology)
    dave = await log_in(browser, site, "dave", topology)  # not in Async Python yet
    await open_channel(bob, "Async Python", "typing")
    await expect(dave.locator('#communities .community[data-name="Async Python"]')).to_have_count(0)
    await dave.click("#discover-button")
    await dave.click('#joinable li:has-text("Async Python") button')
    await expect(dave.locator("#community-name")).to_have_text("Async Python")
    # A member of the community now, of none of its channels: join one from the list.
    await dave.click('#channels .channel[data-name="typing"] .join-channel')
    await expect(dave.locator("#channel-name")).to_have_text("typing")
    await expect(bob.locator('#members .member[data-username="dave"]')).to_have_attribute(
        "data-online", "true"
    )
    await send(dave, f"hello from dave ({topology})")
    await expect(bob.locator("#messages .message", has_text="hello from dave")).to_have_count(1)
    await send(bob, f"welcome dave ({topology})")
    await expect(dave.locator("#messages .message", has_text="welcome dave")).to_have_count(1)
    await dave.screenshot(path=str(artifacts / f"e2e-join-{topology}.png"))
