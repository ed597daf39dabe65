-- Roles and deactivation; the directory as an administered list (stable ids from an import or
-- LDAP, tombstones); operator notes; the audit log, which is also the change feed every
-- running server follows (so that a command-line change reaches open consoles).

ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user'
    CHECK (role IN ('admin', 'operator', 'user'));
-- 0 once deactivated: cannot sign in; conversations stay readable by their partners.
ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1));

-- The stable id of the source (CSV "id" column, LDAP entryUUID / objectGUID).
ALTER TABLE directory_entries ADD COLUMN external_id TEXT;
ALTER TABLE directory_entries ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE directory_entries ADD COLUMN xmpp TEXT NOT NULL DEFAULT '';
-- Set when an import or sync removed the entry: hidden from the directory, conversations kept.
ALTER TABLE directory_entries ADD COLUMN removed_at_ms INTEGER;
UPDATE directory_entries SET external_id = 'entry-' || id;
CREATE UNIQUE INDEX directory_entries_external ON directory_entries(external_id);

CREATE TABLE entry_notes (
    entry_id      INTEGER PRIMARY KEY REFERENCES directory_entries(id),
    text          TEXT    NOT NULL,
    author        TEXT    NOT NULL,
    updated_at_ms INTEGER NOT NULL
);

CREATE TABLE audit_log (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms   INTEGER NOT NULL,
    -- admin's username, 'cli', or 'ldap-sync'
    actor   TEXT    NOT NULL,
    -- user.add, user.role, user.deactivate, user.activate, user.password, directory.import,
    -- directory.sync, settings.change
    action  TEXT    NOT NULL,
    detail  TEXT    NOT NULL DEFAULT '',
    -- the user an action on an account was about (the change feed closes their consoles)
    user_id INTEGER REFERENCES users(id)
);

-- Chat settings changed in the Administration view (JSON of ChatSettings); they win over the
-- config file until changed again.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The last LDAP sync: one row.
CREATE TABLE directory_sync (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    finished_at_ms INTEGER NOT NULL,
    added          INTEGER NOT NULL,
    changed        INTEGER NOT NULL,
    removed        INTEGER NOT NULL,
    error          TEXT
);
