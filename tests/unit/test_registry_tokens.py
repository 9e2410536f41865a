"""Tokens and rosters in the registry (real DuckDB file), the admin token file, and log scrubbing."""
from __future__ import annotations

import os
import stat

import pytest

from actors.logs import scrub
from actors.registry import Registry, hash_token
from actors.topology import DomainError
from classpulse import admin_token
from engine.store import Store


def registry_on(path) -> tuple[Store, Registry]:
    store = Store(path)
    return store, Registry(store, store.load_catalog())


def test_rotating_a_professors_token_leaves_a_student_of_the_same_id_signed_in(tmp_path):
    store, reg = registry_on(tmp_path / "db.duckdb")
    reg.add_professor("pat", "Pat", None, False)
    reg.add_course({"course_id": "c1", "professor_id": "pat", "title": "C",
                    "activities": [{"activity_id": "a", "title": "A", "expected_minutes": 1}]})
    [student] = reg.add_students("c1", [{"student_id": "pat", "name": "Pat the student"}], False)
    rotated, _ = reg.add_professor("pat", "Pat", None, True)
    assert reg.principal(hash_token(student["token"])) == ("student", "pat")
    assert reg.principal(hash_token(rotated["token"])) == ("professor", "pat")
    store.close()
    store, reg = registry_on(tmp_path / "db.duckdb")  # and in the file
    assert reg.principal(hash_token(student["token"])) == ("student", "pat")
    store.close()


def test_a_roster_naming_a_student_twice_is_refused(tmp_path):
    store, reg = registry_on(tmp_path / "db.duckdb")
    reg.add_professor("p1", "P", None, False)
    reg.add_course({"course_id": "c1", "professor_id": "p1", "title": "C",
                    "activities": [{"activity_id": "a", "title": "A", "expected_minutes": 1}]})
    with pytest.raises(DomainError) as err:
        reg.add_students("c1", [{"student_id": "s1", "name": "A"}, {"student_id": "s1", "name": "B"}], True)
    assert (err.value.status, err.value.field) == (422, "students") and "s1" in str(err.value)
    assert reg.catalog.rosters["c1"] == {}
    store.close()


def test_an_empty_admin_token_file_is_replaced_and_a_kept_one_is_private(tmp_path):
    path = tmp_path / "admin.token"
    path.write_text("")  # a crash right after the file was created
    token, _, generated = admin_token.resolve(None, tmp_path)
    assert generated and token.startswith("cpa_") and path.read_text().strip() == token
    os.chmod(path, 0o644)
    again, _, generated = admin_token.resolve(None, tmp_path)
    assert (again, generated) == (token, False) and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_xapi_secrets_are_scrubbed_like_other_tokens():
    secret = "cpx_" + "A1b2C3d4" * 5
    assert secret not in scrub(f"stored statements with {secret} for lms-1")
