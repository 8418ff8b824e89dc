"""API keys: made for a person, shown once and kept only as a hash, acting as that person
until revoked, and kept apart from everyone else's."""

from __future__ import annotations

import sqlite3

import pytest

from rag.access import LOCAL_USER, AccessDeniedError, Person
from rag.access.keys import PREFIX, ApiKeys
from rag.kb import REGISTRY_FILE, KnowledgeBases

ADA = Person("ada@example.com", "Ada")
BOB = Person("bob@example.com", "Bob")


@pytest.fixture
def keys(base_settings, tmp_path):
    registry = KnowledgeBases.open(base_settings.with_overrides(data_dir=tmp_path / "data"))
    yield ApiKeys(registry.database)
    registry.close()


def test_a_key_acts_as_its_person_and_only_its_hash_is_kept(keys, tmp_path):
    assert not keys.any_active()
    key, secret = keys.create(ADA, "  laptop   script ")
    assert secret.startswith(PREFIX) and len(secret) > 40
    assert key.name == "laptop script" and key.active and key.person == ADA.id
    assert keys.person_for(f" {secret} ") == ADA and keys.any_active()
    stored = sqlite3.connect(tmp_path / "data" / REGISTRY_FILE).execute(
        "SELECT secret_hash FROM api_keys"
    )
    [(kept,)] = stored.fetchall()
    assert secret not in kept and len(kept) == 64


def test_unknown_and_revoked_keys_are_refused_alike(keys):
    key, secret = keys.create(ADA, "ci")
    with pytest.raises(AccessDeniedError) as unknown:
        keys.person_for(PREFIX + "not-a-key")
    assert not keys.revoke(BOB, key.id)  # not Bob's to revoke
    assert keys.person_for(secret) == ADA
    assert keys.revoke(ADA, key.id) and not keys.revoke(ADA, key.id)
    with pytest.raises(AccessDeniedError) as revoked:
        keys.person_for(secret)
    assert str(revoked.value) == str(unknown.value)
    assert not keys.any_active()
    [listed] = keys.of(ADA)
    assert not listed.active and listed.revoked_at is not None


def test_each_person_lists_only_their_keys_and_the_local_users_keys_act_as_them(keys):
    keys.create(ADA, "one")
    keys.create(BOB, "two")
    _, local_secret = keys.create(LOCAL_USER, "here")
    assert [k.name for k in keys.of(ADA)] == ["one"]
    assert [k.name for k in keys.of(LOCAL_USER)] == ["here"]
    assert keys.person_for(local_secret) is LOCAL_USER
    # A signed-in person called "local" is not the local user.
    _, other = keys.create(Person("local", "the local user"), "x")
    assert not keys.person_for(other).local
