//! Emoji data for the picker (the server's `/emoji.tsv`, see `switchboard_protocol::emoji`):
//! groups, search, recently used, emoji-only. Until the table has arrived there are no
//! emojis: the picker is empty and no message counts as emoji-only.

use std::collections::HashSet;
use std::sync::OnceLock;

/// How many emojis the "Recently used" row keeps.
pub const RECENT_MAX: usize = 16;
/// Messages of at most this many emojis (and nothing else) show larger.
const LARGE_MAX: usize = 3;
/// Longest emoji sequence in characters worth trying (family and flag sequences are shorter).
const LONGEST_EMOJI: usize = 12;

/// One emoji as the picker shows it, in its default (skin-tone-neutral) form.
#[derive(Debug, PartialEq, Eq)]
pub struct Emoji {
    /// The emoji itself.
    pub text: &'static str,
    /// Its CLDR name, e.g. "grinning face": the option's accessible name.
    pub name: &'static str,
    /// Index of its category in [`GROUPS`].
    pub group: usize,
    /// Its shortcodes (e.g. "thumbsup"), space separated: search keywords.
    pub shortcodes: &'static str,
}

/// The emojis of the table, once it has arrived.
static EMOJIS: OnceLock<Vec<Emoji>> = OnceLock::new();

/// Takes the table the server sent (every default-tone emoji in CLDR order, one "text,
/// group, name, shortcodes" line each, tab separated); malformed lines are skipped. Only the
/// first table counts: it is kept for the life of the page.
pub fn load(table: String) {
    if EMOJIS.get().is_some() {
        return;
    }
    let table: &'static str = table.leak();
    let _ = EMOJIS.set(
        table
            .lines()
            .filter_map(|line| {
                let mut fields = line.split('\t');
                Some(Emoji {
                    text: fields.next()?,
                    group: fields.next()?.parse().ok()?,
                    name: fields.next()?,
                    shortcodes: fields.next()?,
                })
            })
            .collect(),
    );
}

/// The table's emojis; none before it has arrived.
fn all() -> &'static [Emoji] {
    EMOJIS.get().map_or(&[], Vec::as_slice)
}

/// The categories' headings, in the order of the data.
pub const GROUPS: [&str; 9] = [
    "Smileys & Emotion",
    "People & Body",
    "Animals & Nature",
    "Food & Drink",
    "Travel & Places",
    "Activities",
    "Objects",
    "Symbols",
    "Flags",
];

/// The emojis of category `group` (an index into [`GROUPS`]).
pub fn in_group(group: usize) -> Vec<&'static Emoji> {
    all().iter().filter(|emoji| emoji.group == group).collect()
}

/// The emoji whose text is `text`, if there is one.
pub fn get(text: &str) -> Option<&'static Emoji> {
    all().iter().find(|emoji| emoji.text == text)
}

/// Default-tone emojis whose name or shortcode contains every word of `query`, in CLDR order.
pub fn search(query: &str) -> Vec<&'static Emoji> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    if words.is_empty() {
        return Vec::new();
    }
    all()
        .iter()
        .filter(|emoji| {
            words.iter().all(|word| {
                emoji.name.contains(word.as_str()) || emoji.shortcodes.contains(word.as_str())
            })
        })
        .collect()
}

/// `recent` with `chosen` moved to the front, at most [`RECENT_MAX`] long.
pub fn remember(recent: &[&'static Emoji], chosen: &'static Emoji) -> Vec<&'static Emoji> {
    std::iter::once(chosen)
        .chain(
            recent
                .iter()
                .copied()
                .filter(|emoji| emoji.text != chosen.text),
        )
        .take(RECENT_MAX)
        .collect()
}

/// The recently used row as stored in local storage: the emojis, in order, as a JSON array.
pub fn recent_to_json(recent: &[&'static Emoji]) -> String {
    let texts: Vec<&str> = recent.iter().map(|emoji| emoji.text).collect();
    serde_json::to_string(&texts).unwrap_or_default()
}

/// The recently used row read back; anything unknown or malformed is dropped.
pub fn recent_from_json(text: &str) -> Vec<&'static Emoji> {
    serde_json::from_str::<Vec<String>>(text)
        .unwrap_or_default()
        .iter()
        .filter_map(|text| get(text))
        .take(RECENT_MAX)
        .collect()
}

