-- Absences: a user away until a time, with a text every console shows beside their presence.
CREATE TABLE absences (
    user_id  INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    text     TEXT    NOT NULL,
    until_ms INTEGER NOT NULL
);
