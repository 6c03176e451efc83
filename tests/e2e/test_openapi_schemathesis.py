"""schemathesis against the running server's ``/api/v4``, from the served OpenAPI document.

The server is seeded with the example seed (users, a private project in a subgroup, images
with tags); requests are authenticated as ``bob``, a Maintainer of ``acme/platform/web``, so
generated calls reach real projects, repositories and tags as well as missing ones. Each
operation gets a bounded number of examples. A failure is a 5xx, an undocumented status code,
a non-JSON answer, or a body that breaks the documented schema.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from registry_service.api.openapi import build_openapi
from registry_service.app import create_gitlab_api
from tests.e2e.server import ADMIN_TOKEN, REPO_ROOT, RegistryServer

pytestmark = pytest.mark.e2e

MAINTAINER_TOKEN = "glpat-bob-fixture-token-000001"
EXAMPLES_PER_OPERATION = 25
# Calls that could take bob's own token or memberships away (and with them the access the
# other operations are fuzzed with) run as a fresh user of their own, made for each example.
DISPOSABLE_IDENTITY = {
    ("DELETE", "/personal_access_tokens/self"),
    ("DELETE", "/personal_access_tokens/{token_id}"),
    ("POST", "/personal_access_tokens/self/rotate"),
    ("POST", "/personal_access_tokens/{token_id}/rotate"),
    ("PUT", "/projects/{id}/members/{user_id}"),
    ("DELETE", "/projects/{id}/members/{user_id}"),
    ("PUT", "/groups/{id}/members/{user_id}"),
    ("DELETE", "/groups/{id}/members/{user_id}"),
    ("DELETE", "/projects/{id}"),
    ("DELETE", "/groups/{id}"),
    ("DELETE", "/users/{user_id}"),
    ("POST", "/users/{user_id}/block"),
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# The same document the server serves (a test below checks they are equal), loaded at import
# time because schemathesis turns each operation into its own test.
schema = schemathesis.openapi.from_dict(
    build_openapi(create_gitlab_api(), "http://registry.invalid/api/v4")
)


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    workdir = tmp_path_factory.mktemp("schemathesis")
    server = RegistryServer(
        workdir,
        args=["--seed", str(REPO_ROOT / "config" / "seed.example.toml")],
        env={"REGISTRY_SERVICE_SERVER_ACCESS_LOG": "false"},
    )
    server.start()
    yield server
    server.stop()


def test_the_served_document_is_the_one_under_test(fuzzed_server: RegistryServer) -> None:
    served = requests.get(f"{fuzzed_server.url}/api/v4/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("application/json")
    document = served.json()
    assert document["servers"] == [{"url": f"{fuzzed_server.url}/api/v4"}]
    expected = build_openapi(create_gitlab_api(), f"{fuzzed_server.url}/api/v4")
    assert document == expected
    paths = set(document["paths"])
    assert "/projects/{id}/registry/repositories/{repository_id}/tags/{tag_name}" in paths
    assert "/registry/repositories/{id}" in paths


def disposable_token(server: RegistryServer) -> str:
    """A token of a new user made through the API (as the administrator)."""
    api = f"{server.url}/api/v4"
    admin = {"PRIVATE-TOKEN": ADMIN_TOKEN}
    name = f"fuzz{next(_disposable)}"
    user = requests.post(f"{api}/users", json={"username": name, "name": name},
                         headers=admin, timeout=30)
    assert user.status_code == 201, user.text
    token = requests.post(f"{api}/users/{user.json()['id']}/personal_access_tokens",
                          json={"name": "fuzz", "scopes": ["api"]}, headers=admin, timeout=30)
    assert token.status_code == 201, token.text
    return str(token.json()["token"])


_disposable = itertools.count(1)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_v4_conforms_to_its_openapi_document(
    case: schemathesis.Case, fuzzed_server: RegistryServer
) -> None:
    token = MAINTAINER_TOKEN
    if (case.operation.method.upper(), case.operation.path) in DISPOSABLE_IDENTITY:
        token = disposable_token(fuzzed_server)
    case.call_and_validate(
        base_url=f"{fuzzed_server.url}/api/v4",
        headers={"PRIVATE-TOKEN": token},
        checks=CHECKS,
        timeout=30,
    )


def test_documented_paths_cover_every_api_route() -> None:
    api = create_gitlab_api()
    document = build_openapi(api, "http://registry.invalid/api/v4")
    documented = {
        (method.upper(), path)
        for path, methods in document["paths"].items()
        for method in methods
    }
    routed = {
        (route.method, str(route.resource.get_info().get("formatter")
                           or route.resource.get_info().get("path")))
        for route in api.router.routes()
        if route.method != "HEAD" and not str(route.resource.canonical).endswith("openapi.json")
    }
    assert documented == routed
