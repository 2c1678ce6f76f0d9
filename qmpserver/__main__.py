"""``python -m qmpserver``: the ``qmpserver`` command."""

from .cli import main

raise SystemExit(main())
