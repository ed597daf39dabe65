-- The operator's day. Callers who hung up while queued (missed_at_ms), until an operator marks
-- them done; the last call back. Night service, one row once first switched: whether the
-- switchboard is closed.
ALTER TABLE calls ADD COLUMN missed_at_ms BIGINT;
ALTER TABLE calls ADD COLUMN missed_done BIGINT NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN called_back_by TEXT;
ALTER TABLE calls ADD COLUMN called_back_at_ms BIGINT;
CREATE INDEX calls_missed ON calls(missed_at_ms) WHERE missed_at_ms IS NOT NULL AND missed_done = 0;
-- Today's calls of an operator: their events by time.
CREATE INDEX call_events_source ON call_events(source, at_ms);

CREATE TABLE night_service (
    id       BIGINT  PRIMARY KEY CHECK (id = 1),
    closed   BIGINT NOT NULL,
    by_name  TEXT    NOT NULL,
    since_ms BIGINT NOT NULL
);
