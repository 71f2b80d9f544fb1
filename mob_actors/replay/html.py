"""``html``: one self-contained page with a session's timeline (no network: CSS and JS inline).

The page is rendered here, in Python, with every value HTML-escaped, so it reads fine even with
scripts off. Its small script adds the search box filter and, on load, counts the turn cards
and writes the count into ``<body data-turns="N">`` and the header: a test loading the page in
a headless browser reads that back to know the script ran.

Turns are cards (prompt and reply); tool calls (messages with role ``tool`` or keys besides
role/content), staged context and inputs are folded in ``<details>``; checkpoints, discards,
archives and damaged records are marked. The creation card shows the system prompt, binding
and metadata whole. The header links every turn (plain links, so they work without the script);
the script adds prev/next buttons and the ``j``/``k`` keys, the filter's count beside the box,
and a "no card matches" line when the filter leaves nothing.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Any

import journal

from ..core import events as ev
from ..core.branching import abandoned
from .jsonval import to_json
from .source import Damaged, Item
from .timeline import fork_text, is_tool_message, iso_time, short_time, summarize, user_prompt


def _esc(value: Any) -> str:
    if not isinstance(value, str):
        value = json.dumps(to_json(value), ensure_ascii=False, indent=2, sort_keys=True)
    return html.escape(value, quote=True)


def _message(m: Any) -> str:
    if not isinstance(m, dict):
        return f'<div class="msg"><pre>{_esc(m)}</pre></div>'
    role = m.get("role", "?")
    extra = {k: v for k, v in m.items() if k not in ("role", "content")}
    out = f'<div class="msg role-{_esc(str(role))}"><span class="role">{_esc(str(role))}</span><pre>{_esc(m.get("content"))}</pre>'
    if extra:
        out += f'<pre class="extra">{_esc(extra)}</pre>'
    return out + "</div>"


def _details(title: str, body: str, cls: str = "") -> str:
    return f'<details class="{cls}"><summary>{html.escape(title)}</summary>{body}</details>'


def _head(item: journal.RecordedEvent, title: str) -> str:
    return (f'<div class="head"><span class="title">{html.escape(title)}</span>'
            f'<span class="meta">seq {item.seq} &middot; <time datetime="{iso_time(item.timestamp_ms)}">'
            f"{short_time(item.timestamp_ms)}</time></span></div>")


def _turn_card(item: journal.RecordedEvent, number: int) -> str:
    d = item.data
    messages = d.get("messages") or []
    user_at = next((i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"), len(messages))
    staged, after = messages[:user_at], messages[user_at + 1:]
    tools = [m for m in after if is_tool_message(m)]
    others = [m for m in after if not is_tool_message(m)]
    parts = [_head(item, f"Turn {number}")]
    prompt = user_prompt(messages)
    if prompt is None and user_at == len(messages):  # a paused run continued: no user message
        staged, after = [], messages
        parts.append('<div class="prompt"><span class="label">continued</span><pre>after its tool results</pre></div>')
    else:
        parts.append(f'<div class="prompt"><span class="label">prompt</span><pre>{_esc(prompt)}</pre></div>')
    callback = d.get("callback")
    if callback:
        parts.append(f'<div class="reply paused"><span class="label">paused on tool</span><pre>{_esc(callback)}</pre></div>')
    else:
        reply = ev.turn_text(d) or next((m.get("content") for m in reversed(others) if isinstance(m, dict)), "")
        parts.append(f'<div class="reply"><span class="label">reply</span><pre>{_esc(reply)}</pre></div>')
    if tools:
        parts.append(_details(f"{len(tools)} tool call{'s' if len(tools) != 1 else ''}", "".join(map(_message, tools)), "tools"))
    if staged:
        title = f"{len(staged)} staged context message{'s' if len(staged) != 1 else ''}"
        parts.append(_details(title, "".join(map(_message, staged)), "staged"))
    if len(others) > 1 or (callback and others):
        parts.append(_details(f"all {len(others)} agent messages", "".join(map(_message, others)), "agent"))
    if d.get("contributing_input_ids"):
        items = "".join(f"<li>{_esc(i)}</li>" for i in d["contributing_input_ids"])
        parts.append(_details("consumed inputs", f"<ul>{items}</ul>", "inputs"))
    if d.get("system_prompt") is not None:
        parts.append(_details("system prompt set", f"<pre>{_esc(d['system_prompt'])}</pre>", "system"))
    receipt = {k: d.get(k) for k in ("run_id", "boundary", "sequence", "message_count", "digest", "usage")}
    parts.append(_details("receipt", f"<pre>{_esc(receipt)}</pre>", "receipt"))
    return f'<article class="card turn" id="seq-{item.seq}">{"".join(parts)}</article>'


_MARKERS = {
    ev.CHECKPOINTED.name: ("marker checkpoint", "checkpoint"),
    ev.DISCARDED.name: ("marker discard", "discarded"),
    ev.ARCHIVED.name: ("marker archive", "archived"),
    ev.SESSION_REVIVED.name: ("marker revive", "revived"),
    ev.REWOUND.name: ("marker rewind", "rewound"),
}


def _card(item: Item, turns: int) -> str:
    if isinstance(item, Damaged):
        return ('<article class="card marker damaged"><div class="head"><span class="title">damaged record</span></div>'
                f"<pre>{_esc(summarize(item))}</pre></article>")
    if not isinstance(item.data, dict):
        return f'<article class="card other">{_head(item, item.type)}<pre>{_esc(item.data)}</pre></article>'
    if item.type == ev.TURN_APPLIED.name:
        return _turn_card(item, turns)
    if item.type in _MARKERS:
        cls, title = _MARKERS[item.type]
        return f'<article class="card {cls}" id="seq-{item.seq}">{_head(item, title)}<p>{_esc(summarize(item))}</p></article>'
    if item.type == ev.INPUT_ACCEPTED.name:
        body = f"<pre>{_esc(item.data.get('content'))}</pre>"
        folded = _details(f"input {item.data.get('input_id')}", body, "input")
        return f'<article class="card input" id="seq-{item.seq}">{_head(item, "input")}{folded}</article>'
    if item.type == ev.SESSION_CREATED.name:
        return _created_card(item)
    title = "system context" if item.type == ev.CONTEXT_APPENDED.name else item.type
    return f'<article class="card other" id="seq-{item.seq}">{_head(item, title)}<p>{_esc(summarize(item))}</p></article>'


def _created_card(item: journal.RecordedEvent) -> str:
    """The creation, whole: the page has room for the system prompt and binding a timeline row cuts."""
    d = item.data
    messages = d.get("messages") or []
    system = next((m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "system"), None)
    parts = [_head(item, "session created")]
    lineage = d.get("forked_from")
    if isinstance(lineage, dict):
        parts.append(f'<p class="lineage">{_esc(fork_text(lineage))}</p>')
    if system is not None:
        parts.append(f'<div class="system"><span class="label">system prompt</span><pre>{_esc(system)}</pre></div>')
    else:
        parts.append("<p>deferred: no system prompt yet (the first turn sets it)</p>")
    binding = d.get("binding")
    if isinstance(binding, dict):
        parts.append(f"<p>member <b>{_esc(str(binding.get('member_id')))}</b> ({_esc(str(binding.get('profile')))}) "
                     f"of mob <b>{_esc(str(binding.get('mob_id')))}</b></p>")
    for name in ("metadata", "labels"):
        if d.get(name):
            parts.append(f'<div class="{name}"><span class="label">{name}</span><pre>{_esc(d[name])}</pre></div>')
    others = [m for m in messages if not (isinstance(m, dict) and m.get("role") == "system")]
    if others:
        parts.append(_details(f"{len(others)} more message{'s' if len(others) != 1 else ''}", "".join(map(_message, others))))
    return f'<article class="card created" id="seq-{item.seq}">{"".join(parts)}</article>'


def _turn_links(turn_seqs: list[int]) -> str:
    """Links to every turn card (they work without the script); the script adds prev/next and keys."""
    if not turn_seqs:
        return ""
    links = " ".join(f'<a href="#seq-{seq}" data-turn="{n}">{n}</a>' for n, seq in enumerate(turn_seqs, start=1))
    return (f'<nav id="turn-nav" aria-label="turns">turns: {links} '
            '<button type="button" id="prev-turn" title="previous turn (k)">&uarr; prev</button>'
            '<button type="button" id="next-turn" title="next turn (j)">next &darr;</button></nav>')


def render_page(session_id: str, items: Iterable[Item], *, source: str, digest: str | None = None) -> str:
    """The whole page for ``session_id``'s events."""
    cards = []
    turn_seqs: list[int] = []
    events = 0
    items = list(items)
    gone = abandoned([(i.seq, i.type, i.data) for i in items if not isinstance(i, Damaged)])
    for item in items:
        events += 1
        if not isinstance(item, Damaged) and item.type == ev.TURN_APPLIED.name:
            turn_seqs.append(item.seq)
        card = _card(item, len(turn_seqs))
        if item.seq in gone:  # kept, marked: a rewind abandoned it
            card = card.replace('<article class="card ', '<article title="abandoned by a rewind" class="card abandoned ', 1)
        cards.append(card)
    digest_html = f" &middot; digest <code>{_esc(digest[:16])}</code>" if digest else ""
    return _PAGE.format(
        title=_esc(f"session {session_id}"),
        session=_esc(session_id),
        source=_esc(source),
        events=events,
        digest=digest_html,
        nav=_turn_links(turn_seqs),
        cards="\n".join(cards),
        css=_CSS,
        js=_JS,
    )


