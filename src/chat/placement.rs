//! Where the chat window sits: floating where the operator moved it (bottom right until then),
//! or docked as a pane at the right of the console, which then makes room for it so that the
//! directory and the queue stay in view. Kept in the browser's local storage.

use serde::{Deserialize, Serialize};

/// The local storage key of the placement (a screen preference of this browser).
pub const PLACEMENT_KEY: &str = "switchboard.chat-placement";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "at", rename_all = "snake_case")]
pub enum Placement {
    /// Floating at the bottom right, where it opens first.
    #[default]
    Corner,
    /// Floating with its top left corner here (CSS pixels from the viewport's).
    Moved { left: i32, top: i32 },
    /// A pane at the right of the console.
    Docked,
}

impl Placement {
    /// The stored placement; the default when there is none or it cannot be read.
    pub fn from_json(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_default()
    }

    pub fn to_json(self) -> String {
        serde_json::to_string(&self).expect("a placement always encodes")
    }

    pub fn is_docked(self) -> bool {
        self == Placement::Docked
    }
}

/// Where a window of `size` (width, height) dragged to `left`, `top` stays: wholly inside a
/// viewport of `viewport` (width, height) when it fits, and its title bar never above the top.
pub fn keep_in_view(left: i32, top: i32, size: (i32, i32), viewport: (i32, i32)) -> (i32, i32) {
    let max_left = (viewport.0 - size.0).max(0);
    let max_top = (viewport.1 - size.1).max(0);
    (left.clamp(0, max_left), top.clamp(0, max_top))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placement_is_stored_and_read_back() {
        for placement in [
            Placement::Corner,
            Placement::Docked,
            Placement::Moved { left: 40, top: 12 },
        ] {
            assert_eq!(Placement::from_json(&placement.to_json()), placement);
        }
        assert_eq!(Placement::from_json("not json"), Placement::Corner);
        assert!(Placement::Docked.is_docked());
    }

    #[test]
    fn a_moved_window_stays_in_view() {
        assert_eq!(keep_in_view(100, 50, (780, 540), (1440, 900)), (100, 50));
        assert_eq!(keep_in_view(-30, -5, (780, 540), (1440, 900)), (0, 0));
        assert_eq!(keep_in_view(1000, 800, (780, 540), (1440, 900)), (660, 360));
        // Larger than the viewport: pinned to its top left.
        assert_eq!(keep_in_view(10, 10, (780, 540), (600, 400)), (0, 0));
    }
}
