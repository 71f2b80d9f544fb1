"""``python -m mob_actors.replay``: the same as the ``mob-replay`` command."""

from .cli import main

if __name__ == "__main__":  # not when a worker process imports it
    raise SystemExit(main())
