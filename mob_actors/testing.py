"""Agents for tests and examples: no model, deterministic answers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

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
