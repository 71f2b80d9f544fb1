"""html: the page is loaded in a real headless browser (Debian's chromium) and read back.

The page's script counts the turn cards on load into ``<body data-turns>``, and applies a
``#q=...`` filter into ``data-shown``; the page as written has neither attribute, so finding
them in the rendered DOM proves the script ran.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

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
