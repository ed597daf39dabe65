//! Keyboard focus helpers shared by the lists that move focus with the arrow keys.

use wasm_bindgen::JsCast;
use web_sys::{Element, FocusOptions, HtmlElement};

/// Focuses the element marked `data-index="{index}"` inside `root`, if it is in the DOM; tells
/// whether it was (a virtualized list may not have drawn it yet). `scroll`: bring it into view
/// (not when the focus only follows a row the operator scrolled away from).
pub fn focus_index(root: &Element, index: usize, scroll: bool) -> bool {
    let target = root
        .query_selector(&format!("[data-index=\"{index}\"]"))
        .ok()
        .flatten()
        .and_then(|element| element.dyn_into::<HtmlElement>().ok());
    let options = FocusOptions::new();
    options.set_prevent_scroll(!scroll);
    target.is_some_and(|element| element.focus_with_options(&options).is_ok())
}

/// The item a key moves the focus to from item `index` of `count`, if the key navigates.
pub fn navigation_target(key: &str, index: usize, count: usize) -> Option<usize> {
    let last = count.checked_sub(1)?;
    let target = match key {
        "ArrowUp" => index.saturating_sub(1),
        "ArrowDown" => (index + 1).min(last),
        "Home" => 0,
        "End" => last,
        _ => return None,
    };
    Some(target)
}

#[cfg(test)]
mod tests {
    use super::navigation_target;

    #[test]
    fn arrows_move_one_item_and_stop_at_the_ends() {
        assert_eq!(navigation_target("ArrowDown", 0, 3), Some(1));
        assert_eq!(navigation_target("ArrowDown", 2, 3), Some(2));
        assert_eq!(navigation_target("ArrowUp", 2, 3), Some(1));
        assert_eq!(navigation_target("ArrowUp", 0, 3), Some(0));
    }

    #[test]
    fn home_and_end_jump_and_other_keys_do_not_navigate() {
        assert_eq!(navigation_target("Home", 7, 10), Some(0));
        assert_eq!(navigation_target("End", 0, 10), Some(9));
        assert_eq!(navigation_target("Enter", 0, 10), None);
        assert_eq!(navigation_target("ArrowDown", 0, 0), None);
    }
}
