//! The emoji picker's table as the server serves it at [`crate::EMOJI_TABLE_PATH`]: every default-tone
//! (skin-tone-neutral) emoji in CLDR order, one line each of four tab-separated fields: the
//! emoji, the index of its category (in `emojis::Group` order), its CLDR name and its
//! shortcodes separated by spaces. The console fetches it when it starts rather than
//! carrying it in its wasm, which must load fast on every operator's screen.

use std::fmt::Write as _;

/// The whole table.
pub fn table() -> String {
    let mut table = String::new();
    for emoji in emojis::iter() {
        let group = emojis::Group::iter()
            .position(|group| group == emoji.group())
            .expect("every emoji is in a group");
        let shortcodes = emoji.shortcodes().collect::<Vec<_>>().join(" ");
        writeln!(
            table,
            "{}\t{group}\t{}\t{shortcodes}",
            emoji.as_str(),
            emoji.name()
        )
        .expect("writing to a string");
    }
    table
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_line_has_four_fields_and_the_first_is_grinning_face() {
        let table = super::table();
        assert!(table.lines().count() > 1800);
        assert!(table.lines().all(|line| line.split('\t').count() == 4));
        assert!(table.starts_with("😀\t0\tgrinning face\t"));
    }
}
