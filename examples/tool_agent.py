"""An agent that calls a tool the host runs, then a rewind and a fork. No network: the "model" is scripted.

Run it from the repository root: ``.venv/bin/python examples/tool_agent.py`` (it writes ./data/tool-agent).

1. The model answers a weather question with a tool call; the turn pauses, durably.
2. The host runs the tool and submits its result; the same run continues and the model answers.
3. The host rewinds the conversation to just after the first turn, and asks something else.
4. It forks the session at the event where the weather answer was given, and goes on there.
Then ``mob-replay show data/tool-agent SESSION`` shows all of it, abandoned events included.
"""

from __future__ import annotations

import json
import shutil

from mob_actors import CreateSessionRequest, PersistentSessionService, StartTurnRequest, TurnContext, TurnOutcome

WEATHER = {"Oslo": "snow, -3 °C", "Rome": "sun, 24 °C"}


def get_weather(city: str) -> str:
    """The host's tool (a real host would call a service here)."""
    return WEATHER.get(city, "unknown")


class ScriptedModel:
    """Stands in for a language model: it sees ``ctx.messages`` (the chat-completions shape) and
    either calls ``get_weather`` or answers, exactly as a model SDK's reply would be converted."""

    def run_turn(self, ctx: TurnContext) -> TurnOutcome:
        last = ctx.messages[-1]
        if last["role"] == "tool":  # a continuation: the host ran the tool
            text = f"It is {last['content']} there."
            return TurnOutcome([{"role": "assistant", "content": text}], text, {"output_tokens": len(text.split())})
        question = last["content"]
        city = next((c for c in WEATHER if c in question), None)
        if city is None:
            text = f"You said: {question}"
            return TurnOutcome([{"role": "assistant", "content": text}], text)
        call = {"id": f"call-{len(ctx.messages)}", "name": "get_weather", "arguments": {"city": city}}
        # An assistant message whose tool call has no result yet: the turn pauses on it.
        return TurnOutcome([{"role": "assistant", "content": "Let me look that up.", "tool_calls": [call]}], "")


def show(title: str, messages: list[dict]) -> None:
    print(f"-- {title}")
    for m in messages:
        extra = f" {json.dumps(m['tool_calls'])}" if m.get("tool_calls") else f" (answers {m['tool_call_id']})" if m["role"] == "tool" else ""
        print(f"   {m['role']:9} {m['content']}{extra}")


def main() -> None:
    shutil.rmtree("data/tool-agent", ignore_errors=True)  # a fresh journal on every run
    with PersistentSessionService("data/tool-agent", ScriptedModel()) as service:
        s = service.create_session(CreateSessionRequest(system_prompt="You report the weather.", initial_prompt="Hello!"))

        # 1. The turn pauses on the tool call; it is recorded, and read() says what it waits for.
        out = service.apply_runtime_turn(s.id, "run-1", StartTurnRequest("What is the weather in Oslo?"), "immediate", [])
        pending = out.terminal
        print(f"paused on {pending.tool_name}({pending.arguments}) call {pending.call_id}; "
              f"awaiting: {service.read(s.id).awaiting_tool_result}")

        # 2. The host runs the tool and submits the result: the same run continues.
        done = service.submit_tool_result(s.id, pending.call_id, get_weather(**pending.arguments))
        print(f"run {done.receipt.run_id} (apply {done.receipt.sequence}) answered: {done.run_result.text}")
        show("after the tool result", service.read(s.id).messages)
        # Events are numbered per session (mob-replay show lists them); the answer is the last one so far.
        answered_seq = service.journal.highest_seq(f"session:{s.id}")
        answered = service.read(s.id).messages

        # 3. Rewind to just after the first turn (event 2) and ask something else instead.
        service.rewind(s.id, 2)
        service.start_turn(s.id, StartTurnRequest("Never mind. Thanks!"))
        show("after the rewind and a new turn", service.read(s.id).messages)

        # 4. Fork from the point where the weather was answered, and go on there.
        fork = service.fork_session(s.id, at_seq=answered_seq)
        assert fork.messages == answered  # the conversation as it was then; the source is untouched
        paused = service.apply_runtime_turn(fork.id, "run-2", StartTurnRequest("And in Rome?"), "immediate", []).terminal
        result = service.submit_tool_result(fork.id, paused.call_id, get_weather(**paused.arguments))
        print(f"fork {fork.id} of event {answered_seq}: {result.run_result.text}")
        print(f"now try: .venv/bin/mob-replay show data/tool-agent {s.id}   (and: ls, verify, html)")


if __name__ == "__main__":
    main()
