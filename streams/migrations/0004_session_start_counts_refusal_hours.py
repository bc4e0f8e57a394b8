"""PostgreSQL: the one-round-trip start (migration 0002) also counts a refusal in its hour.

The same function as 0002's, with one statement added to the refusal branch: an upsert of the
viewer's row in ``streams_refusalhour`` (docs/decisions/0031-refusals.md). A migration keeps its
own copy of the SQL; going back restores 0002's.
"""

from importlib import import_module

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION streams_session_start(
    p_user_id text, p_device_id text, p_content_id text, p_session_id uuid, p_new_id uuid,
    p_lease interval, p_default_limit integer
) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    viewer record;
    lim integer;
    now_ timestamptz;
    active jsonb;
    n_active integer;
    found_session record;
BEGIN
    SELECT id, max_streams INTO viewer FROM streams_viewer WHERE user_id = p_user_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'viewer_not_found');
    END IF;
    lim := COALESCE(viewer.max_streams, p_default_limit);
    -- Read after the lock is held: later than any commit of a competing start or heartbeat.
    now_ := clock_timestamp();
    SELECT COALESCE(jsonb_agg(to_jsonb(s) ORDER BY s.started_at, s.id), '[]'::jsonb), COUNT(*)
    INTO active, n_active
    FROM (
        SELECT id, device_id, content_id, started_at, last_heartbeat, expires_at
        FROM streams_streamsession
        WHERE viewer_id = viewer.id AND ended_at IS NULL AND expires_at > now_
    ) AS s;

    IF p_session_id IS NOT NULL THEN
        SELECT * INTO found_session FROM streams_streamsession WHERE id = p_session_id;
        IF FOUND THEN
            IF found_session.viewer_id <> viewer.id THEN
                RETURN jsonb_build_object('outcome', 'session_id_taken');
            END IF;
            IF found_session.ended_at IS NOT NULL OR found_session.expires_at <= now_ THEN
                RETURN jsonb_build_object('outcome', 'session_ended');
            END IF;
            RETURN jsonb_build_object('outcome', 'existing', 'session', to_jsonb(found_session),
                                      'active', n_active, 'limit', lim);
        END IF;
    END IF;

    IF p_device_id IS NOT NULL THEN
        SELECT * INTO found_session FROM streams_streamsession
        WHERE viewer_id = viewer.id AND device_id = p_device_id AND ended_at IS NULL
            AND expires_at > now_;
        IF FOUND THEN
            RETURN jsonb_build_object('outcome', 'existing', 'session', to_jsonb(found_session),
                                      'active', n_active, 'limit', lim);
        END IF;
    END IF;

    IF n_active >= lim THEN
        UPDATE streams_viewer SET refusal_count = refusal_count + 1, last_refused_at = now_
        WHERE id = viewer.id;
        -- The hour's count, on a row only this viewer's starts (serialised by the lock above)
        -- ever write.
        INSERT INTO streams_refusalhour (viewer_id, hour, count)
        VALUES (viewer.id, date_trunc('hour', now_, 'UTC'), 1)
        ON CONFLICT (viewer_id, hour)
        DO UPDATE SET count = streams_refusalhour.count + 1;
        RETURN jsonb_build_object('outcome', 'refused', 'limit', lim, 'active_sessions', active);
    END IF;

    IF p_device_id IS NOT NULL THEN
        -- This device's previous session lapsed without a stop: close it (it no longer
        -- counts) so the one-open-session-per-device constraint holds.
        UPDATE streams_streamsession SET ended_at = expires_at, end_reason = 'expired'
        WHERE viewer_id = viewer.id AND device_id = p_device_id AND ended_at IS NULL;
    END IF;

    INSERT INTO streams_streamsession (id, viewer_id, device_id, content_id, started_at,
                                       last_heartbeat, expires_at, ended_at, end_reason)
    VALUES (COALESCE(p_session_id, p_new_id), viewer.id, p_device_id, p_content_id, now_, now_,
            now_ + p_lease, NULL, '')
    RETURNING * INTO found_session;
    RETURN jsonb_build_object('outcome', 'created', 'session', to_jsonb(found_session),
                              'active', n_active + 1, 'limit', lim);
END;
$$;
"""


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def restore(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        previous = import_module("streams.migrations.0002_session_start_function")
        schema_editor.execute(previous.CREATE)


class Migration(migrations.Migration):
    dependencies = [("streams", "0003_refusal_hours")]

    operations = [migrations.RunPython(create, restore, elidable=False)]
