"""Which mob a session belongs to: asked of the mob's supervisor while it runs, else of the binding.

The mob runtime registers a resolver per mob it serves (:meth:`MobMembership.set_resolver`);
without one, the session's recorded binding answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .lookup import Lookup

log = logging.getLogger(__name__)


class MobMembership:
    """The service's answers to ``session_belongs_to_mob`` (see there)."""

    def __init__(self, lookup: Lookup, durable: bool) -> None:
        self._lookup = lookup
        self._durable = durable
        self._resolvers: dict[str, Callable[[str], bool]] = {}

    def belongs(self, session_id: str, mob_id: str) -> bool:
        """The resolver's answer, else the binding's (False from a store that keeps nothing); False on any failure."""
        try:
            resolver = self._resolvers.get(mob_id)
            if resolver is not None:
                return bool(resolver(session_id))
            return self._durable and self.binding_matches(session_id, mob_id)
        except Exception:
            log.warning("session_belongs_to_mob(%s, %s) failed; answering False", session_id, mob_id, exc_info=True)
            return False

    def binding_matches(self, session_id: str, mob_id: str) -> bool:
        """The recorded answer: the session's binding names ``mob_id`` (archived: False)."""
        state = self._lookup.live_view(session_id)
        if state is None:
            state = self._lookup.durable_state(session_id)
        return state is not None and not state.archived and state.binding is not None and state.binding.mob_id == mob_id

    def set_resolver(self, mob_id: str, resolver: Callable[[str], bool] | None) -> None:
        """Let a mob's supervisor answer for ``mob_id`` (None removes it)."""
        if resolver is None:
            self._resolvers.pop(mob_id, None)
        else:
            self._resolvers[mob_id] = resolver
