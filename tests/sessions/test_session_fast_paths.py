"""The shortcuts taken for speed give exactly what the plain definitions give.

* ``RunningDigest`` hashes a batch of messages with one encoder call: same digest as
  ``conversation_digest`` of the whole list, whatever the batches.
* ``SessionState.session_bytes`` gives the same bytes as ``to_session().to_bytes()``, also after
  the system message is replaced or inserted, and in reader copies; ``session_bytes_later``
  (what a receipt renders on first read) gives the bytes of when it was taken.
* a ``turn_applied`` whose reply text is its last message's content stores the text once.
* ``new_id`` formats the UUID itself: same text as ``str(uuid.UUID(...))``, version 7, ordered.
* ``EventHub.publish_quiet`` moves the seq like ``publish`` and delivers to subscribers.
"""

from __future__ import annotations

import random
import uuid

import pytest

from mob_actors.core import decide
from mob_actors.core.digest import RunningDigest, canonical_json, conversation_digest
from mob_actors.core.ids import new_id
from mob_actors.core.model import CreateSessionRequest, RunApplyBoundary, StartTurnRequest, TurnOutcome
from mob_actors.core.state import evolve
from mob_actors.sessions.streams import EventHub

ODD_MESSAGES = [
    {"role": "user", "content": "h\u00e9llo \u2028 \"q\" \\ \n\t \U0001f600"},
    {"role": "assistant", "content": "x", "extra": [1, 2.5, None, True, {"b": 1, "a": 2}]},
    {"role": "tool", "content": {"z": 1e300, "a": -0.0, "n": -(2**70)}},
    {"role": "user", "content": ""},
]


@pytest.mark.parametrize("split", [1, 2, 3, 4])
def test_batched_digest_equals_one_shot(split: int) -> None:
    for n in range(len(ODD_MESSAGES) + 1):
        d = RunningDigest()
        for i in range(0, n, split):
            d.extend(ODD_MESSAGES[i:min(n, i + split)])
        assert d.hexdigest() == conversation_digest(ODD_MESSAGES[:n])
        assert d.count == n
        assert RunningDigest(iter(ODD_MESSAGES[:n])).hexdigest() == d.hexdigest()


def test_canonical_json_errors_are_the_usual_ones() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        canonical_json({"a": object()})
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        canonical_json(loop)


def test_session_bytes_equal_to_bytes() -> None:
    rng = random.Random(7)
    for _ in range(20):
        state = None
        req = CreateSessionRequest(system_prompt=rng.choice([None, "sys"]), metadata={"m": 1}, labels={"l": "v"})
        for event in decide.create(new_id(), req, 1):
            state = evolve(state, event)
        for i in range(rng.randint(0, 25)):
            if rng.random() < 0.15:
                events, _ = decide.append_context(state, f"context {i}", None, None, False, 2)
            else:
                system = "new system" if state.deferred and rng.random() < 0.5 else None
                content = "\u00e9" * rng.randint(0, 300)
                outcome = TurnOutcome([{"role": "assistant", "content": content, "n": [i, 1.5, None]}] * rng.randint(0, 3), "t")
                events = decide.turn(
                    state, run_id=new_id(), req=StartTurnRequest(f"turn {i}", system_prompt=system),
                    boundary=RunApplyBoundary.IMMEDIATE, input_ids=[], outcome=outcome, count_sequence=True, now=i,
                )
            for event in events:
                state = evolve(state, event)
            if rng.random() < 0.7:
                assert state.session_bytes() == state.to_session().to_bytes()
                assert state.reader_copy().session_bytes() == state.session_bytes()
        state.messages.insert(0, {"role": "system", "content": "inserted"})
        assert state.session_bytes() == state.to_session().to_bytes()
        state.messages[0] = {"role": "system", "content": "replaced"}
        assert state.session_bytes() == state.to_session().to_bytes()
        if state.messages:
            state.messages.pop()
            assert state.session_bytes() == state.to_session().to_bytes()


def test_new_id_is_a_uuid7_and_ordered() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for value in ids[:500]:
        parsed = uuid.UUID(value)
        assert str(parsed) == value and parsed.version == 7 and parsed.variant == uuid.RFC_4122


def test_publish_quiet_keeps_the_seq_and_delivers() -> None:
    hub = EventHub("s1")
    hub.publish_quiet("run_started", {"n": 1})  # nobody listens: only the seq moves
    stream = hub.subscribe()
    hub.publish_quiet("run_completed", {"n": 2})
    hub.publish("text_delta", {"n": 3})
    first, second = stream.next(timeout=1), stream.next(timeout=1)
    assert (first.seq, first.type, first.data) == (2, "run_completed", {"n": 2})
    assert (second.seq, second.type) == (3, "text_delta")
    hub.close()


def test_session_bytes_rendered_later_are_those_of_when_they_were_taken() -> None:
    """What a turn's receipt carries is rendered on first read, and is the session as it was then."""
    rng = random.Random(11)
    for _ in range(10):
        state = None
        for event in decide.create(new_id(), CreateSessionRequest(metadata={"m": 1}), 1):
            state = evolve(state, event)
        taken = []
        for i in range(rng.randint(1, 30)):
            if rng.random() < 0.2:
                events, _ = decide.append_context(state, f"context {i}", None, None, False, 2)
            else:
                system = "sys" if state.deferred and rng.random() < 0.5 else None  # rewrites message 0
                outcome = TurnOutcome([{"role": "assistant", "content": "r" * rng.randint(0, 50)}], "t")
                events = decide.turn(
                    state, run_id=new_id(), req=StartTurnRequest(f"turn {i}", system_prompt=system),
                    boundary=RunApplyBoundary.IMMEDIATE, input_ids=[], outcome=outcome, count_sequence=True, now=i,
                )
            for event in events:
                state = evolve(state, event)
            taken.append((state.session_bytes_later(), state.to_session().to_bytes()))
        for later, then in taken:
            assert later() == then


@pytest.mark.parametrize(
    ("messages", "text", "stored"),
    [
        ([{"role": "assistant", "content": "the reply"}], "the reply", None),  # the usual case: stored once
        ([{"role": "assistant", "content": "the reply"}], "a summary", "a summary"),
        ([], "turn", "turn"),  # the last message is the user's ("turn 0"), not the text
    ],
)
def test_a_reply_equal_to_the_last_message_is_stored_once(messages: list, text: str, stored: str | None) -> None:
    from mob_actors.core.events import turn_text

    state = None
    for event in decide.create(new_id(), CreateSessionRequest(), 1):
        state = evolve(state, event)
    [event] = decide.turn(
        state, run_id=new_id(), req=StartTurnRequest("turn 0"), boundary=RunApplyBoundary.IMMEDIATE, input_ids=[],
        outcome=TurnOutcome(messages, text), count_sequence=True, now=1,
    )
    assert event.data["text"] == stored
    assert turn_text(event.data) == text
