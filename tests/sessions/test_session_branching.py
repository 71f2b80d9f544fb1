"""Rewind and fork (issue 12): going back is an event, the journal keeps everything; a fork is a new
session whose first event holds the source's conversation at that point and its lineage."""

from __future__ import annotations

import json
import threading

import pytest

import journal
import mob_actors as m
from mob_actors.core.recovery import recover
from mob_actors.testing import EchoAgent, ScriptedAgent, ToolAgent

from sessions_helpers import digest_of, event_types, stream_of
from support import run_python


def chat(svc, prompts=("one", "two", "three")):
    s = svc.create_session(m.CreateSessionRequest(system_prompt="sys"))
    for p in prompts:
        svc.start_turn(s.id, m.StartTurnRequest(p))
    return s.id


def test_rewind_then_new_turns_keep_digests_receipts_and_history(persistent, jr, jpath):
    svc = persistent(checkpoint_every=2)
    sid = chat(svc)
    before = list(jr.read(stream_of(sid)))
    at2 = recover(jr, sid, to_seq=2)
    s = svc.rewind(sid, 2)  # after the first turn
    assert s.messages == at2.messages == [{"role": "system", "content": "sys"}, {"role": "user", "content": "one"}, {"role": "assistant", "content": "echo: one"}]
    after = list(jr.read(stream_of(sid)))
    assert after[:len(before)] == before  # nothing lost: the rewind is one more event
    rewound = after[-1]
    assert rewound.type == "rewound" and rewound.data["to_seq"] == 2 and rewound.data["digest"] == digest_of(s.messages)
    out = svc.apply_runtime_turn(sid, "run-x", m.StartTurnRequest("four"), "immediate", [])
    msgs = svc.read(sid).messages
    assert [x["content"] for x in msgs[1:]] == ["one", "echo: one", "four", "echo: four"]
    assert out.receipt.conversation_digest == digest_of(msgs) and out.receipt.message_count == len(msgs) == 5
    assert recover(jr, sid).messages == msgs and recover(jr, sid, use_snapshot=False).to_snapshot() == recover(jr, sid).to_snapshot()
    assert svc.rewind(sid, recover(jr, sid).seq).messages == msgs  # the present: no event
    assert event_types(jr, sid).count("rewound") == 1
    svc.rewind(sid, 4)  # back into the abandoned part: what the conversation was after event 4
    assert [x["content"] for x in svc.read(sid).messages[1:]] == ["one", "echo: one", "two", "echo: two"]
    svc.shutdown()
    verify = run_python("-m", "mob_actors.replay", "verify", jpath, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_rewind_to_a_paused_turn_pauses_again(persistent):
    svc = persistent(ToolAgent())
    s = svc.create_session(m.CreateSessionRequest())
    out = svc.apply_runtime_turn(s.id, "r", m.StartTurnRequest("tool weather Oslo"), "immediate", [])
    svc.submit_tool_result(s.id, out.terminal.call_id, "snow")
    assert not svc.read(s.id).awaiting_tool_result
    back = svc.rewind(s.id, 2)
    assert back.awaiting_tool_result and back.pending_tool_calls[0]["id"] == out.terminal.call_id
    with pytest.raises(m.ToolResultPending):
        svc.start_turn(s.id, m.StartTurnRequest("x"))
    again = svc.submit_tool_result(s.id, out.terminal.call_id, "rain")  # a different result this time
    assert again.run_result.text == "weather said: rain" and again.receipt.run_id == "r"
    assert [x.get("content") for x in svc.read(s.id).messages if x["role"] == "tool"] == ["rain"]


def test_rewind_refuses_bad_seqs_busy_sessions_and_the_ephemeral_service(persistent, ephemeral):
    svc = persistent()
    sid = chat(svc, ("one",))
    for bad in (0, -1, 3, True, "2", None, 2.0):
        with pytest.raises(m.InvalidRequest, match="to_seq must be an event seq from 1 to 2"):
            svc.rewind(sid, bad)
    with pytest.raises(m.SessionNotFound):
        svc.rewind("no-such", 1)
    eph = ephemeral()
    esid = chat(eph, ("one",))
    with pytest.raises(m.PersistenceDisabled, match="keeps no history"):
        eph.rewind(esid, 1)
    held = ScriptedAgent(default="ok")
    busy = persistent(held)
    bsid = chat(busy, ("one",))
    held.hold.clear()
    held.entered.clear()
    t = threading.Thread(target=busy.start_turn, args=(bsid, m.StartTurnRequest("slow")))
    t.start()
    assert held.entered.wait(5)
    with pytest.raises(m.SessionBusy):
        busy.rewind(bsid, 1)
    held.hold.set()
    t.join(5)


def test_fork_leaves_the_source_untouched_and_replays_to_its_state_then(persistent, jr, jpath):
    svc = persistent(checkpoint_every=2)
    src = chat(svc)
    source_events = list(jr.read(stream_of(src)))
    fork = svc.fork_session(src, at_seq=3)
    then = recover(jr, src, to_seq=3)
    assert fork.id != src and fork.messages == then.messages and fork.metadata == then.metadata
    assert list(jr.read(stream_of(src))) == source_events  # the source is untouched
    first = next(iter(jr.read(stream_of(fork.id))))
    assert first.type == "session_created" and first.version == 2
    lineage = first.data["forked_from"]
    assert (lineage["source_id"], lineage["seq"], lineage["digest"], lineage["message_count"]) == (src, 3, digest_of(then.messages), len(then.messages))
    assert recover(jr, fork.id).lineage() == {"source_id": src, "seq": 3, "digest": digest_of(then.messages), "message_count": len(then.messages)}
    svc.start_turn(fork.id, m.StartTurnRequest("fork turn"))
    svc.start_turn(src, m.StartTurnRequest("source turn"))
    assert svc.read(fork.id).messages[-1]["content"] == "echo: fork turn" and svc.read(src).messages[-1]["content"] == "echo: source turn"
    assert len(svc.read(src).messages) == 9 and len(svc.read(fork.id).messages) == len(then.messages) + 2

    named = m.new_id()
    whole = svc.fork_session(src, new_session_id=named)  # default: the source's last event
    assert whole.id == named and whole.messages == svc.read(src).messages
    with pytest.raises(m.InvalidRequest, match="already exists"):
        svc.fork_session(src, new_session_id=named)
    with pytest.raises(m.InvalidRequest, match="at_seq must be an event seq"):
        svc.fork_session(src, at_seq=99)
    with pytest.raises(m.SessionNotFound):
        svc.fork_session("no-such")
    svc.discard_live_session(src)  # not live: forked from its durable history
    assert svc.fork_session(src, at_seq=2).messages == recover(jr, src, to_seq=2).messages
    svc.shutdown()
    verify = run_python("-m", "mob_actors.replay", "verify", jpath, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_fork_of_a_paused_turn_is_paused_and_resumes_on_its_own(persistent):
    svc = persistent(ToolAgent())
    s = svc.create_session(m.CreateSessionRequest())
    out = svc.apply_runtime_turn(s.id, "r", m.StartTurnRequest("tool weather Rome"), "immediate", [])
    fork = svc.fork_session(s.id)
    assert fork.awaiting_tool_result
    assert svc.submit_tool_result(fork.id, out.terminal.call_id, "hot").run_result.text == "weather said: hot"
    assert svc.read(s.id).awaiting_tool_result  # the source still waits for its own result
    assert svc.submit_tool_result(s.id, out.terminal.call_id, "mild").run_result.text == "weather said: mild"


def test_ephemeral_fork_of_the_present_only(ephemeral):
    svc = ephemeral()
    src = chat(svc, ("one",))
    fork = svc.fork_session(src)
    assert fork.messages == svc.read(src).messages and fork.id != src
    with pytest.raises(m.PersistenceDisabled):
        svc.fork_session(src, at_seq=1)


def test_verify_checks_every_forks_lineage(tmp_path):
    path = tmp_path / "j"
    with m.PersistentSessionService(path, EchoAgent()) as svc:
        src = chat(svc)
        fork = svc.fork_session(src, at_seq=2)
    bad = {}
    with journal.open(path) as j:
        good = next(iter(j.read(stream_of(fork.id))))
        for name, change in [("digest", {"digest": "0" * 64}), ("seq", {"seq": 3}), ("source", {"source_id": m.new_id()})]:
            sid = m.new_id()
            data = {**good.data, "session_id": sid, "forked_from": {**good.data["forked_from"], **change}}
            j.append(stream_of(sid), [journal.Event("session_created", data, version=2)], expected_seq=journal.NO_STREAM)
            bad[sid] = name
    r = run_python("-m", "mob_actors.replay", "verify", path, "--json", timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    streams = {s["id"]: s for s in json.loads(r.stdout)["streams"]}
    assert streams[fork.id]["ok"] and streams[src]["ok"]
    for sid, name in bad.items():
        div = streams[sid]["divergence"]
        assert (div["kind"], div["seq"]) == ("lineage", 1), name
    assert "does not hold" in streams[next(s for s, n in bad.items() if n == "source")]["divergence"]["detail"]
