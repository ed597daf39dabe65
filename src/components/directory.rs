//! Directory pane: search box, match count, virtualized list of entries, presence legend.

use std::ops::Range;

use leptos::ev;
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::directory_row::{ROW_HEIGHT_PX, RowPlace};
use super::focus::focus_index;
use super::{DirectoryRow, EntryDetails, PresenceLegend};
use crate::store::{Directory as Entries, Store};

/// Rows rendered above and below the viewport, so fast scrolling does not show blanks.
const OVERSCAN: usize = 4;
/// Viewport height assumed until the list is measured.
const FALLBACK_HEIGHT_PX: usize = 800;

/// The company directory, searchable by name, number and department.
#[component]
pub fn Directory(
    /// The "Search directory" box, so that its shortcut can focus it.
    search: NodeRef<html::Input>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let directory = store.directory();
    let query = RwSignal::new(String::new());
    let matches = store.filtered_directory(query.into());
    let count = Signal::derive(move || matches.with(Vec::len));

    let scroll_top = RwSignal::new(0_usize);
    let viewport_height = RwSignal::new(FALLBACK_HEIGHT_PX);
    // The row that is the list's tab stop (roving tabindex).
    let active = RwSignal::new(0_usize);
    let scroller = NodeRef::<html::Div>::new();
    let list = NodeRef::<html::Div>::new();

    let measure = move || {
        if let Some(scroller) = scroller.get_untracked() {
            scroll_top.set(pixels(scroller.scroll_top()));
            viewport_height.set(pixels(scroller.client_height()));
        }
    };
    Effect::new(move || {
        if scroller.get().is_some() {
            measure();
        }
    });
    let resize = window_event_listener(ev::resize, move |_| measure());
    on_cleanup(move || resize.remove());

    // New results start at their top.
    Effect::new(move || {
        matches.track();
        active.set(0);
        if let Some(scroller) = scroller.get_untracked() {
            scroller.set_scroll_top(0);
        }
        scroll_top.set(0);
    });

    let visible = Memo::new(move |_| {
        let range = visible_range(scroll_top.get(), viewport_height.get(), count.get());
        let generation = directory.with(Entries::generation);
        matches.with(|matches| {
            range
                .filter_map(|index| {
                    Some(RowPlace {
                        index,
                        position: *matches.get(index)?,
                        generation,
                    })
                })
                .collect::<Vec<_>>()
        })
    });

    let focus_row = Callback::new(move |index: usize| {
        active.set(index);
        let Some(scroller) = scroller.get_untracked() else {
            return;
        };
        let top = pixels(scroller.scroll_top());
        let height = pixels(scroller.client_height());
        let revealed = reveal(index, top, height);
        if let Some(revealed) = revealed {
            scroller.set_scroll_top(i32::try_from(revealed).unwrap_or(i32::MAX));
        }
        scroll_top.set(pixels(scroller.scroll_top()));
        // Without scrolling the row is drawn already; after it, the rows show their new
        // entries only once the list has drawn the new position (until then the row marked
        // `index` is a slot about to show another entry).
        if revealed.is_some() || !focus_rendered(list, index) {
            request_animation_frame(move || {
                focus_rendered(list, index);
            });
        }
    });

    // A focused row that scrolls away is handed another entry: the focus goes to the row of
    // the tab stop if it is still drawn, or is let go, as when a row left the document.
    Effect::new(move || {
        visible.track();
        request_animation_frame(move || keep_focus(list, active));
    });

    // The entry of the row that is the tab stop: its details show under the list.
    let current = Signal::derive(move || {
        let position = matches.with(|matches| matches.get(active.get()).copied())?;
        directory.with(|directory| directory.entry(position).cloned())
    });

    let search_keydown = move |event: ev::KeyboardEvent| {
        if event.key() == "ArrowDown" && count.get_untracked() > 0 {
            event.prevent_default();
            focus_row.run(active.get_untracked());
        }
    };

    view! {
        <section class="pane directory" aria-label="Directory">
            <header class="pane-header">
                <h2>"Directory"</h2>
                <input
                    class="directory-search"
                    type="search"
                    aria-label="Search directory"
                    placeholder="Name, number or department"
                    autocomplete="off"
                    spellcheck="false"
                    bind:value=query
                    on:keydown=search_keydown
                    node_ref=search
                />
                <p class="directory-count" aria-live="polite">
                    {move || {
                        count_label(
                            count.get(),
                            directory.with(|directory| directory.len()),
                            !query.with(|query| query.trim().is_empty()),
                        )
                    }}
                </p>
            </header>
            <div class="directory-columns" aria-hidden="true">
                <span></span>
                <span>"Name"</span>
                <span>"Department"</span>
                <span>"Title"</span>
                <span>"Numbers"</span>
                <span>"Location"</span>
            </div>
            <div class="directory-scroller" node_ref=scroller on:scroll=move |_| measure()>
                <div
                    class="directory-list"
                    role="list"
                    aria-label="Directory entries"
                    node_ref=list
                    style:height=move || format!("{}px", count.get() * ROW_HEIGHT_PX)
                >
                    <For
                        each=move || 0..visible.with(Vec::len)
                        key=|slot| *slot
                        children=move |slot| {
                            let row = Memo::new(move |_| visible.with(|rows| rows.get(slot).cloned()));
                            view! { <DirectoryRow row count active on_navigate=focus_row /> }
                        }
                    />
                </div>
            </div>
            <EntryDetails entry=current />
            <PresenceLegend />
        </section>
    }
}

