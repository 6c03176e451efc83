"""``Redactor``: every spelling of a secret name loses its value, Basic/Bearer credentials and
token-shaped text are hidden anywhere, named literals too; ordinary text is left alone."""

from __future__ import annotations

import pytest

from registry_service.redaction import Redactor, is_secret_name

F = "[FILTERED]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Query strings, in every spelling a client or a quoted request line may use.
        ("/api/v4/user?private_token=abc&x=1", f"/api/v4/user?private_token={F}&x=1"),
        ("?PRIVATE_TOKEN=abc", f"?PRIVATE_TOKEN={F}"),
        ("?private_token[]=abc&private_token[]=def", f"?private_token[]={F}&private_token[]={F}"),
        ("?private_token%5B%5D=abc", f"?private_token%5B%5D={F}"),
        ("?private%5Ftoken=abc&access%2Dtoken=d", f"?private%5Ftoken={F}&access%2Dtoken={F}"),
        ("?Access-Token=abc", f"?Access-Token={F}"),
        ("?job_token=abc&deploy_token=def", f"?job_token={F}&deploy_token={F}"),
        ("b'/x?private_token=abc&pad=a...')", f"b'/x?private_token={F}&pad=a...')"),
        # Header lines, raw or quoted, and mappings.
        ("PRIVATE-TOKEN: abc def", f"PRIVATE-TOKEN: {F}"),
        ("b'Job-Token: abc\\x01'", f"b'Job-Token: {F}'"),
        ("deploy-token:abc", f"deploy-token:{F}"),
        ("{'Private-Token': 'abc', 'Host': 'h'}", f"{{'Private-Token': '{F}', 'Host': 'h'}}"),
        ('{"private_token": "abc", "x": 1}', f'{{"private_token": "{F}", "x": 1}}'),
        ("private_token='abc'", f"private_token='{F}'"),
        # Authorization keeps its scheme, whatever its case.
        ("Authorization: Basic YWxpY2U6cGFzcw==", f"Authorization: Basic {F}"),
        ("authorization: bearer abc", f"authorization: bearer {F}"),
        ("Proxy-Authorization: Basic YWxpY2U6cGFzcw==", f"Proxy-Authorization: Basic {F}"),
        ("AUTHORIZATION: abc", f"AUTHORIZATION: {F}"),
        # Credentials after a scheme and token-shaped text, with no name before them.
        ("sent Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", f"sent Bearer {F}"),
        ("sent basic YWxpY2U6Z2xwYXQtMTIzNDU2Nzg5MA==", f"sent basic {F}"),
        ("/v2/glpat-Abc_123-xyz/tags/list", f"/v2/{F}/tags/list"),
        ("deploy token gldt-Abc_123-xyz given", f"deploy token {F} given"),
        # Passwords: by name, and in a URL's user information.
        ("RedisSettings(host='r', password='pw-1')", f"RedisSettings(host='r', password='{F}')"),
        ("arq worker on redis://:s3cret@redis:6379/0", f"arq worker on redis://:{F}@redis:6379/0"),
        ("rediss://user:p%40ss@h/1 x", f"rediss://user:{F}@h/1 x"),
        # catalog.url: a PostgreSQL URL's password, in either scheme and in asyncpg's messages.
        ("catalog postgresql://registry:pg-s3cret@db:5432/registry", f"catalog postgresql://registry:{F}@db:5432/registry"),
        ("postgres://app:p%2Fw:x@10.0.0.7/reg?sslmode=require", f"postgres://app:{F}@10.0.0.7/reg?sslmode=require"),
        ("connect 'postgresql://u:pw@h/d' failed", f"connect 'postgresql://u:{F}@h/d' failed"),
        ("postgresql://registry@db/registry", "postgresql://registry@db/registry"),
        # Ordinary text stays as it is.
        ("redis://redis:6379/0 and http://127.0.0.1:5000/v2/", "redis://redis:6379/0 and http://127.0.0.1:5000/v2/"),
        ("malformed Basic credentials", "malformed Basic credentials"),
        ("?page=2&per_page=20&sort=desc", "?page=2&per_page=20&sort=desc"),
        ("token_expires_at=2026-01-01 tokens: 3", "token_expires_at=2026-01-01 tokens: 3"),
        ("GET /api/v4/personal_access_tokens?page=2", "GET /api/v4/personal_access_tokens?page=2"),
    ],
)
def test_redactor_hides_credentials(text: str, expected: str) -> None:
    assert Redactor()(text) == expected


def test_redactor_hides_named_literals_and_is_idempotent() -> None:
    redact = Redactor(literals=["admin-token-of-any-shape-42", "short"])
    once = redact("admin-token-of-any-shape-42 says short; private_token=abc")
    assert once == f"{F} says short; private_token={F}"
    assert redact(once) == once


@pytest.mark.parametrize(
    "name", ["private_token", "PRIVATE-TOKEN", "private_token[]", "Access_Token", "job-token",
             "Deploy-Token", "authorization", "Proxy-Authorization"],
)
def test_secret_names_in_any_spelling(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["page", "token", "tokens", "private", "search", "token_id"])
def test_other_names_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)
