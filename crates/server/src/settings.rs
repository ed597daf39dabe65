//! Chat settings an admin changes live: predefined messages and the chat key (never one of
//! the other shortcuts, `[keys]` in the config file). Stored in the
//! database once changed (they then win over the config file); every open console gets them
//! through the change feed ([`crate::audit`]).

use sqlx::AnyPool;
use switchboard_protocol::{ChatSettings, ClientConfig, keys::is_function_key};

use crate::{audit, config::Config, error::AppError};

/// Most predefined messages: they fill one menu.
const MAX_PREDEFINED: usize = 20;
const KEY: &str = "chat";

/// The console configuration as it stands: the config file's, with the stored chat settings
/// on top.
pub async fn load(db: &AnyPool, config: &Config) -> Result<ClientConfig, sqlx::Error> {
    let stored: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(KEY)
        .fetch_optional(db)
        .await?;
    let mut client = config.client.clone();
    match stored.map(|json| serde_json::from_str::<ChatSettings>(&json)) {
        Some(Ok(settings)) => {
            client.predefined_messages = settings.predefined_messages;
            // Saved before the other shortcuts had keys, a chat key may now be one of them.
            match client.keys.check(&settings.chat_key) {
                Ok(()) => client.chat_key = settings.chat_key,
                Err(clash) => tracing::warn!(
                    %clash,
                    "the saved chat key clashes with a shortcut; the config file's is used"
                ),
            }
        }
        Some(Err(err)) => tracing::warn!(%err, "stored chat settings are unreadable; ignored"),
        None => {}
    }
    Ok(client)
}

/// Whether `key` is a `KeyboardEvent.key` a console can see: a function key or one character.
fn is_key(key: &str) -> bool {
    is_function_key(key) || key.chars().count() == 1
}

/// Checks and stores new chat settings.
pub async fn save(
    db: &AnyPool,
    config: &Config,
    actor: &str,
    mut settings: ChatSettings,
) -> Result<(), AppError> {
    settings.chat_key = settings.chat_key.trim().to_owned();
    if !is_key(&settings.chat_key) {
        return Err(AppError::Invalid(
            "The chat key must be a function key (F1 to F24) or a single character.".into(),
        ));
    }
    if let Err(clash) = config.client.keys.check(&settings.chat_key) {
        return Err(AppError::Invalid(format!(
            "The chat key must differ from the other shortcuts ({clash})."
        )));
    }
    for message in &mut settings.predefined_messages {
        *message = message.trim().to_owned();
    }
    let max_chars = config.client.limits.max_message_chars;
    if settings.predefined_messages.len() > MAX_PREDEFINED
        || settings
            .predefined_messages
            .iter()
            .any(|message| message.is_empty() || message.chars().count() > max_chars)
    {
        return Err(AppError::Invalid(format!(
            "Give at most {MAX_PREDEFINED} predefined messages, none empty, each at most \
             {max_chars} characters."
        )));
    }
    let json = serde_json::to_string(&settings)
        .map_err(|err| AppError::Internal(format!("encoding settings: {err}")))?;
    let mut tx = crate::storage::begin_write(db).await?;
    sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(KEY)
        .bind(json)
        .execute(&mut *tx)
        .await?;
    let detail = format!(
        "chat key {}, {} predefined messages",
        settings.chat_key,
        settings.predefined_messages.len()
    );
    audit::record(&mut *tx, actor, "settings.change", &detail, None).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_key;

    #[test]
    fn the_chat_key_is_a_key_a_console_can_see() {
        for key in ["F1", "F9", "F24", "k", "§"] {
            assert!(is_key(key), "{key}");
        }
        for key in ["", "F0", "F25", "not a key at all", "Ctrl+K"] {
            assert!(!is_key(key), "{key}");
        }
    }
}
