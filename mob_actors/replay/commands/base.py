"""What a ``mob-replay`` command is: a name, its help, its arguments and the function that runs it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from ..output import Output


@dataclass(frozen=True)
class Command:
    """One sub-command: ``arguments`` adds its arguments to its parser, ``run`` returns the exit code."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Output], int]