/// Where the focus goes from option `current` for an arrow, Home or End key; `None` for other
/// keys. The options are laid out in headed sections of `sections[i]` options each, every
/// section a grid of `columns` to a row starting on a row of its own, numbered in one run
/// across sections. Up and Down keep the column, also into the next or previous section
/// (landing on a short row's last option when the column is past its end); every key stops at
/// the ends.
pub fn grid_step(current: usize, sections: &[usize], columns: usize, key: &str) -> Option<usize> {
    let last = sections.iter().sum::<usize>().checked_sub(1)?;
    let target = match key {
        "ArrowRight" => (current + 1).min(last),
        "ArrowLeft" => current.saturating_sub(1),
        "ArrowDown" | "ArrowUp" => {
            let rows = grid_rows(sections, columns);
            let row = rows.iter().rposition(|&(start, _)| start <= current)?;
            let column = current - rows[row].0;
            let next = if key == "ArrowDown" {
                rows.get(row + 1)
            } else {
                row.checked_sub(1).and_then(|row| rows.get(row))
            };
            next.map_or(current, |&(start, len)| start + column.min(len - 1))
        }
        "Home" => 0,
        "End" => last,
        _ => return None,
    };
    Some(target)
}

/// The rows of [`grid_step`]'s layout, top to bottom: (first option, options in the row).
fn grid_rows(sections: &[usize], columns: usize) -> Vec<(usize, usize)> {
    let columns = columns.max(1);
    let mut rows = Vec::new();
    let mut start = 0;
    for &count in sections {
        for row_start in (0..count).step_by(columns) {
            rows.push((start + row_start, columns.min(count - row_start)));
        }
        start += count;
    }
    rows
}

/// Whether `body` is one to three emojis and nothing else but whitespace: shown larger.
pub fn is_emoji_only(body: &str) -> bool {
    let mut count = 0;
    for word in body.split_whitespace() {
        let mut rest = word;
        while !rest.is_empty() {
            let Some(len) = longest_emoji_prefix(rest) else {
                return false;
            };
            count += 1;
            if count > LARGE_MAX {
                return false;
            }
            rest = &rest[len..];
        }
    }
    count > 0
}

/// Byte length of the longest emoji `text` starts with, if it starts with one. Skin tones and
/// variation selectors are looked through, as the table holds neutral forms.
fn longest_emoji_prefix(text: &str) -> Option<usize> {
    let ends: Vec<usize> = text
        .char_indices()
        .skip(1)
        .map(|(at, _)| at)
        .chain([text.len()])
        .take(LONGEST_EMOJI)
        .collect();
    ends.into_iter()
        .rev()
        .find(|&end| neutral_forms().is_some_and(|forms| forms.contains(&neutral(&text[..end]))))
}

/// `text` without skin tone modifiers and emoji variation selectors.
fn neutral(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\u{1F3FB}'..='\u{1F3FF}' | '\u{FE0F}'))
        .collect()
}

