"""Helpers for the mob-replay tests: the ``world`` journal the services write, and process helpers.

(Fixtures are in conftest.py; helpers live here, in a module with a unique name, so test modules
can import them whatever other conftest.py files pytest has loaded.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mob_actors import (
    CallbackPending,
    CreateSessionRequest,
    MobDefinition,
    PersistentSessionService,
    Profile,
    StartTurnRequest,
    TurnContext,
    TurnOutcome,
)
from mob_actors.mobs.runtime import MobRuntime
from mob_actors.testing import EchoAgent, ScriptedAgent

from support import child_env

BLOB = b"\x00\xffraw bytes\x10"


@dataclass
class World:
    """The ``world`` journal and what the test wrote into it."""

    path: str
    chat: str  # many turns, tool calls, a paused turn resumed, context, inputs, checkpoints; then discarded
    archived: str  # two turns, then archived
    deferred: str  # no system prompt until its first turn sets one
    mob_id: str
    members: dict[str, str]  # member_id -> session_id
    final: dict[str, Any] = field(default_factory=dict)  # session_id -> Session.to_dict() as the service had it
    turns: dict[str, int] = field(default_factory=dict)  # session_id -> number of turn_applied events


def tool_or_echo(ctx: TurnContext) -> TurnOutcome:
    """The test agent: tool calls for ``tool:`` prompts, a pause for ``pause:``, else an echo."""
    prompt = ctx.request.prompt
    if ctx.tool_results:  # the continuation of the paused turn, with the host's result
        text = f"the weather: {ctx.tool_results[-1]['content']}"
        return TurnOutcome([{"role": "assistant", "content": text}], text)
    if prompt.startswith("tool:"):
        return TurnOutcome(
            [
                {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "calc", "arguments": {"expr": "6*7"}}]},
                {"role": "tool", "content": "42", "tool_call_id": "c1"},
                {"role": "assistant", "content": "the answer is 42"},
            ],
            "the answer is 42",
            {"input_tokens": 5, "output_tokens": 4},
        )
    if prompt.startswith("pause:"):
        raise CallbackPending("lookup", {"query": prompt[6:].strip()}, messages=[{"role": "assistant", "content": "let me look that up"}])
    return EchoAgent().run_turn(ctx)


def build_world(path: str) -> World:
    svc = PersistentSessionService(path, ScriptedAgent(default=tool_or_echo), checkpoint_every=4, keep_snapshots=None)
    try:
        chat = svc.create_session(CreateSessionRequest(
            system_prompt="You are terse.", metadata={"team": "qa", "blob": BLOB}, labels={"env": "test"},
            initial_prompt="hello there",
        )).id
        svc.start_turn(chat, StartTurnRequest("tool: what is 6*7"))
        svc.append_system_context(chat, "Be nice to the user.", source="ops", idempotency_key="nice")
        try:
            svc.start_turn(chat, StartTurnRequest("pause: the weather"))
        except CallbackPending as paused:
            svc.submit_tool_result(chat, paused.call_id, "sunny")  # the same run continues
        adapter = svc.runtime_adapter()
        adapter.accept_input(chat, "first input")
        adapter.accept_input(chat, "second input")
        adapter.apply_pending(chat)
        for n in range(6):
            svc.start_turn(chat, StartTurnRequest(f"question {n}"))
        svc.checkpoint(chat)
        svc.start_turn(chat, StartTurnRequest("last question"))

        archived = svc.create_session(CreateSessionRequest(system_prompt="Short-lived.", initial_prompt="one")).id
        svc.start_turn(archived, StartTurnRequest("two"))

        deferred = svc.create_session(CreateSessionRequest(metadata={"kind": "deferred"})).id
        svc.start_turn(deferred, StartTurnRequest("first", system_prompt="Late system prompt."))
        svc.start_turn(deferred, StartTurnRequest("second"))

        final = {sid: svc.read(sid).to_dict() for sid in (chat, archived, deferred)}
        svc.archive(archived)
        final[archived]["archived"] = True
        svc.discard_live_session(chat)
    finally:
        svc.shutdown()

    with MobRuntime.open(path, EchoAgent()) as runtime:
        mob = runtime.create_mob(MobDefinition(
            "team", {"lead": Profile("lead", "You lead."), "dev": Profile("dev", "You code.")},
        ))
        mob.spawn("alice", "lead", initial_prompt="plan the work")
        mob.spawn("bob", "dev")
        mob.spawn("carol", "dev")
        mob.wire("alice", "bob")
        mob.turn("bob", "write the code")
        mob.retire("carol")
        members = {m.member_id: m.session_id for m in mob.members()}
    turns = {chat: 12, archived: 2, deferred: 2}
    return World(path, chat, archived, deferred, "team", members, final, turns)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def console_script() -> list[str]:
    """The installed ``mob-replay`` script next to this Python (``pip install -e .`` made it)."""
    script = Path(sys.executable).parent / "mob-replay"
    if not script.exists():
        pytest.fail(f"{script} is missing: run `pip install -e '.[test]'` so the console script is installed")
    return [str(script)]


def run_process(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=child_env(), timeout=timeout)