/// Focuses the row at `index` if it is in the DOM; tells whether it was.
fn focus_rendered(list: NodeRef<html::Div>, index: usize) -> bool {
    list.try_get_untracked()
        .flatten()
        .is_some_and(|list| focus_index(&list, index, true))
}

/// Moves the focus off a row of `list` that shows another entry than the tab stop `active`.
fn keep_focus(list: NodeRef<html::Div>, active: RwSignal<usize>) {
    let (Some(Some(list)), Some(active)) = (list.try_get_untracked(), active.try_get_untracked())
    else {
        return;
    };
    let Some(focused) = document().active_element() else {
        return;
    };
    let row = focused.closest("[data-index]").ok().flatten();
    let Some(row) = row.filter(|row| list.contains(Some(row))) else {
        return;
    };
    let index = row
        .get_attribute("data-index")
        .and_then(|index| index.parse().ok());
    if index == Some(active) || focus_index(&list, active, false) {
        return;
    }
    if let Ok(focused) = focused.dyn_into::<web_sys::HtmlElement>() {
        let _ = focused.blur();
    }
}

/// A DOM pixel measure as an index-friendly count; negative values (overscroll) are 0.
fn pixels(value: i32) -> usize {
    usize::try_from(value).unwrap_or(0)
}

/// Indexes of the rows to render for a viewport at `scroll_top` of `height` pixels.
fn visible_range(scroll_top: usize, height: usize, count: usize) -> Range<usize> {
    let first = (scroll_top / ROW_HEIGHT_PX).saturating_sub(OVERSCAN);
    let end = ((scroll_top + height).div_ceil(ROW_HEIGHT_PX) + OVERSCAN).min(count);
    first.min(end)..end
}

/// The scroll position that brings row `index` fully into view, if it is not already.
fn reveal(index: usize, scroll_top: usize, height: usize) -> Option<usize> {
    let top = index * ROW_HEIGHT_PX;
    let bottom = top + ROW_HEIGHT_PX;
    if top < scroll_top {
        Some(top)
    } else if bottom > scroll_top + height {
        Some(bottom.saturating_sub(height))
    } else {
        None
    }
}

/// "214 entries", or "3 of 214 entries" while searching.
fn count_label(matches: usize, total: usize, searching: bool) -> String {
    let noun = if total == 1 { "entry" } else { "entries" };
    if searching {
        format!("{matches} of {total} {noun}")
    } else {
        format!("{total} {noun}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rows_in_view_plus_overscan_are_rendered() {
        assert_eq!(visible_range(0, 360, 50_000), 0..10 + OVERSCAN);
        let top = 1_000 * ROW_HEIGHT_PX;
        assert_eq!(
            visible_range(top, 360, 50_000),
            1_000 - OVERSCAN..1_010 + OVERSCAN
        );
        assert_eq!(visible_range(0, 360, 3), 0..3);
        assert_eq!(visible_range(0, 360, 0), 0..0);
        // A scroll position left over from a longer list renders nothing rather than panicking.
        assert_eq!(visible_range(top, 360, 5), 5..5);
    }

    #[test]
    fn reveal_scrolls_only_when_the_row_is_out_of_view() {
        let height = 10 * ROW_HEIGHT_PX;
        assert_eq!(reveal(3, 0, height), None);
        assert_eq!(reveal(10, 0, height), Some(ROW_HEIGHT_PX));
        assert_eq!(
            reveal(2, 5 * ROW_HEIGHT_PX, height),
            Some(2 * ROW_HEIGHT_PX)
        );
    }

    #[test]
    fn count_says_how_many_match() {
        assert_eq!(count_label(214, 214, false), "214 entries");
        assert_eq!(count_label(3, 214, true), "3 of 214 entries");
        assert_eq!(count_label(1, 1, false), "1 entry");
    }
}
