"""Templates record how they were computed (migration 5); older templates read back as unrecorded."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from agent.store import MIGRATIONS, Store
from agent.store.db import iso
from tests.policy_cases import NOW
from tests.test_store import grant
from tools.errors import UserError
from tools.results import EmbeddingRecipe

RECIPE = EmbeddingRecipe(model="Dlib", detector="dlib", detect_max_side=640, align=True, mirror=True)


def _save(store: Store, **kw: object) -> str:
    store.grant_consent(grant(), actor="op", now=NOW)
    args: dict[str, object] = {
        "model": "Dlib",
        "detector": "dlib",
        "vector": [0.5] * 128,
        "image_sha256": "a" * 64,
        "expires_at": NOW + timedelta(days=10),
        "now": NOW,
        **kw,
    }
    return store.save_template("alice", **args)  # type: ignore[arg-type]


def test_recipe_round_trips_and_is_audited(store: Store) -> None:
    _save(store, recipe=RECIPE)
    template = store.get_template("alice", model="Dlib", detector="dlib", now=NOW)
    assert template is not None and template.recipe == RECIPE
    assert store.templates_for("alice")[0].recipe == RECIPE
    assert store.audit.query(kind="enrollment")[-1].summary["recipe"] == RECIPE.model_dump(mode="json")


def test_without_a_recipe_the_template_reads_as_unrecorded(store: Store) -> None:
    _save(store)
    template = store.get_template("alice", model="Dlib", detector="dlib", now=NOW)
    assert template is not None and not template.recipe.recorded
    assert (template.recipe.model, template.recipe.detector, template.recipe.mirror) == ("Dlib", "dlib", False)


def test_a_recipe_for_another_model_is_refused_with_nothing_written(store: Store) -> None:
    with pytest.raises(UserError, match="recipe"):
        _save(store, recipe=RECIPE.model_copy(update={"detector": "opencv"}))
    assert store.templates_for("alice") == []


def test_migration_5_keeps_older_templates_as_unrecorded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    for number, statements in MIGRATIONS[:3]:
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (number,))
    conn.execute("INSERT INTO subjects (id, created_at) VALUES ('bob', ?)", (iso(NOW),))
    conn.execute(
        "INSERT INTO templates (id, subject_id, model, detector, dim, vector, template_sha256, image_sha256, "
        "purpose, consent_id, created_at, expires_at) VALUES ('t1', 'bob', 'Dlib', 'dlib', 1, ?, 'x', 'y', "
        "'access_control', NULL, ?, ?)",
        (b"\0\0\x80\x3f", iso(NOW), iso(NOW + timedelta(days=1))),
    )
    conn.commit()
    conn.close()
    store = Store.open(path)
    template = store.get_template("bob", model="Dlib", detector="dlib", now=NOW)
    assert template is not None and template.vector == (1.0,)
    assert not template.recipe.recorded and "made before" in template.recipe.describe()
    store.close()