/// The neutral form of every emoji, made on first use after the table arrived.
fn neutral_forms() -> Option<&'static HashSet<String>> {
    static FORMS: OnceLock<HashSet<String>> = OnceLock::new();
    let emojis = EMOJIS.get()?;
    Some(FORMS.get_or_init(|| emojis.iter().map(|emoji| neutral(emoji.text)).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table as the server serves it (every test loads it; the first one wins).
    fn all() -> &'static [Emoji] {
        load(switchboard_protocol::emoji::table());
        super::all()
    }

    fn get(text: &str) -> Option<&'static Emoji> {
        all();
        super::get(text)
    }

    #[test]
    fn one_to_three_emojis_alone_are_emoji_only() {
        all();
        assert!(is_emoji_only("😀"));
        assert!(is_emoji_only(" 😀 👍 "));
        assert!(is_emoji_only("😀😀😀"));
        assert!(is_emoji_only("👍🏽"), "a skin-toned emoji counts once");
        assert!(is_emoji_only("👨‍👩‍👧"), "a family sequence counts once");
        assert!(is_emoji_only("🇫🇷🇩🇪"), "flags count once each");
        assert!(!is_emoji_only("😀😀😀😀"), "four are ordinary text");
        assert!(!is_emoji_only("hi 😀"));
        assert!(!is_emoji_only("😀!"));
        assert!(!is_emoji_only(""));
        assert!(!is_emoji_only("   "));
        assert!(!is_emoji_only("123"), "digits are not keycap emojis");
    }

    #[test]
    fn groups_hold_only_neutral_skin_tones() {
        assert!(all().len() > 1800, "every line of the table parses");
        let people = in_group(1);
        assert!(people.iter().any(|emoji| emoji.text == "👍"));
        assert!(!people.iter().any(|emoji| emoji.text == "👍🏽"));
        assert_eq!(in_group(0)[0].name, "grinning face");
        assert_eq!(in_group(8)[0].text, "🏁");
        assert!((0..GROUPS.len()).all(|group| !in_group(group).is_empty()));
    }

    #[test]
    fn search_matches_every_word_of_names_and_shortcodes() {
        all();
        let found = search("Grinning FACE");
        assert_eq!(found[0].text, "😀");
        assert!(found.iter().all(|emoji| emoji.name.contains("grinning")));
        assert!(search("thumbsup").iter().any(|emoji| emoji.text == "👍"));
        assert!(search("  ").is_empty());
        assert!(search("no such emoji anywhere").is_empty());
    }

    /// Checks each (from, key, expected, why) move on a picker laid out in `sections`.
    fn check_moves(sections: &[usize], moves: &[(usize, &str, usize, &str)]) {
        for &(from, key, expected, why) in moves {
            assert_eq!(
                grid_step(from, sections, 8, key),
                Some(expected),
                "{key} from {from}: {why}"
            );
        }
    }

    #[test]
    fn arrows_move_through_the_grid_and_stop_at_its_ends() {
        check_moves(
            &[20],
            &[
                (0, "ArrowRight", 1, "next"),
                (19, "ArrowRight", 19, "stops at the end"),
                (0, "ArrowLeft", 0, "stops at the start"),
                (3, "ArrowDown", 11, "same column below"),
                (15, "ArrowDown", 19, "short last row: its last option"),
                (17, "ArrowDown", 17, "stops on the last row"),
                (11, "ArrowUp", 3, "same column above"),
                (3, "ArrowUp", 3, "stops on the first row"),
                (5, "End", 19, "last"),
                (5, "Home", 0, "first"),
            ],
        );
        assert_eq!(grid_step(5, &[20], 8, "a"), None);
        assert_eq!(grid_step(0, &[0], 8, "ArrowRight"), None);
        assert_eq!(grid_step(0, &[], 8, "ArrowDown"), None);
    }

    #[test]
    fn up_and_down_keep_the_column_across_sections() {
        // "Recently used" holds 3 (one short row), the category 20 (rows of 8, 8 and 4), the
        // next section 2: options 0..3, 3..23, 23..25.
        check_moves(
            &[3, 20, 2],
            &[
                (1, "ArrowDown", 4, "column 1 below"),
                (4, "ArrowUp", 1, "and back"),
                (9, "ArrowUp", 2, "column 6 over a row of 3: its end"),
                (13, "ArrowDown", 21, "short last row"),
                (20, "ArrowDown", 24, "column 1 of 2"),
                (22, "ArrowDown", 24, "column 3 of 2: its last option"),
                (24, "ArrowUp", 20, "column 1 again"),
                (23, "ArrowUp", 19, "column 0 of the short row"),
                (24, "ArrowDown", 24, "stops at the end"),
                (2, "ArrowRight", 3, "right runs on"),
                (3, "ArrowLeft", 2, "left runs back"),
            ],
        );
        check_moves(
            &[3, 0, 5],
            &[(1, "ArrowDown", 4, "an empty section is skipped")],
        );
    }

    #[test]
    fn recently_used_puts_the_latest_first_without_repeats_and_survives_storage() {
        let get = |text| get(text).unwrap();
        let recent = remember(&[get("😀"), get("👍")], get("👍"));
        assert_eq!(recent, [get("👍"), get("😀")]);
        let many: Vec<_> = all().iter().take(RECENT_MAX).collect();
        assert_eq!(remember(&many, get("🚀")).len(), RECENT_MAX);
        assert_eq!(recent_from_json(&recent_to_json(&recent)), recent);
        assert!(recent_from_json("not json").is_empty());
        assert_eq!(recent_from_json(r#"["x","😀"]"#), [get("😀")]);
    }
}
