"""html: the page is loaded in a real headless browser (Debian's chromium) and read back.

The page's script counts the turn cards on load into ``<body data-turns>``, and applies a
``#q=...`` filter into ``data-shown``; the page as written has neither attribute, so finding
them in the rendered DOM proves the script ran.
"""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

import pytest

from mob_actors import CreateSessionRequest, PersistentSessionService, StartTurnRequest
from mob_actors.testing import EchoAgent

from replay_helpers import World

CHROMIUM = Path("/usr/bin/chromium")


def render(page: Path, tmp_path: Path, fragment: str = "") -> str:
    """The DOM after load, as chromium --dump-dom prints it."""
    if not CHROMIUM.exists():
        pytest.fail("these tests need Debian's chromium: apt-get install -y chromium (make test installs it)")
    profile = tmp_path / f"chromium-profile{len(fragment)}"
    argv = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
        "--dump-dom", page.resolve().as_uri() + fragment,
    ]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


def body_attr(dom: str, name: str) -> str | None:
    body = re.search(r"<body[^>]*>", dom)
    assert body, dom[:500]
    found = re.search(rf'{name}="([^"]*)"', body.group(0))
    return found.group(1) if found else None


def test_html_page_in_headless_chromium(world: World, tmp_path: Path, run) -> None:
    page = tmp_path / "chat.html"
    r = run("html", world.path, world.chat, "-o", page, "--json")
    assert r.code == 0, r.err
    assert r.json()["turns"] == world.turns[world.chat]
    text = page.read_text()
    assert body_attr(text, "data-turns") is None  # only the script sets it
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing loaded from the network
    assert "<details" in text and "tool_call_id" in text  # tool calls folded
    assert 'class="card marker checkpoint"' in text and 'class="card marker discard"' in text

    dom = render(page, tmp_path)
    assert body_attr(dom, "data-turns") == str(world.turns[world.chat])
    assert f'id="turn-count">{world.turns[world.chat]}<' in dom

    # The search box filter, driven through the page's #q= link: only the tool-call turn
    # mentions "tool_call_id" (inside its folded details).
    filtered = render(page, tmp_path, "#q=tool_call_id")
    assert body_attr(filtered, "data-shown") == "1"
    assert filtered.count('class="card turn hidden"') == world.turns[world.chat] - 1


LONG_PROMPT = ("You are the release lead. " * 16).strip() + " End of the system prompt."


def test_html_page_counts_apart_shows_the_creation_whole_says_no_match_and_links_turns(world_copy: World, tmp_path: Path, run) -> None:
    svc = PersistentSessionService(world_copy.path, EchoAgent())
    try:
        sid = svc.create_session(CreateSessionRequest(system_prompt=LONG_PROMPT, metadata={"team": "qa"})).id
        for n in range(3):
            svc.start_turn(sid, StartTurnRequest(f"question {n}"))
    finally:
        svc.shutdown()
    page = tmp_path / "long.html"
    assert run("html", world_copy.path, sid, "-o", page).code == 0
    text = page.read_text()

    created = re.search(r'<article class="card created".*?</article>', text, re.S)
    assert created
    outside_details = re.sub(r"<details.*?</details>", "", created.group(0), flags=re.S)
    assert html.escape(LONG_PROMPT) in outside_details  # whole, not cut to a summary line

    sub = re.search(r'<div class="sub">.*?</div>', text, re.S)
    assert sub and "digest" in sub.group(0) and 'id="shown"' not in sub.group(0)  # the count has its own place

    turn_seqs = re.findall(r'<article class="card turn" id="seq-(\d+)"', text)
    assert len(turn_seqs) == 3
    nav = re.search(r'<nav id="turn-nav".*?</nav>', text, re.S)
    assert nav and re.findall(r'href="#seq-(\d+)"', nav.group(0)) == turn_seqs

    dom = render(page, tmp_path)
    assert body_attr(dom, "data-nav") == "ready" and body_attr(dom, "data-turns") == "3"
    assert re.search(r'<p id="no-matches"[^>]*hidden', dom)  # nothing filtered: no message

    none = render(page, tmp_path, "#q=no-card-says-this")
    assert body_attr(none, "data-shown") == "0"
    message = re.search(r'<p id="no-matches"[^>]*>', none)
    assert message and "hidden" not in message.group(0)
    assert re.search(r'id="shown"[^>]*>0 of \d+ cards shown<', none)
