"""``mob_actors.core`` is the pure layer: importing it starts no actor machinery and loads no threads."""

from __future__ import annotations

import json
import pkgutil

import mob_actors.core

from support import run_python

CORE_MODULES = sorted(f"mob_actors.core.{info.name}" for info in pkgutil.iter_modules(mob_actors.core.__path__))

PROBE = """
import json, sys
for name in sys.argv[1:]:
    __import__(name)
import mob_actors.core
print(json.dumps({"loaded": sorted(m for m in ("pykka", "lmdb", "threading", "logging", "mob_actors.sessions", "mob_actors.mobs") if m in sys.modules)}))
"""


def test_importing_core_and_every_module_of_it_loads_no_pykka_lmdb_or_threading():
    assert "mob_actors.core.state" in CORE_MODULES and len(CORE_MODULES) >= 9
    done = run_python("-c", PROBE, *CORE_MODULES)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"loaded": []}


def test_the_probe_would_see_them():
    """The same probe on the sessions layer does find them (so an empty answer above means something)."""
    done = run_python("-c", PROBE, "mob_actors.sessions.service")
    assert done.returncode == 0, done.stderr
    assert {"pykka", "threading", "logging"} <= set(json.loads(done.stdout)["loaded"])
