-- Users, their sessions and their chosen presence; the company directory.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    -- PHC string (argon2id); NULL for accounts nobody signs in to.
    password_hash TEXT,
    -- The state the user chose; shown while at least one session is connected.
    presence      TEXT    NOT NULL DEFAULT 'available'
        CHECK (presence IN ('available', 'busy', 'away', 'dnd'))
);

CREATE TABLE sessions (
    -- SHA-256 of the cookie token, hex: a leaked database does not leak live sessions.
    token_hash  TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE directory_entries (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    -- JSON array of phone numbers, first is the main one.
    numbers     TEXT    NOT NULL DEFAULT '[]',
    department  TEXT    NOT NULL DEFAULT '',
    title       TEXT    NOT NULL DEFAULT '',
    location    TEXT    NOT NULL DEFAULT '',
    user_id     INTEGER REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX directory_entries_name ON directory_entries(name);
