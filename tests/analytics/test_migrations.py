"""The move from per-day user rows to per-day bitmaps keeps every processed user."""

from datetime import date

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from pyroaring import BitMap

BEFORE = [("analytics", "0002_event_and_daily_user_app_unconstrained")]
AFTER = [("analytics", "0003_user_bitmaps")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_daily_user_rows_become_one_bitmap_per_app_event_and_day():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        old = _migrate(BEFORE)
        user = old.get_model("auth", "User").objects.create(username="owner")
        app_model = old.get_model("analytics", "App")
        apps = [
            app_model.objects.create(
                owner_id=user.pk, name=n, domain="https://a.example", created_at=timezone.now()
            )
            for n in ("a", "b")
        ]
        rows = [
            (apps[0], "click", date(2024, 3, 1), "u:u1"),
            (apps[0], "click", date(2024, 3, 1), "i:10.0.0.1"),
            (apps[0], "click", date(2024, 3, 2), "u:u1"),
            (apps[1], "click", date(2024, 3, 1), "u:u1"),
            (apps[0], "view", date(2024, 3, 1), "u:u2"),
        ]
        daily_user = old.get_model("analytics", "DailyUser")
        daily_user.objects.bulk_create(
            daily_user(app_id=a.pk, event=e, day=d, user_key=k) for a, e, d, k in rows
        )

        new = _migrate(AFTER)
        keys = dict(new.get_model("analytics", "UserKey").objects.values_list("id", "key"))
        assert sorted(keys.values()) == ["i:10.0.0.1", "u:u1", "u:u2"]
        found = {}
        for s in new.get_model("analytics", "DailyUserSet").objects.all():
            numbers = BitMap.deserialize(bytes(s.users))
            assert s.user_count == len(numbers)
            found[(s.app_id, s.event, s.day)] = {keys[n] for n in numbers}
        expected: dict = {}
        for a, e, d, k in rows:
            expected.setdefault((a.pk, e, d), set()).add(k)
        assert found == expected
    finally:
        _migrate(latest)


def _user_key_indexes() -> dict[str, str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "analytics_userkey")
    return {
        name: c["type"] if c["index"] else "unique"
        for name, c in constraints.items()
        if not c["primary_key"] and (c["index"] or c["unique"])
    }


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_user_keys_have_a_hash_index_beside_the_unique_btree():
    """Migration 0006 (PostgreSQL only) adds the hash index the summaries' key lookups use,
    and removes it when unapplied; SQLite keeps the unique index alone."""
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    postgres = connection.vendor == "postgresql"
    hash_index = {"analytics_userkey_key_hash": "hash"} if postgres else {}
    unique = {"analytics_userkey_unique": "unique"}
    try:
        assert _user_key_indexes() == {**unique, **hash_index}
        _migrate([("analytics", "0005_event_no_user_index")])
        assert _user_key_indexes() == unique
    finally:
        _migrate(latest)
    assert _user_key_indexes() == {**unique, **hash_index}
