//! The "Emoji" button beside the compose box and its "Emoji" listbox (cloudlink mode).

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement};

use super::menu_nav::close_on_pointer_outside;
use crate::chat::emoji::{self, Emoji, GROUPS};
use crate::store::Store;

/// Options per row of the grid (matches `grid-template-columns` in chat.css).
const COLUMNS: usize = 8;

/// A headed run of options: recently used, one category, or search results.
#[derive(Debug, Clone, PartialEq)]
struct Section {
    label: &'static str,
    emojis: Vec<&'static Emoji>,
}

impl Section {
    /// Sections are keyed by heading and content, so a changed row is drawn anew.
    fn key(&self) -> (&'static str, String) {
        let content = self.emojis.iter().map(|emoji| emoji.text).collect();
        (self.label, content)
    }
}

/// The picker. `on_done` hears the chosen emoji, or `None` when the picker closed without one;
/// either way the compose box takes the focus back.
#[component]
pub fn EmojiPicker(
    /// Called once the picker closes, with the emoji chosen if any.
    on_done: Callback<Option<&'static Emoji>>,
    /// Whether the button is disabled (chat unavailable).
    #[prop(into)]
    disabled: Signal<bool>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let root = NodeRef::<html::Div>::new();
    close_on_pointer_outside(root, move || open.set(false));
    let done = Callback::new(move |chosen| {
        open.set(false);
        on_done.run(chosen);
    });

    view! {
        <div class="emoji-picker" node_ref=root>
            <button
                type="button"
                class="emoji-button"
                aria-label="Emoji"
                title="Emoji"
                aria-haspopup="listbox"
                aria-expanded=move || open.get().to_string()
                disabled=disabled
                on:click=move |_| open.update(|open| *open = !*open)
            >
                "🙂"
            </button>
            <Show when=move || open.get()>
                <EmojiPopup done />
            </Show>
        </div>
    }
}

/// The open picker: search, category buttons and the listbox of one category at a time.
#[component]
fn EmojiPopup(done: Callback<Option<&'static Emoji>>) -> impl IntoView {
    let chat = expect_context::<Store>().chat();
    let recent = chat.recent_emojis();
    let query = RwSignal::new(String::new());
    let group = RwSignal::new(0);
    let search_field = NodeRef::<html::Input>::new();
    let listbox = NodeRef::<html::Div>::new();

    let sections = Memo::new(move |_| {
        let query = query.get();
        if !query.trim().is_empty() {
            return vec![Section {
                label: "Search results",
                emojis: emoji::search(&query),
            }];
        }
        let recent = recent.get();
        let recent = (!recent.is_empty()).then_some(Section {
            label: "Recently used",
            emojis: recent,
        });
        let group = group.get();
        let current = Section {
            label: GROUPS[group],
            emojis: emoji::in_group(group),
        };
        recent.into_iter().chain([current]).collect()
    });
    let nothing_found = move || sections.with(|all| all.iter().all(|s| s.emojis.is_empty()));

    request_animation_frame(move || {
        if let Some(field) = search_field.get_untracked() {
            let _ = field.focus();
        }
    });
    let choose = move |chosen: &'static Emoji| {
        chat.used_emoji(chosen);
        done.run(Some(chosen));
    };
    let options = move || -> Vec<HtmlElement> {
        let Some(list) = listbox
            .get_untracked()
            .and_then(|list| list.query_selector_all("[role=option]").ok())
        else {
            return Vec::new();
        };
        (0..list.length())
            .filter_map(|index| list.item(index))
            .filter_map(|node| node.dyn_into::<HtmlElement>().ok())
            .collect()
    };
    let focus_first = move || {
        if let Some(first) = options().first() {
            let _ = first.focus();
        }
    };
    let list_key = move |event: KeyboardEvent| {
        let options = options();
        let active = document().active_element();
        let current = options
            .iter()
            .position(|option| Some(AsRef::<Element>::as_ref(option)) == active.as_ref());
        let key = event.key();
        // The options in the page follow the sections, so their sizes give the grid's rows (a
        // key pressed while the page catches up with them moves nowhere past its options).
        let sizes: Vec<usize> =
            sections.with_untracked(|all| all.iter().map(|s| s.emojis.len()).collect());
        if let Some(target) = emoji::grid_step(current.unwrap_or(0), &sizes, COLUMNS, &key)
            .filter(|&target| target < options.len())
        {
            event.prevent_default();
            let _ = options[target].focus();
        } else if key == "Enter" || key == " " {
            event.prevent_default();
            if let Some(current) = current {
                options[current].click();
            }
        }
    };
    let search_key = move |event: KeyboardEvent| match event.key().as_str() {
        "ArrowDown" => {
            event.prevent_default();
            focus_first();
        }
        "Enter" => {
            event.prevent_default();
            if let Some(first) = options().first() {
                first.click();
            }
        }
        _ => {}
    };
    let escape = move |event: KeyboardEvent| {
        if event.key() == "Escape" {
            event.prevent_default();
            done.run(None);
        }
    };

    view! {
        <div class="emoji-popup" on:keydown=escape>
            <input
                type="search"
                class="emoji-search"
                aria-label="Search emoji"
                placeholder="Search emoji"
                node_ref=search_field
                prop:value=move || query.get()
                on:input=move |event| query.set(event_target_value(&event))
                on:keydown=search_key
            />
            <div class="emoji-groups" role="toolbar" aria-label="Emoji categories">
                {(0..GROUPS.len())
                    .map(|each| {
                        let label = GROUPS[each];
                        let face = emoji::in_group(each).first().map(|emoji| emoji.text);
                        view! {
                            <button
                                type="button"
                                aria-label=label
                                title=label
                                aria-pressed=move || {
                                    (group.get() == each && query.with(|q| q.trim().is_empty()))
                                        .to_string()
                                }
                                on:click=move |_| {
                                    query.set(String::new());
                                    group.set(each);
                                }
                            >
                                {face}
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
            <div
                class="emoji-list"
                role="listbox"
                aria-label="Emoji"
                tabindex="0"
                node_ref=listbox
                on:focus=move |_| focus_first()
                on:keydown=list_key
            >
                <For
                    each=move || sections.get()
                    key=Section::key
                    children=move |section| {
                        let heading = format!("emoji-heading-{}", section.label.replace(' ', "-"));
                        let labelled_by = heading.clone();
                        view! {
                            <div class="emoji-section" role="group" aria-labelledby=labelled_by>
                                <div class="emoji-heading" id=heading role="presentation">
                                    {section.label}
                                </div>
                                <div class="emoji-grid">
                                    {section
                                        .emojis
                                        .into_iter()
                                        .map(|each| {
                                            view! {
                                                <span
                                                    class="emoji-option"
                                                    role="option"
                                                    aria-selected="false"
                                                    aria-label=each.name
                                                    title=each.name
                                                    tabindex="-1"
                                                    on:click=move |_| choose(each)
                                                >
                                                    {each.text}
                                                </span>
                                            }
                                        })
                                        .collect_view()}
                                </div>
                            </div>
                        }
                    }
                />
                <p class="emoji-none" hidden=move || !nothing_found()>
                    "No emoji matches."
                </p>
            </div>
        </div>
    }
}
