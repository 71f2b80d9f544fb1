"""Test support shared by every suite: child processes, their output, and waiting for a condition.

Importable as ``support`` from any test module or conftest (setup.cfg puts ``tests/`` on pytest's
``pythonpath``). Suite-specific helpers stay in each suite's ``*_helpers.py``.
"""

from support.actors import session_actors
from support.processes import REPO, Lines, child_env, run_python, spawn
from support.waiting import wait_until

__all__ = ["REPO", "Lines", "child_env", "run_python", "session_actors", "spawn", "wait_until"]
