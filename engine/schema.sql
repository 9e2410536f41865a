-- classpulse DuckDB schema. The event log is the system of record; every other
-- live state is derived from it and can be rebuilt by replaying it.
CREATE TABLE IF NOT EXISTS professors (
    professor_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, email VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS courses (
    course_id VARCHAR PRIMARY KEY, professor_id VARCHAR NOT NULL, title VARCHAR NOT NULL,
    clock VARCHAR NOT NULL, starts_at DOUBLE, ends_at DOUBLE, activities JSON NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS students (
    student_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS enrollments (
    course_id VARCHAR NOT NULL, student_id VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT now(), PRIMARY KEY (course_id, student_id));
CREATE TABLE IF NOT EXISTS tokens (
    token_hash VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, principal_id VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT now(), revoked_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS student_activity_log (
    seq BIGINT NOT NULL, event_id VARCHAR NOT NULL, fingerprint BIGINT NOT NULL,
    student_id VARCHAR NOT NULL, course_id VARCHAR NOT NULL, activity_id VARCHAR,
    type VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, received_at TIMESTAMP NOT NULL,
    progress DOUBLE, correct BOOLEAN, duration_s DOUBLE, ts_given BOOLEAN NOT NULL,
    shard_key UINTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS real_time_progress_snapshots (
    snapshot_at TIMESTAMP NOT NULL, seq BIGINT NOT NULL, shard_count INTEGER NOT NULL,
    shard_index INTEGER NOT NULL, course_id VARCHAR NOT NULL, student_id VARCHAR NOT NULL,
    completion DOUBLE NOT NULL, time_on_task_s DOUBLE NOT NULL, state JSON NOT NULL);
-- The highest seq ever handed out, kept when an erasure deletes the newest rows: seqs are never
-- reused, so checkpoints and derived tables (which record seqs) never skip a later event.
CREATE TABLE IF NOT EXISTS log_high_water (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS shard_checkpoints (
    shard_count INTEGER NOT NULL, shard_index INTEGER NOT NULL, seq BIGINT NOT NULL,
    written_at TIMESTAMP NOT NULL DEFAULT now(), PRIMARY KEY (shard_count, shard_index));
CREATE TABLE IF NOT EXISTS alert_configurations (
    course_id VARCHAR PRIMARY KEY, config JSON NOT NULL, updated_by VARCHAR,
    updated_at TIMESTAMP NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS intervention_records (
    intervention_id VARCHAR PRIMARY KEY, course_id VARCHAR NOT NULL, student_id VARCHAR NOT NULL,
    professor_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, payload JSON NOT NULL,
    created_at TIMESTAMP NOT NULL, delivered_at TIMESTAMP, read_at TIMESTAMP,
    holdout BOOLEAN NOT NULL DEFAULT false);
CREATE TABLE IF NOT EXISTS engagement_metrics (
    course_id VARCHAR NOT NULL, student_id VARCHAR NOT NULL, minute TIMESTAMP NOT NULL,
    events INTEGER NOT NULL, learning_events INTEGER NOT NULL, attempts INTEGER NOT NULL,
    errors INTEGER NOT NULL, hints INTEGER NOT NULL, up_to_seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    message_id VARCHAR PRIMARY KEY, course_id VARCHAR, sender_id VARCHAR NOT NULL,
    recipient_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, body JSON NOT NULL,
    created_at TIMESTAMP NOT NULL, delivered_at TIMESTAMP, read_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS office_hours_queue (
    entry_id VARCHAR PRIMARY KEY, course_id VARCHAR NOT NULL, student_id VARCHAR NOT NULL,
    topic VARCHAR, joined_at TIMESTAMP NOT NULL, state VARCHAR NOT NULL,
    started_at TIMESTAMP, ended_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS audit_log (
    logged_at TIMESTAMP NOT NULL DEFAULT now(), actor_role VARCHAR NOT NULL, actor_id VARCHAR NOT NULL,
    action VARCHAR NOT NULL, target VARCHAR, detail JSON);
CREATE TABLE IF NOT EXISTS erased_event_ids (
    event_id_hash VARCHAR PRIMARY KEY, fingerprint BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS xapi_statements (
    statement_id VARCHAR PRIMARY KEY, stored_at TIMESTAMP NOT NULL DEFAULT now(),
    statement JSON NOT NULL, applied BOOLEAN NOT NULL, note VARCHAR, credential VARCHAR);
ALTER TABLE xapi_statements ADD COLUMN IF NOT EXISTS course_id VARCHAR;
ALTER TABLE xapi_statements ADD COLUMN IF NOT EXISTS student_id VARCHAR;
ALTER TABLE xapi_statements ADD COLUMN IF NOT EXISTS event_id VARCHAR;
ALTER TABLE xapi_statements ADD COLUMN IF NOT EXISTS voids VARCHAR;
ALTER TABLE xapi_statements ADD COLUMN IF NOT EXISTS voided_by VARCHAR;
CREATE TABLE IF NOT EXISTS xapi_credentials (
    credential_key VARCHAR PRIMARY KEY, institution VARCHAR, course_ids VARCHAR[] NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT now(), revoked_at TIMESTAMP);
-- == communication: chat, messaging, live work view (issue 6, comms) ==
-- Chat messages use `messages` (kind 'chat'); bulk and one-click messages are
-- `intervention_records` (kind 'message'), with delivered_at / read_at receipts.
CREATE TABLE IF NOT EXISTS work_view_consents (
    course_id VARCHAR NOT NULL, student_id VARCHAR NOT NULL, consent BOOLEAN NOT NULL,
    updated_at TIMESTAMP NOT NULL DEFAULT now(), PRIMARY KEY (course_id, student_id));
-- == end communication ==
-- office hours, peer-help groups, notifications (engine/support_store.py) ----------
ALTER TABLE office_hours_queue ADD COLUMN IF NOT EXISTS tier INTEGER DEFAULT 0;
ALTER TABLE office_hours_queue ADD COLUMN IF NOT EXISTS position DOUBLE DEFAULT 0;
ALTER TABLE office_hours_queue ADD COLUMN IF NOT EXISTS defers INTEGER DEFAULT 0;
ALTER TABLE office_hours_queue ADD COLUMN IF NOT EXISTS helped_by VARCHAR;
ALTER TABLE office_hours_queue ADD COLUMN IF NOT EXISTS nudged BOOLEAN DEFAULT false;
CREATE TABLE IF NOT EXISTS peer_groups (
    group_id VARCHAR PRIMARY KEY, course_id VARCHAR NOT NULL, activity_id VARCHAR,
    members JSON NOT NULL, created_by VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS peer_pairs (
    course_id VARCHAR NOT NULL, student_a VARCHAR NOT NULL, student_b VARCHAR NOT NULL,
    group_id VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS notification_preferences (
    professor_id VARCHAR PRIMARY KEY, prefs JSON NOT NULL, updated_at TIMESTAMP NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS notification_log (
    notification_id VARCHAR NOT NULL, channel VARCHAR NOT NULL, professor_id VARCHAR NOT NULL,
    course_id VARCHAR, student_id VARCHAR, alert_id VARCHAR, kind VARCHAR, priority INTEGER,
    target VARCHAR, status VARCHAR NOT NULL, attempts INTEGER NOT NULL, last_error VARCHAR,
    created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, PRIMARY KEY (notification_id, channel));
-- xAPI actors mapped to students by an admin (engine/xapi.py actor_key -> student_id)
CREATE TABLE IF NOT EXISTS xapi_actor_map (
    actor_key VARCHAR PRIMARY KEY, student_id VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT now());
-- == analytics: derived facts and rollups, kept after commits (engine/analytics/derived.py) ==
-- All derivable from student_activity_log; analytics_state.up_to_seq says how far.
CREATE TABLE IF NOT EXISTS analytics_state (id INTEGER PRIMARY KEY, up_to_seq BIGINT NOT NULL);
-- The version of the rules the derived rows were computed under (engine/analytics/derived.py RULES).
CREATE TABLE IF NOT EXISTS analytics_rules (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS analytics_courses (course_id VARCHAR PRIMARY KEY, cap DOUBLE NOT NULL);
CREATE TABLE IF NOT EXISTS analytics_voided (event_id VARCHAR NOT NULL, student_id VARCHAR, seq BIGINT);
CREATE TABLE IF NOT EXISTS analytics_facts (
    course_id VARCHAR NOT NULL, student_id VARCHAR NOT NULL, activity_id VARCHAR, type VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL, e DOUBLE NOT NULL, seq BIGINT NOT NULL, correct BOOLEAN, progress DOUBLE,
    duration_s DOUBLE, gap_before DOUBLE, prev_type VARCHAR, gain DOUBLE, session BIGINT, spent DOUBLE,
    session_end BOOLEAN);
CREATE TABLE IF NOT EXISTS analytics_tails (
    course_id VARCHAR NOT NULL, student_id VARCHAR NOT NULL, activity_id VARCHAR, type VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL, e DOUBLE NOT NULL, seq BIGINT NOT NULL, correct BOOLEAN, progress DOUBLE,
    duration_s DOUBLE, gap_before DOUBLE, prev_type VARCHAR, gain DOUBLE, session BIGINT, spent DOUBLE,
    session_end BOOLEAN, PRIMARY KEY (course_id, student_id));
CREATE TABLE IF NOT EXISTS analytics_marks (
    course_id VARCHAR NOT NULL, student_id VARCHAR NOT NULL, activity_id VARCHAR NOT NULL, last_type VARCHAR,
    max_mark DOUBLE, PRIMARY KEY (course_id, student_id, activity_id));
CREATE TABLE IF NOT EXISTS analytics_blocks (
    course_id VARCHAR NOT NULL, student_id VARCHAR NOT NULL, block BIGINT NOT NULL, after_hint BOOLEAN NOT NULL,
    events BIGINT, attempts BIGINT, correct BIGINT, done BIGINT, spent DOUBLE, gain DOUBLE, min_e DOUBLE,
    max_e DOUBLE, PRIMARY KEY (course_id, student_id, block, after_hint));
CREATE TABLE IF NOT EXISTS analytics_activities (
    course_id VARCHAR NOT NULL, student_id VARCHAR NOT NULL, activity_id VARCHAR NOT NULL, events BIGINT,
    attempts BIGINT, errors BIGINT, hints BIGINT, done BIGINT, spent DOUBLE,
    PRIMARY KEY (course_id, student_id, activity_id));
CREATE TABLE IF NOT EXISTS analytics_sessions (
    course_id VARCHAR NOT NULL, student_id VARCHAR NOT NULL, session BIGINT NOT NULL, events BIGINT,
    attempts BIGINT, correct BIGINT, done BIGINT, active DOUBLE, hints BIGINT, started BIGINT, min_e DOUBLE,
    max_e DOUBLE, last_spent DOUBLE, PRIMARY KEY (course_id, student_id, session));
