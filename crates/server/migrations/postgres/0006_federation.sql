-- Federation over XMPP (crates/server/src/federation). PostgreSQL form of
-- migrations/sqlite/0006_federation.sql.

-- The bare JID (lowercase) of a federated contact; NULL for Switchboard's own users.
ALTER TABLE users ADD COLUMN xmpp TEXT;
CREATE UNIQUE INDEX users_xmpp ON users(xmpp) WHERE xmpp IS NOT NULL;

-- The XMPP stanza id of a message that came from an XMPP user.
CREATE TABLE xmpp_inbound (
    message_id  BIGINT  PRIMARY KEY REFERENCES messages(id),
    stanza_id   TEXT    NOT NULL
);

-- How far messages to XMPP users are known to have reached the XMPP server.
CREATE TABLE xmpp_forwarded (
    singleton   BIGINT  PRIMARY KEY CHECK (singleton = 1),
    message_id  BIGINT  NOT NULL
);

-- Federated contacts who asked to see a Switchboard user's presence (bare JIDs).
CREATE TABLE xmpp_subscribers (
    user_id     BIGINT  NOT NULL REFERENCES users(id),
    jid         TEXT    NOT NULL,
    PRIMARY KEY (user_id, jid)
);
