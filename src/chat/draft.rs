//! What the compose box may send: checks before sending, and the call context prefix.

/// Why a draft is not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftError {
    /// Nothing but whitespace: silently not sent.
    Empty,
    /// Not sendable, for the reason the sentence gives (e.g. over the limit, saying it).
    Refused(String),
}

/// The text to send for `draft`, or why not. The server checks the same (DESIGN §7); checking
/// here tells the operator before anything leaves the console.
pub fn check(draft: &str, max_chars: usize) -> Result<&str, DraftError> {
    if draft.trim().is_empty() {
        return Err(DraftError::Empty);
    }
    let chars = draft.chars().count();
    if chars > max_chars {
        return Err(DraftError::Refused(format!(
            "Messages are limited to {max_chars} characters; this one has {chars}."
        )));
    }
    Ok(draft)
}

/// "Jane Doe (+1 555 0100): ": what a message starts with while the operator is in a call with
/// that source party; empty otherwise.
pub fn call_prefix(call: Option<&(String, String)>) -> String {
    call.map(|(name, number)| format!("{name} ({number}): "))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_drafts_are_not_sent_and_long_ones_say_the_limit() {
        assert_eq!(check("  \n\t", 10), Err(DraftError::Empty));
        assert_eq!(check("", 10), Err(DraftError::Empty));
        assert_eq!(check("héllo", 5), Ok("héllo"), "characters, not bytes");
        let Err(DraftError::Refused(sentence)) = check("abcdef", 5) else {
            panic!()
        };
        assert!(sentence.contains("limited to 5 characters"), "{sentence}");
    }

    #[test]
    fn the_prefix_names_the_source_party_only_in_a_call() {
        let call = ("Jane Doe".to_owned(), "+1 555 0100".to_owned());
        assert_eq!(call_prefix(Some(&call)), "Jane Doe (+1 555 0100): ");
        assert_eq!(call_prefix(None), "");
    }
}