_CSS = """
:root { --fg:#1d2433; --muted:#6b7385; --bg:#f5f6f8; --card:#fff; --line:#dde1e8; --accent:#2f6fde; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { position:sticky; top:0; background:var(--card); border-bottom:1px solid var(--line); padding:12px 24px; z-index:1; }
header h1 { font-size:16px; margin:0 0 4px; }
header .sub { color:var(--muted); font-size:12px; }
#search { width:100%; max-width:480px; margin-top:8px; padding:6px 10px; border:1px solid var(--line); border-radius:6px; font:inherit; }
.tools { display:flex; align-items:center; gap:12px; flex-wrap:wrap; }
.shown { color:var(--muted); font-size:12px; margin-top:8px; }
#turn-nav { margin-top:6px; font-size:12px; color:var(--muted); line-height:1.9; max-height:5.8em; overflow-y:auto; }
#turn-nav a { display:inline-block; min-width:1.8em; text-align:center; color:var(--accent); text-decoration:none;
  border:1px solid var(--line); border-radius:4px; margin:0 1px; }
#turn-nav button { font:inherit; margin-left:6px; }
.no-matches { color:var(--muted); font-style:italic; }
.system { background:#f4f1fb; border-radius:6px; padding:6px 10px; margin:4px 0; }
main { max-width:960px; margin:16px auto; padding:0 24px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 14px; margin:10px 0; }
.card.hidden { display:none; }
.head { display:flex; justify-content:space-between; gap:12px; margin-bottom:6px; }
.head .title { font-weight:600; }
.head .meta { color:var(--muted); font-size:12px; }
pre { white-space:pre-wrap; word-break:break-word; margin:2px 0; font:13px/1.4 ui-monospace, Menlo, Consolas, monospace; }
.label { display:inline-block; font-size:11px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
.turn { border-left:4px solid var(--accent); }
.prompt { background:#eef3fd; border-radius:6px; padding:6px 10px; margin:4px 0; }
.reply { background:#f1f8f1; border-radius:6px; padding:6px 10px; margin:4px 0; }
.reply.paused { background:#fff6e5; }
details { margin:4px 0; } summary { cursor:pointer; color:var(--muted); }
.msg { border-top:1px dashed var(--line); padding:4px 0; } .msg .role { font-size:11px; color:var(--muted); }
.msg .extra { color:#7a4b00; }
.marker { padding:6px 14px; font-size:13px; } .marker p { margin:0; }
.checkpoint { border-left:4px solid #2e9d5b; }
.discard { border-left:4px solid #c77700; }
.archive { border-left:4px solid #777; }
.revive { border-left:4px solid #6a4fd1; }
.rewind { border-left:4px solid #b03a8c; }
.abandoned { opacity:.55; border-style:dashed; }
.abandoned .head .title::after { content:" (abandoned by a rewind)"; font-weight:400; color:var(--muted); }
.damaged { border-left:4px solid #d33; background:#fff1f1; }
.input, .created, .other { border-left:4px solid var(--line); }
"""

