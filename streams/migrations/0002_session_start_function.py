"""PostgreSQL: a start in one round trip (docs/decisions/0034-start-in-one-round-trip.md).

The function does what ``streams.services._session_start_locked`` does on SQLite, in the same
order: lock the viewer, read the clock after the lock, judge the open sessions by it, then
return a retry's session, refuse (counting the refusal) or close the device's lapsed session
and insert. A migration keeps its own copy of the SQL: a later change is a new migration.
"""

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
DROP = (
    "DROP FUNCTION IF EXISTS streams_session_start(text, text, text, uuid, uuid, interval, integer)"
)


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("streams", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
