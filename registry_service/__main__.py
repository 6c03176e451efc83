"""``python -m registry_service``: the same entry point as the ``registry-service`` command."""

from registry_service.cli import main

raise SystemExit(main())
