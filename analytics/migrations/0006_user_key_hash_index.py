"""On PostgreSQL the dictionary of user keys also has a hash index on ``key``.

A summary numbers the distinct user keys of the pending events by looking each one up in the
dictionary (``analytics.sql.event_summary_rows``): with 2,000 pending events that was half of
the statement's time through the unique B-tree, whose every step compares two strings under
the database's collation. A hash index finds a key by one hash and one page: the same
lookups cost a third less (docs/decisions/0066-analytics-user-bitmaps.md). The B-tree stays:
it is the uniqueness constraint.

Not a ``Meta.indexes`` entry: SQLite has no hash index, and its reads are planned otherwise.
"""

from django.db import migrations

INDEX = "analytics_userkey_key_hash"


def _create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON analytics_userkey USING hash (key)"
        )


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("analytics", "0005_event_no_user_index")]

    operations = [migrations.RunPython(_create, _drop, elidable=False)]
