-- 1:1 conversations and their messages.

CREATE TABLE conversations (
    id          INTEGER PRIMARY KEY,
    -- The two parties, smaller id first, so a pair has exactly one conversation.
    user_a      INTEGER NOT NULL REFERENCES users(id),
    user_b      INTEGER NOT NULL REFERENCES users(id),
    -- Seq of the newest message; the next gets last_seq + 1.
    last_seq    INTEGER NOT NULL DEFAULT 0,
    last_at_ms  INTEGER NOT NULL DEFAULT 0,
    CHECK (user_a < user_b),
    UNIQUE (user_a, user_b)
);
CREATE INDEX conversations_b ON conversations(user_b);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    seq             INTEGER NOT NULL,
    sender          INTEGER NOT NULL REFERENCES users(id),
    recipient       INTEGER NOT NULL REFERENCES users(id),
    -- The sender's UUID for the message: a resend with the same id is the same message.
    client_msg_id   TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    sent_at_ms      INTEGER NOT NULL,
    UNIQUE (conversation_id, seq),
    UNIQUE (sender, client_msg_id)
);

-- How far each party of a conversation has got. Only grow. Red dots and receipts derive
-- from these and the messages; no unread counter is stored.
CREATE TABLE markers (
    user_id         INTEGER NOT NULL REFERENCES users(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    read_seq        INTEGER NOT NULL DEFAULT 0,
    delivered_seq   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, conversation_id)
) WITHOUT ROWID;
