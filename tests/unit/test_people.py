"""People and roles: who a sign-in names, what each role and action is, and the settings
that name the administrators and the limits of one person."""

from __future__ import annotations

import pytest

from rag.access import LOCAL_USER, AccessDeniedError, Action, Person, Role
from rag.access.people import admit, person_key
from rag.config import Settings, load_settings
from rag.errors import SettingsError


def test_a_sign_in_names_the_person_by_their_email_folded():
    ada = Person.signed_in(" Ada@Example.COM ", "google-123", " Ada Lovelace ")
    assert ada == Person("ada@example.com", "Ada Lovelace")
    assert not ada.local
    assert ada.label == "Ada Lovelace (ada@example.com)"


def test_without_an_email_the_subject_names_the_person_and_the_name_defaults_to_it():
    person = Person.signed_in(None, " Sub-42 ", None)
    # Subjects are case-sensitive: kept as the provider gives them.
    assert (person.id, person.name, person.label) == ("Sub-42", "Sub-42", "Sub-42")
    assert Person.signed_in("", "sub-42", "  ").id == "sub-42"


@pytest.mark.parametrize(("email", "subject"), [(None, None), ("", "  "), ("  ", "")])
def test_a_sign_in_without_email_or_subject_is_refused(email, subject):
    with pytest.raises(AccessDeniedError, match="neither an email nor a subject"):
        Person.signed_in(email, subject, "Someone")


def test_the_local_user_is_named_plainly():
    assert LOCAL_USER.local and LOCAL_USER.label == "the local user"
    assert not Person("local").local  # a sign-in called "local" is not the local user


def test_roles_are_named_in_any_case_and_ordered():
    assert Role.named(" Editor ") is Role.EDITOR
    assert Role.named("READER") is Role.READER
    assert Role.named("owner") is Role.OWNER
    assert Role.READER < Role.EDITOR < Role.OWNER
    assert [role.label for role in Role] == ["reader", "editor", "owner"]


@pytest.mark.parametrize("name", ["admin", "", "readers"])
def test_an_unknown_role_is_refused_with_the_roles_there_are(name):
    with pytest.raises(AccessDeniedError, match="shared as reader or editor"):
        Role.named(name)


# The least role each action needs: reading for readers, changing documents for editors,
# changing the knowledge base itself for its owner.
NEEDS = {
    Action.SEARCH: Role.READER,
    Action.ANSWER: Role.READER,
    Action.READ: Role.READER,
    Action.DOWNLOAD: Role.READER,
    Action.EVALUATE: Role.READER,
    Action.ADD: Role.EDITOR,
    Action.DELETE: Role.EDITOR,
    Action.CANCEL: Role.EDITOR,
    Action.SHARE: Role.OWNER,
    Action.RENAME: Role.OWNER,
    Action.CHANGE_SETTINGS: Role.OWNER,
    Action.DELETE_KB: Role.OWNER,
    Action.READ_AUDIT: Role.OWNER,
}


def test_each_action_needs_the_role_the_rules_give_it():
    assert {action: action.needs for action in Action} == NEEDS


def test_each_action_is_said_its_own_way_in_refusals():
    verbs = [action.verb for action in Action]
    assert len(set(verbs)) == len(verbs)
    assert all(verb and verb == verb.strip() for verb in verbs)


def _settings(**environ: str) -> Settings:
    return load_settings(environ=environ, env_file=None)


def test_the_people_settings_default_to_no_admins_and_modest_limits():
    settings = _settings()
    assert settings.admins == ()
    assert settings.person_questions_per_minute == 20
    assert settings.person_storage_mb == 2048


def test_admins_are_a_comma_separated_list_of_folded_emails():
    settings = _settings(RAG_ADMINS=" Ada@Example.com, ,bob@example.org,")
    assert settings.admins == ("ada@example.com", "bob@example.org")


def test_the_limits_of_one_person_are_read_and_checked():
    settings = _settings(RAG_PERSON_QUESTIONS_PER_MINUTE="5", RAG_PERSON_STORAGE_MB="0")
    assert (settings.person_questions_per_minute, settings.person_storage_mb) == (5, 0)
    with pytest.raises(SettingsError, match="RAG_PERSON_QUESTIONS_PER_MINUTE"):
        _settings(RAG_PERSON_QUESTIONS_PER_MINUTE="0")
    with pytest.raises(SettingsError, match="RAG_PERSON_STORAGE_MB"):
        _settings(RAG_PERSON_STORAGE_MB="-1")
    with pytest.raises(SettingsError, match="RAG_PERSON_STORAGE_MB"):
        _settings(RAG_PERSON_STORAGE_MB="lots")


def test_an_email_the_provider_has_not_verified_is_refused():
    with pytest.raises(AccessDeniedError, match="has not verified your email"):
        Person.signed_in("ada@example.com", "sub-1", "Ada", email_verified=False)
    assert Person.signed_in("ada@example.com", "sub-1", "Ada", email_verified=True).id == (
        "ada@example.com"
    )
    # Providers that send no such claim (Entra ID) are taken at their word.
    assert Person.signed_in("ada@example.com", "sub-1", "Ada").id == "ada@example.com"


def test_person_keys_fold_emails_and_keep_subjects():
    assert person_key(" Ada@Example.COM ") == "ada@example.com"
    assert person_key(" AbC-xYz_09 ") == "AbC-xYz_09"


@pytest.mark.parametrize(
    ("allowed", "admitted"),
    [
        ((), True),
        (("ada@example.com",), True),
        (("@example.com",), True),
        (("@example.org", "bob@example.com"), False),
        (("@ample.com",), False),
    ],
)
def test_only_the_people_and_domains_allowed_may_sign_in(allowed, admitted):
    ada = Person("ada@example.com", "Ada")
    if admitted:
        admit(ada, allowed)
    else:
        with pytest.raises(AccessDeniedError, match="may not use this app"):
            admit(ada, allowed)
    admit(LOCAL_USER, ("@example.org",))  # without sign-in there is nobody to refuse


def test_who_may_sign_in_and_whether_sign_in_is_required_are_settings():
    settings = load_settings(
        {"RAG_ALLOWED_PEOPLE": " Ada@Example.com , @Example.ORG,", "RAG_REQUIRE_SIGN_IN": "on"},
        env_file=None,
    )
    assert settings.allowed_people == ("ada@example.com", "@example.org")
    assert settings.require_sign_in is True
    assert load_settings({}, env_file=None).require_sign_in is None
    assert load_settings({"RAG_REQUIRE_SIGN_IN": "off"}, env_file=None).require_sign_in is False
    with pytest.raises(SettingsError, match="RAG_REQUIRE_SIGN_IN"):
        load_settings({"RAG_REQUIRE_SIGN_IN": "maybe"}, env_file=None)
