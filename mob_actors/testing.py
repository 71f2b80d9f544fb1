"""Agents for tests and examples: no model, deterministic answers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from .core.model import TurnContext, TurnOutcome

Step = str | TurnOutcome | BaseException | Callable[[TurnContext], TurnOutcome]


class EchoAgent:
    """Replies ``"echo: <prompt>"`` and streams it as one ``text_delta``."""

    def run_turn(self, ctx: TurnContext) -> TurnOutcome:
        """Answer ``echo: <prompt>``."""
        prompt = ctx.request.prompt
        text = f"echo: {prompt}"
        ctx.emit("text_delta", delta=text)
        return TurnOutcome(
            messages=[{"role": "assistant", "content": text}],
            text=text,
            usage={"input_tokens": len(prompt.split()), "output_tokens": len(text.split())},
        )


class ScriptedAgent:
    """Plays a script, one step per turn: a reply string, a TurnOutcome, an exception to raise
    (e.g. ``CallbackPending``) or a function of the context. ``hold`` makes turns wait until
    released or interrupted, to test busy sessions and interrupts."""

    def __init__(self, script: Iterable[Step] = (), *, default: Step | None = None) -> None:
        self._script = list(script)
        self._default = default
        self._lock = threading.Lock()
        self.calls: list[str] = []  # prompts seen, in order
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()  # set when a turn starts (for tests waiting on it)

    def run_turn(self, ctx: TurnContext) -> TurnOutcome:
        """Play the next step of the script (or the default), waiting while ``hold`` is clear."""
        with self._lock:
            self.calls.append(ctx.request.prompt)
            step = self._script.pop(0) if self._script else self._default
        self.entered.set()
        while not self.hold.wait(0.01):
            if ctx.cancelled.is_set():
                return TurnOutcome([{"role": "assistant", "content": "(interrupted)"}], "(interrupted)")
        if step is None:
            raise RuntimeError(f"ScriptedAgent ran out of script at prompt {ctx.request.prompt!r}")
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            return step(ctx)
        if isinstance(step, TurnOutcome):
            return step
        ctx.emit("text_delta", delta=step)
        return TurnOutcome([{"role": "assistant", "content": step}], step, {"output_tokens": len(step.split())})


class ToolAgent:
    """A scripted model that calls tools: a prompt ``"tool NAME ARGS..."`` pauses the turn on a call
    of ``NAME`` with ``{"query": ARGS}`` for the host to run (``"tools A B"``: calls of A and B at once);
    the continuation replies ``"NAME said: RESULT"``; any other prompt is echoed like EchoAgent."""

    def __init__(self) -> None:
        self.continuations: list[list[dict[str, Any]]] = []  # the tool results each continuation saw

    def run_turn(self, ctx: TurnContext) -> TurnOutcome:
        if ctx.tool_results:
            self.continuations.append(list(ctx.tool_results))
            called = {c["id"]: c["name"] for m in ctx.messages if m.get("tool_calls") for c in m["tool_calls"]}
            text = "; ".join(f"{called.get(r['tool_call_id'], '?')} said: {r['content']}" for r in ctx.tool_results)
            return TurnOutcome([{"role": "assistant", "content": text}], text, {"output_tokens": len(text.split())})
        words = ctx.request.prompt.split()
        if len(words) >= 2 and words[0] in ("tool", "tools"):
            names = words[1:] if words[0] == "tools" else words[1:2]
            query = " ".join(words[2:]) if words[0] == "tool" else ""
            base = f"call-{len(ctx.messages)}-"
            calls = [{"id": f"{base}{i}", "name": n, "arguments": {"query": query}} for i, n in enumerate(names)]
            return TurnOutcome([{"role": "assistant", "content": f"calling {', '.join(names)}", "tool_calls": calls}], "")
        return EchoAgent().run_turn(ctx)
