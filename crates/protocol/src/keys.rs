//! The console's keyboard shortcuts: which key does what (the server's `[keys]` table, sent to
//! every console in `welcome`), and how a key is written ("F2", "/", "Alt+ArrowDown") and
//! matched against a key press.

use serde::{Deserialize, Serialize};

/// The key of every shortcut, as written in the configuration. The chat key is
/// [`crate::ClientConfig::chat_key`] (an administrator changes it live).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Keys {
    /// Opens the "Keyboard shortcuts" dialog (so does "?" outside a text field).
    pub help: String,
    /// Answers the first call of the queue.
    pub answer_next: String,
    /// Puts the current call on hold, or retrieves it.
    pub hold: String,
    /// Releases the current call.
    pub release: String,
    /// Starts a transfer: the keyboard goes to "Transfer to".
    pub transfer: String,
    pub complete_transfer: String,
    pub cancel_transfer: String,
    /// The keyboard goes to "Search directory".
    pub search_directory: String,
    /// The keyboard goes to the next (or previous) call of the queue.
    pub next_call: String,
    pub previous_call: String,
}

impl Default for Keys {
    fn default() -> Self {
        Keys {
            help: "F1".into(),
            answer_next: "F2".into(),
            hold: "F3".into(),
            release: "F4".into(),
            transfer: "F6".into(),
            complete_transfer: "F7".into(),
            cancel_transfer: "F8".into(),
            search_directory: "/".into(),
            next_call: "Alt+ArrowDown".into(),
            previous_call: "Alt+ArrowUp".into(),
        }
    }
}

impl Keys {
    /// Every shortcut with its configuration name, in the order the help dialog lists them.
    pub fn all(&self) -> [(&'static str, &str); 10] {
        [
            ("help", &self.help),
            ("answer_next", &self.answer_next),
            ("hold", &self.hold),
            ("release", &self.release),
            ("transfer", &self.transfer),
            ("complete_transfer", &self.complete_transfer),
            ("cancel_transfer", &self.cancel_transfer),
            ("search_directory", &self.search_directory),
            ("next_call", &self.next_call),
            ("previous_call", &self.previous_call),
        ]
    }
}

impl Keys {
    /// Checks that every key is written correctly and that no two shortcuts, the chat key
    /// included, share a key; the error names the shortcut as the configuration does.
    pub fn check(&self, chat_key: &str) -> Result<(), String> {
        let chat = KeyChord::parse(chat_key).map_err(|err| format!("chat_key: {err}"))?;
        let help = KeyChord::parse("?").expect("a valid key");
        let mut seen = vec![("\"?\" (help)".to_owned(), help)];
        if let Some((other, _)) = seen.iter().find(|(_, seen)| seen.same_as(&chat)) {
            return Err(format!("chat_key and {other} are both \"{chat_key}\""));
        }
        seen.push(("chat_key".to_owned(), chat));
        for (name, text) in self.all() {
            let chord = KeyChord::parse(text).map_err(|err| format!("keys.{name}: {err}"))?;
            if let Some((other, _)) = seen.iter().find(|(_, seen)| seen.same_as(&chord)) {
                return Err(format!("keys.{name} and {other} are both \"{text}\""));
            }
            seen.push((format!("keys.{name}"), chord));
        }
        Ok(())
    }
}

/// A key with its modifiers, parsed from text such as "F2", "/" or "Ctrl+Alt+H".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChord {
    pub ctrl: bool,
    pub alt: bool,
    pub shift: bool,
    pub meta: bool,
    /// `KeyboardEvent.key`: "F2", "ArrowDown", "/", "h" (letters compare without case).
    pub key: String,
}

impl KeyChord {
    /// Parses modifiers (`Ctrl+`, `Alt+`, `Shift+`, `Meta+`, any case) followed by a key name.
    pub fn parse(text: &str) -> Result<KeyChord, String> {
        let mut chord = KeyChord {
            ctrl: false,
            alt: false,
            shift: false,
            meta: false,
            key: String::new(),
        };
        let mut rest = text.trim();
        // "+" alone (or after a modifier, "Ctrl++") is the plus key, not a separator.
        while let Some((modifier, after)) = rest
            .split_once('+')
            .filter(|(m, a)| !m.is_empty() && !a.is_empty())
        {
            match modifier.to_ascii_lowercase().as_str() {
                "ctrl" | "control" => chord.ctrl = true,
                "alt" => chord.alt = true,
                "shift" => chord.shift = true,
                "meta" | "cmd" => chord.meta = true,
                other => return Err(format!("\"{text}\": unknown modifier \"{other}\"")),
            }
            rest = after;
        }
        if rest.is_empty() {
            return Err("a key must be named, e.g. \"F2\"".into());
        }
        let character = rest.chars().count() == 1;
        chord.key = if character {
            rest.to_owned()
        } else {
            NAMED_KEYS
                .iter()
                .chain(FUNCTION_KEYS.iter())
                .find(|name| name.eq_ignore_ascii_case(rest))
                .map(|name| (*name).to_owned())
                .ok_or_else(|| {
                    format!(
                        "\"{text}\": \"{rest}\" is not a key shortcuts may use (F1 to F24, \
                         arrows, Home, End, PageUp, PageDown, Insert, or one character; not \
                         Enter, Escape, Tab or Space, which every control needs)"
                    )
                })?
        };
        if character && rest.trim().is_empty() {
            return Err(format!("\"{text}\": Space is not a key shortcuts may use"));
        }
        // A character already says whether Shift was down ("?" is Shift+/ on most layouts).
        if character {
            chord.shift = false;
        }
        Ok(chord)
    }

