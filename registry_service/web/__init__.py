"""The web interface: server-rendered pages under ``/`` for people (issue 15).

Pages read and act only through ``registry_service.services`` — the same calls the REST API's
handlers make — so a page shows and allows exactly what the API would to the same token. No
catalog query module is imported here (an import-linter contract checks it).
"""
