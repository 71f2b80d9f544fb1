"""The contract in code: both services satisfy mob_actors.contract, and AsyncSessionService mirrors it.

The static half (mypy) is in mob_actors/sessions/service.py: it assigns both services to
``MobSessionService`` variables, so a signature that drifts fails the type check in CI.
"""

from __future__ import annotations

import inspect

import pytest

import mob_actors as m
from mob_actors.aio import AsyncSessionService
from mob_actors.contract import MobSessionPort, MobSessionService

# The two that never block stay plain methods on the async wrapper.
PLAIN = {"supports_persistent_sessions", "runtime_adapter"}


def contract_methods() -> dict[str, object]:
    """Every method the Protocol declares, its own and its port's."""
    methods: dict[str, object] = {}
    for cls in reversed(MobSessionService.__mro__):
        if cls in (MobSessionService, MobSessionPort):
            methods.update({n: f for n, f in vars(cls).items() if inspect.isfunction(f) and not n.startswith("_")})
    return methods


def test_the_contract_lists_the_methods_the_readme_promises():
    names = set(contract_methods())
    assert {"apply_runtime_turn", "runtime_adapter", "subscribe_session_events", "checkpoint", "discard_live_session",
            "load_persisted_session", "session_belongs_to_mob", "cancel_all_checkpointers", "restore_session"} <= names
    assert {"submit_tool_result", "cancel_tool_calls", "rewind", "fork_session"} <= names  # issue 12
    assert len(names) == 32  # 27 + restore_session (members come back after a restart without an event) + issue 12's four


@pytest.mark.parametrize("kind", ["persistent", "ephemeral"])
def test_both_services_satisfy_the_contract_and_the_port(request, kind):
    svc = request.getfixturevalue(kind)()
    assert isinstance(svc, MobSessionService) and isinstance(svc, MobSessionPort)
    for name, declared in contract_methods().items():
        mine = inspect.signature(getattr(type(svc), name))
        theirs = inspect.signature(declared)
        assert list(mine.parameters) == list(theirs.parameters), name
        assert [p.default for p in mine.parameters.values()] == [p.default for p in theirs.parameters.values()], name


def test_something_missing_a_method_is_not_a_session_service():
    class Partial:
        def read(self, session_id: str) -> m.Session: ...

    assert not isinstance(Partial(), MobSessionPort) and not isinstance(Partial(), MobSessionService)


def test_every_contract_method_has_an_async_twin_with_the_same_parameters():
    for name, declared in contract_methods().items():
        twin = getattr(AsyncSessionService, name)
        assert inspect.iscoroutinefunction(twin) == (name not in PLAIN), name
        mine, theirs = inspect.signature(twin), inspect.signature(declared)
        assert mine.parameters == theirs.parameters, name  # names, kinds, defaults, annotations
        assert mine.return_annotation == theirs.return_annotation, name
    public = {n for n, f in vars(AsyncSessionService).items() if inspect.isfunction(f) and not n.startswith("_")}
    assert public == set(contract_methods())  # nothing the contract does not have


def test_the_async_twins_reach_the_service(persistent):
    import asyncio

    svc = persistent()
    a = AsyncSessionService(svc)
    failures: list[str] = []

    async def main() -> None:
        s = await a.create_session(m.CreateSessionRequest())
        assert await a.live_session_ids() == [s.id]
        assert await a.binding_matches(s.id, "nope") is False
        await a.cancel_checkpointers([s.id])
        assert await a.checkpoint(s.id) is False
        await a.rearm_checkpointers([s.id])
        assert await a.checkpoint(s.id) is True
        await a.add_failure_listener(lambda sid, e: failures.append(sid))
        await a.set_mob_resolver("team", lambda sid: sid == s.id)
        assert await a.session_belongs_to_mob(s.id, "team") is True
        await a.set_mob_resolver("team", None)
        assert await a.session_belongs_to_mob(s.id, "team") is False
        assert (await a.restart_session(s.id)).id == s.id

    asyncio.run(main())
    assert failures == []
