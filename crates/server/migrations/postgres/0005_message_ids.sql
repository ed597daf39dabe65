-- Message ids are stored in one spelling, lowercase (crates/server/src/chat/mod.rs
-- `message_id`). A PostgreSQL database starts at this version with none stored otherwise;
-- the version exists so that both databases count the same migrations.
SELECT 1;
