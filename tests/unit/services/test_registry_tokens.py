"""Registry tokens in process: issue → verify, and the verifier's memory of checked tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry_service.errors import BearerTokenInvalid
from registry_service.services.registry_tokens import (
    AccessEntry,
    TokenVerifier,
    issue_token,
    verify_token,
)
from registry_service.services.signing_keys import SigningKey, load_signing_key

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PULL = AccessEntry("repository", "group/app", ("pull",),
                   {"project_path": "group/app", "project_id": 7, "root_namespace_id": 1})


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return load_signing_key("", Path(tmp_path_factory.mktemp("key")))


def token(key: SigningKey, subject: str = "dev", ttl_s: int = 300) -> str:
    return issue_token(key, issuer="gitlab-issuer", subject=subject, access=[PULL], now=NOW,
                       ttl_s=ttl_s).token


def test_a_token_verifies_to_exactly_what_was_granted(key: SigningKey) -> None:
    grant = verify_token(key, token(key), issuer="gitlab-issuer", now=NOW)
    assert grant.subject == "dev"
    assert grant.access == (PULL,)
    assert grant.find("repository", "group/app", "pull") == PULL
    assert grant.find("repository", "group/app", "push") is None
    assert grant.find("repository", "group/app/other", "pull") is None


def test_the_verifier_checks_a_remembered_tokens_times_on_every_use(key: SigningKey) -> None:
    verifier = TokenVerifier(lambda: key, "gitlab-issuer")
    value = token(key, ttl_s=60)
    assert verifier.verify(value, NOW).subject == "dev"
    assert verifier.verify(value, NOW + timedelta(seconds=59)).subject == "dev"
    with pytest.raises(BearerTokenInvalid, match="expired"):
        verifier.verify(value, NOW + timedelta(seconds=60))
    with pytest.raises(BearerTokenInvalid, match="not valid yet"):
        verifier.verify(value, NOW - timedelta(seconds=1))


def test_the_verifier_remembers_only_good_tokens_and_a_bounded_number(key: SigningKey) -> None:
    verifier = TokenVerifier(lambda: key, "other-issuer", max_entries=2)
    with pytest.raises(BearerTokenInvalid):
        verifier.verify(token(key), NOW)
    with pytest.raises(BearerTokenInvalid):  # refused again: nothing was remembered
        verifier.verify(token(key), NOW)
    verifier = TokenVerifier(lambda: key, "gitlab-issuer", max_entries=2)
    values = [token(key, subject=f"user{n}") for n in range(3)]
    for value in values:
        verifier.verify(value, NOW)
    assert list(verifier._checked) == values[1:]