# Filters cards on every keystroke and counts turns on load (data-turns proves the script ran;
# data-shown is how many cards the filter leaves visible).
_JS = """
(function () {
  var cards = Array.prototype.slice.call(document.querySelectorAll('article.card'));
  var turns = document.querySelectorAll('article.card.turn').length;
  document.body.setAttribute('data-turns', String(turns));
  document.getElementById('turn-count').textContent = String(turns);
  var shown = document.getElementById('shown');
  function filter() {
    var q = document.getElementById('search').value.toLowerCase().trim();
    var n = 0;
    cards.forEach(function (card) {
      var hit = !q || card.textContent.toLowerCase().indexOf(q) !== -1;
      card.classList.toggle('hidden', !hit);
      if (hit) { n += 1; }
    });
    shown.textContent = q ? (n + ' of ' + cards.length + ' cards shown') : '';
    document.getElementById('no-matches').hidden = n !== 0;
  }
  var search = document.getElementById('search');
  search.addEventListener('input', filter);
  // A link to page.html#q=words opens with the filter applied (and lets tests drive it).
  if (location.hash.indexOf('#q=') === 0) {
    search.value = decodeURIComponent(location.hash.slice(3));
    filter();
  }
  document.body.setAttribute('data-shown', String(cards.filter(function (c) { return !c.classList.contains('hidden'); }).length));
  search.addEventListener('input', function () {
    document.body.setAttribute('data-shown', String(cards.filter(function (c) { return !c.classList.contains('hidden'); }).length));
  });
  // Jumping between turns: the prev/next buttons, and j / k (when not typing in the filter box).
  // The target is the first visible turn card below (or above) the top of the window.
  function jump(step) {
    var visible = Array.prototype.slice.call(document.querySelectorAll('article.card.turn:not(.hidden)'));
    var top = document.querySelector('header').getBoundingClientRect().bottom + 2;
    var next = null;
    visible.forEach(function (card) {
      var y = card.getBoundingClientRect().top;
      if (step > 0 && y > top + 1 && next === null) { next = card; }
      if (step < 0 && y < top - 1) { next = card; }
    });
    if (next) { next.scrollIntoView({block: 'start'}); window.scrollBy(0, -top); }
  }
  var prev = document.getElementById('prev-turn'), nextButton = document.getElementById('next-turn');
  if (prev) { prev.addEventListener('click', function () { jump(-1); }); }
  if (nextButton) { nextButton.addEventListener('click', function () { jump(1); }); }
  document.addEventListener('keydown', function (e) {
    if (e.target === search || e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (e.key === 'j') { jump(1); } else if (e.key === 'k') { jump(-1); }
  });
  document.body.setAttribute('data-nav', prev ? 'ready' : 'none');
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header>
<h1>Session <code>{session}</code></h1>
<div class="sub">{source} &middot; {events} events &middot; <span id="turn-count">?</span> turns{digest}</div>
<div class="tools"><input id="search" type="search" placeholder="Filter cards (prompt, reply, tool, type...)" autocomplete="off">
<span id="shown" class="shown" aria-live="polite"></span></div>
{nav}
</header>
<main>
<p id="no-matches" class="no-matches" hidden>No card matches the filter. Clear the box to see every card.</p>
{cards}
</main>
<script>{js}</script>
</body>
</html>
"""
