-- Production-sized tables for the admin_scale scenario (bench/scenarios/admin_scale.py):
-- 3,000,000 analytics events (300,000 of them one app's), 300,000 user statistics, 18,000 daily
-- counts, 2,000,000 ingestion events, 100,000 viewers with 1,000,000 ended sessions and 200,000
-- refusal hours, 200,000 collection requests with 400,000 fetches, 200,000 deliveries and
-- 800,000 attempts. Rows as the services write them; the owner user exists beforehand.
INSERT INTO analytics_app (id, name, domain, created_at, owner_id) SELECT gen_random_uuid(), 'big', 'https://big.example.org', now(), id FROM auth_user WHERE username = 'bench-admin-owner';
INSERT INTO analytics_event (app_id, event, url, referrer, device, ip_address, user_id, user_key, browser, os, metadata, timestamp, day, received_at)
SELECT (SELECT id FROM analytics_app WHERE name = 'big'), 'click', '', '', 'mobile', '1.2.3.4', 'u'||g, 'u:u'||g, '', '', NULL, now(), current_date, now() FROM generate_series(1, 300000) g;
INSERT INTO analytics_app (id, name, domain, created_at, owner_id) SELECT gen_random_uuid(), 'app'||g, 'https://a'||g||'.example.org', now(), (SELECT id FROM auth_user WHERE username='bench-admin-owner') FROM generate_series(1,5) g;
INSERT INTO analytics_event (app_id, event, url, referrer, device, ip_address, user_id, user_key, browser, os, metadata, timestamp, day, received_at)
SELECT (SELECT id FROM analytics_app WHERE name='app'||(1+g%5)), 'ev'||(g%40), 'https://x.org/p', '', (ARRAY['mobile','desktop','tablet',''])[1+g%4], '10.0.0.1', 'u'||(g%50000), 'u:u'||(g%50000), 'Chrome', 'Linux', NULL, now() - (g%90||' days')::interval, (now() - (g%90||' days')::interval)::date, now() FROM generate_series(1, 2700000) g;
INSERT INTO analytics_userstat (user_id, total_events, last_timestamp, last_event_id, browser, os, ip_address, app_id)
SELECT 'u'||g, 10, now(), g, 'Chrome', 'Linux', '10.0.0.1', (SELECT id FROM analytics_app WHERE name='app'||(1+g%5)) FROM generate_series(1, 300000) g;
INSERT INTO analytics_dailycount (event, day, device, count, app_id)
SELECT 'ev'||(g%40), current_date - (g/200)%90, (ARRAY['mobile','desktop','tablet',''])[1+g%4], 5, (SELECT id FROM analytics_app WHERE name='app'||(1+(g/40)%5)) FROM generate_series(1, 18000) g ON CONFLICT DO NOTHING;
INSERT INTO ingestion_event (user_id, name, value, amount, idempotency_key, credential, received_at, out_of_range)
SELECT 'user'||(g%100000), (ARRAY['subscription','purchase','refund'])[1+g%3], g%1000, (g%1000)*10000, NULL, 'cred', now() - (g%1000||' minutes')::interval, false FROM generate_series(1, 2000000) g;
INSERT INTO streams_viewer (user_id, max_streams, refusal_count, last_refused_at, created_at, updated_at) SELECT 'viewer'||g, NULL, g%7, now(), now(), now() FROM generate_series(1,100000) g;
INSERT INTO streams_streamsession (id, device_id, content_id, started_at, last_heartbeat, expires_at, ended_at, end_reason, viewer_id)
SELECT gen_random_uuid(), 'd'||g, 'c'||g, now()-interval '1 day', now()-interval '1 day', now()-interval '23 hours', now()-interval '23 hours', 'stopped', (SELECT min(id) FROM streams_viewer) + g%100000 FROM generate_series(1, 1000000) g;
INSERT INTO streams_refusalhour (hour, count, viewer_id) SELECT date_trunc('hour', now()) - (g/100000||' hours')::interval, 3, (SELECT min(id) FROM streams_viewer) + g%100000 FROM generate_series(1, 200000) g ON CONFLICT DO NOTHING;
INSERT INTO webhooks_collectionrequest (id, providers, callback_url, callback_host, status, deadline_at, created_at, finished_at)
SELECT gen_random_uuid(), '["gas","internet"]', 'https://cb.example.org/hook', 'cb.example.org', (ARRAY['delivered','failed'])[1+g%2], now()+interval '1 hour', now() - (g||' seconds')::interval, now() FROM generate_series(1, 200000) g;
INSERT INTO webhooks_providerfetch (provider, state, attempts, next_attempt_at, claimed_until, data, fetched_at, last_error, request_id)
SELECT p, 'fetched', 2, NULL, NULL, '{"x":1}', now(), '', r.id FROM webhooks_collectionrequest r, (VALUES ('gas'),('internet')) v(p);
INSERT INTO webhooks_delivery (webhook_id, body, state, attempts, next_attempt_at, claimed_until, window_ends_at, last_status_code, last_response, created_at, delivered_at, request_id)
SELECT 'msg_'||md5(r.id::text), '{}', CASE WHEN r.status='failed' THEN 'failed' ELSE 'delivered' END, 3, NULL, NULL, now(), 500, 'err', now(), now(), r.id FROM webhooks_collectionrequest r;
INSERT INTO webhooks_attempt (kind, provider, number, outcome, status_code, response_excerpt, error, started_at, finished_at, next_attempt_at, request_id)
SELECT 'fetch', 'gas', n, 'failed', 500, 'x', '', now(), now(), NULL, r.id FROM webhooks_collectionrequest r, generate_series(1,4) n;
ANALYZE;
