//! Writes the emoji picker's table (default skin tone only) from the `emojis` crate's data.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let mut table = String::from(
        "/// Every default-tone emoji, in CLDR order.\npub static EMOJIS: &[Emoji] = &[\n",
    );
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
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out).join("emoji_table.tsv"), table).expect("OUT_DIR is writable");
    println!("cargo::rerun-if-changed=build.rs");
}
