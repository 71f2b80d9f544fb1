"""``python -m mob_actors.replay``: the same as the ``mob-replay`` command."""

from .cli import main

raise SystemExit(main())
