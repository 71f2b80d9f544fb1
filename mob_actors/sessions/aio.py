"""``AsyncSessionService``: the session service as coroutines that never block the event loop.

pykka futures block when awaited, so each call runs in a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from .service import SessionService

_METHODS = (
    "create_session", "start_turn", "interrupt", "read", "read_history", "list_sessions", "archive",
    "has_live_session", "append_system_context", "shutdown", "load_persisted_session", "apply_runtime_turn",
    "discard_live_session", "cancel_all_checkpointers", "rearm_all_checkpointers", "session_belongs_to_mob",
    "subscribe_session_events", "checkpoint",
)
_SYNC = ("supports_persistent_sessions", "runtime_adapter")


class AsyncSessionService:
    """Wraps a session service; every method of it is a coroutine here (the two flags stay plain)."""

    def __init__(self, service: SessionService) -> None:
        self.service = service

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.service, name)
        if name in _SYNC:
            return attr
        if name not in _METHODS:
            raise AttributeError(name)

        @functools.wraps(attr)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(attr, *args, **kwargs)

        return call
