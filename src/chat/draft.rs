//! What the compose box may send: checks before sending, and the call context prefix.

/// Why a draft is not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftError {
    /// Nothing but whitespace: silently not sent.
    Empty,
    /// Not sendable, for the reason the sentence gives (e.g. over the limit, saying it).
    Refused(String),
}

/// The text to send for `draft`, or why not. The server checks the same (docs/design.md, quality bars); checking
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

/// `text` with its UTF-16 range `start..end` (a textarea's selection) replaced by `insert`, and
/// the UTF-16 offset just after the insertion, where the cursor goes.
pub fn splice(text: &str, start: u32, end: u32, insert: &str) -> (String, u32) {
    let byte_at = |utf16: u32| {
        let mut units = 0;
        text.char_indices()
            .find(|(_, c)| {
                let here = units;
                units += c.len_utf16() as u32;
                here >= utf16
            })
            .map_or(text.len(), |(at, _)| at)
    };
    let (from, to) = (byte_at(start.min(end)), byte_at(start.max(end)));
    let spliced = format!("{}{insert}{}", &text[..from], &text[to..]);
    let cursor = text[..from].encode_utf16().count() + insert.encode_utf16().count();
    (spliced, u32::try_from(cursor).unwrap_or(u32::MAX))
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
    fn splicing_replaces_the_selection_counting_utf16_units() {
        assert_eq!(splice("ab", 1, 1, "😀"), ("a😀b".to_owned(), 3));
        assert_eq!(splice("a😀b", 3, 3, "!"), ("a😀!b".to_owned(), 4));
        assert_eq!(splice("hello", 1, 4, "😀"), ("h😀o".to_owned(), 3));
        assert_eq!(
            splice("hi", 9, 9, "😀"),
            ("hi😀".to_owned(), 4),
            "past the end appends"
        );
        assert_eq!(splice("", 0, 0, "😀"), ("😀".to_owned(), 2));
    }

    #[test]
    fn the_prefix_names_the_source_party_only_in_a_call() {
        let call = ("Jane Doe".to_owned(), "+1 555 0100".to_owned());
        assert_eq!(call_prefix(Some(&call)), "Jane Doe (+1 555 0100): ");
        assert_eq!(call_prefix(None), "");
    }
}
