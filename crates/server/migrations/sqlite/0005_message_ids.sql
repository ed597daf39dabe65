-- Message ids are stored in one spelling, lowercase (crates/server/src/chat/mod.rs
-- `message_id`): ids stored before in upper case become lowercase, so a resend of one is
-- found. Where both spellings were stored (two messages already), the upper-case one stays.
UPDATE OR IGNORE messages SET client_msg_id = lower(client_msg_id)
WHERE client_msg_id <> lower(client_msg_id);
