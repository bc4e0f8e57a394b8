"""On PostgreSQL the rate-limit counters live in an UNLOGGED table (decision 0060).

A counter is meaningful for one minute and needs no crash safety: an unlogged table writes no
WAL, so the increment's commit does not wait for a disk flush while it holds the counter row's
lock, and concurrent requests of one key no longer queue behind each other's flushes. After a
crash PostgreSQL empties the table: the current windows start again from zero.
"""

from django.db import migrations


def _alter(persistence: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE core_ratelimitcounter SET {persistence}")

    return run


class Migration(migrations.Migration):
    dependencies = [("core", "0002_rate_limit_counter")]

    operations = [migrations.RunPython(_alter("UNLOGGED"), _alter("LOGGED"), elidable=False)]