    /// Whether a key press (`KeyboardEvent.key` and its modifiers) is this chord. Shift is
    /// compared only for named keys: a character such as "?" already says whether Shift was
    /// down, and letters compare without case.
    pub fn matches(&self, key: &str, ctrl: bool, alt: bool, shift: bool, meta: bool) -> bool {
        let character = key.chars().count() == 1;
        self.key.eq_ignore_ascii_case(key)
            && self.ctrl == ctrl
            && self.alt == alt
            && self.meta == meta
            && (character || self.shift == shift)
    }

    /// Whether both are the same key press (letters without case).
    fn same_as(&self, other: &KeyChord) -> bool {
        self.key.eq_ignore_ascii_case(&other.key)
            && (self.ctrl, self.alt, self.shift, self.meta)
                == (other.ctrl, other.alt, other.shift, other.meta)
    }

    /// Whether this is a function key (F1 to F24): those work while typing in a text field.
    pub fn is_function_key(&self) -> bool {
        is_function_key(&self.key)
    }
}

/// `KeyboardEvent.key` names a shortcut may use besides function keys and characters.
const NAMED_KEYS: [&str; 9] = [
    "ArrowUp",
    "ArrowDown",
    "ArrowLeft",
    "ArrowRight",
    "Home",
    "End",
    "PageUp",
    "PageDown",
    "Insert",
];
const FUNCTION_KEYS: [&str; 24] = [
    "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12", "F13", "F14", "F15",
    "F16", "F17", "F18", "F19", "F20", "F21", "F22", "F23", "F24",
];

/// Whether `key` (`KeyboardEvent.key`) is a function key, F1 to F24.
pub fn is_function_key(key: &str) -> bool {
    key.strip_prefix('F')
        .and_then(|number| number.parse::<u8>().ok())
        .is_some_and(|number| (1..=24).contains(&number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_parsed_with_their_modifiers() {
        let chord = KeyChord::parse("Alt+ArrowDown").unwrap();
        assert!(chord.alt && !chord.ctrl && !chord.shift && !chord.meta);
        assert_eq!(chord.key, "ArrowDown");
        assert_eq!(KeyChord::parse("ctrl+shift+h").unwrap().key, "h");
        assert_eq!(KeyChord::parse("+").unwrap().key, "+");
        assert_eq!(KeyChord::parse("Ctrl++").unwrap().key, "+");
        assert!(KeyChord::parse("Hyper+F2").is_err());
        assert!(KeyChord::parse("  ").is_err());
        // Named keys take their one spelling; only keys a shortcut may use.
        assert_eq!(KeyChord::parse("alt+arrowup").unwrap().key, "ArrowUp");
        assert_eq!(KeyChord::parse("f4").unwrap().key, "F4");
        for refused in ["Enter", "Escape", "Tab", " ", "F25", "Foo", "Ctrl+"] {
            assert!(KeyChord::parse(refused).is_err(), "{refused:?}");
        }
        assert!(
            !KeyChord::parse("Shift+h").unwrap().shift,
            "a character carries its Shift"
        );
    }

    #[test]
    fn a_chord_matches_its_key_and_modifiers_only() {
        let f2 = KeyChord::parse("F2").unwrap();
        assert!(f2.matches("F2", false, false, false, false));
        assert!(
            !f2.matches("F2", false, true, false, false),
            "Alt+F2 is another chord"
        );
        assert!(
            !f2.matches("F2", false, false, true, false),
            "so is Shift+F2"
        );
        let question = KeyChord::parse("?").unwrap();
        assert!(
            question.matches("?", false, false, true, false),
            "Shift makes the ?"
        );
        let letter = KeyChord::parse("Alt+h").unwrap();
        assert!(letter.matches("H", false, true, true, false));
        assert!(!letter.matches("h", false, false, false, false));
        let release = KeyChord::parse("f4").unwrap();
        assert!(
            release.matches("F4", false, false, false, false),
            "written in any case"
        );
    }

    #[test]
    fn the_defaults_are_valid_and_clashes_are_named() {
        assert_eq!(Keys::default().check("F9"), Ok(()));
        assert_eq!(
            Keys::default().check("F2"),
            Err("keys.answer_next and chat_key are both \"F2\"".into())
        );
        let keys = Keys {
            release: "alt+arrowup".into(),
            ..Keys::default()
        };
        assert!(
            keys.check("F9")
                .unwrap_err()
                .contains("keys.previous_call and keys.release")
        );
        let keys = Keys {
            hold: "Super+H".into(),
            ..Keys::default()
        };
        assert!(keys.check("F9").unwrap_err().starts_with("keys.hold: "));
    }

    #[test]
    fn function_keys_are_f1_to_f24() {
        assert!(is_function_key("F1") && is_function_key("F24"));
        assert!(!is_function_key("F") && !is_function_key("F25") && !is_function_key("Fn"));
        assert!(KeyChord::parse("Shift+F7").unwrap().is_function_key());
        assert!(!KeyChord::parse("/").unwrap().is_function_key());
    }
}
