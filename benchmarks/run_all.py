"""Run every ``benchmarks/bench_*.py`` in turn, passing this script's arguments through.

    .venv/bin/python benchmarks/run_all.py [--quick] [--json] ...

Exits non-zero if any benchmark failed (a missed target is reported, not a failure).
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    failed = []
    for path in sorted(glob.glob(os.path.join(here, "bench_*.py"))):
        name = os.path.basename(path)
        print(f"== {name} {' '.join(sys.argv[1:])}", file=sys.stderr, flush=True)
        if subprocess.run([sys.executable, path, *sys.argv[1:]]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
