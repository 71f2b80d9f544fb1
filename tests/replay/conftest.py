"""Fixtures for the mob-replay tests: journals written by the real services, and a CLI runner.

The shared ``world`` journal is written once per test run by a PersistentSessionService (and a
MobRuntime) and then only read; tests that damage a journal work on a copy (``world_copy``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mob_actors.replay.cli import main

from replay_helpers import Result, World, build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(str(tmp_path_factory.mktemp("replay-world") / "journal"))


@pytest.fixture
def world_copy(world: World, tmp_path: Path) -> World:
    """A private copy of the world journal, for tests that damage or extend it."""
    target = tmp_path / "journal-copy"
    shutil.copytree(world.path, target, ignore=shutil.ignore_patterns("writer.lock"))
    return World(**{**world.__dict__, "path": str(target)})


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):
    """``run(*argv)``: call ``mob-replay`` in this process; returns its exit code and output."""

    def call(*argv: str) -> Result:
        capsys.readouterr()  # drop anything printed before
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return call


