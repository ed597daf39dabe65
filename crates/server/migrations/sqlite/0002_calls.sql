-- Calls the operator handles, and every event that moved them (what the telephone system and
-- the operators did, in order).

CREATE TABLE calls (
    id              INTEGER PRIMARY KEY,
    caller_name     TEXT    NOT NULL,
    caller_number   TEXT    NOT NULL,
    dialled         TEXT    NOT NULL,
    caller_user     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    state           TEXT    NOT NULL
        CHECK (state IN ('queued', 'active', 'held', 'transferring', 'cleared')),
    queued_at_ms    INTEGER NOT NULL,
    answered_at_ms  INTEGER,
    transfer_target INTEGER REFERENCES directory_entries(id) ON DELETE SET NULL
);
CREATE INDEX calls_open ON calls(state) WHERE state <> 'cleared';

CREATE TABLE call_events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id  INTEGER NOT NULL REFERENCES calls(id),
    -- queue, answer, hold, transfer, clear
    action   TEXT    NOT NULL,
    target   INTEGER,
    -- state of the call after the event
    state    TEXT    NOT NULL,
    -- 'telephony' (the adapter reported it) or 'operator:<username>'
    source   TEXT    NOT NULL,
    at_ms    INTEGER NOT NULL
);
CREATE INDEX call_events_call ON call_events(call_id);
