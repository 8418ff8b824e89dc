"""The API keys page: a key made, shown once, acting as the local user, then revoked."""

from __future__ import annotations

import pytest

from rag.access import LOCAL_USER, AccessDeniedError
from rag.access.keys import ApiKeys
from rag.config import load_settings
from rag.kb import KnowledgeBases
from tests.app.conftest import start


def person_for(secret: str):
    with KnowledgeBases.open(load_settings(env_file=None)) as registry:
        return ApiKeys(registry.database).person_for(secret)


def test_a_key_is_shown_once_acts_as_the_user_and_can_be_revoked(app_env):
    app = start().switch_page("pages/api_keys.py").run()
    assert not app.exception
    assert [c.value for c in app.caption][-1] == "No keys yet."
    app.text_input(key="api_key_name").input("nightly report")
    app.button(key="api_key_create").click().run()
    [secret] = [code.value for code in app.code]
    assert secret.startswith("rag_")
    assert person_for(secret) is LOCAL_USER
    assert app.dataframe[0].value["state"].tolist() == ["active"]

    app.run()  # shown once: gone on the next run
    assert not app.code
    revoke = next(b for b in app.button if b.label == "Revoke nightly report")
    revoke.click().run()
    assert app.dataframe[0].value["state"].tolist() == ["revoked"]
    with pytest.raises(AccessDeniedError, match="not valid"):
        person_for(secret)
