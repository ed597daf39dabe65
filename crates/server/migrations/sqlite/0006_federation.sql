-- Federation over XMPP (crates/server/src/federation): people on the company's XMPP server
-- are accounts nobody signs in to, one per directory entry with an XMPP address.

-- The bare JID (lowercase) of a federated contact; NULL for Switchboard's own users.
ALTER TABLE users ADD COLUMN xmpp TEXT;
CREATE UNIQUE INDEX users_xmpp ON users(xmpp) WHERE xmpp IS NOT NULL;

-- The XMPP stanza id of a message that came from an XMPP user: what a read marker sent back
-- to them (XEP-0333 `displayed`) names.
CREATE TABLE xmpp_inbound (
    message_id  INTEGER PRIMARY KEY REFERENCES messages(id),
    stanza_id   TEXT    NOT NULL
);

-- How far messages to XMPP users are known to have reached the XMPP server: every message
-- to a federated contact with an id up to `message_id` was accepted (its stream answered a
-- ping sent after it). On each new link, what came after is sent again, with the same ids.
CREATE TABLE xmpp_forwarded (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    message_id  INTEGER NOT NULL
);

-- Federated contacts who asked to see a Switchboard user's presence (a subscription or a
-- probe, as bare JIDs): told of each change, also after a restart.
CREATE TABLE xmpp_subscribers (
    user_id     INTEGER NOT NULL REFERENCES users(id),
    jid         TEXT    NOT NULL,
    PRIMARY KEY (user_id, jid)
) WITHOUT ROWID;
