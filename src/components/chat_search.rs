//! "Search chats": finds users by name, with or without a conversation, and opens one.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use switchboard_protocol::User;

use crate::store::Store;

/// The search box over the chat list and its results. Arrow keys move through the results
/// (announced through `aria-activedescendant`), Enter or a click opens the conversation.
#[component]
pub fn ChatSearch(
    /// The text typed; the chat list hides while it is not blank.
    query: RwSignal<String>,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let results = store.chat().search_results();
    let active = RwSignal::new(0_usize);
    // Only the answer to what is typed now: an older answer arriving late is not shown.
    let users = Memo::new(move |_| {
        let typed = query.with(|query| query.trim().to_owned());
        results.with(|results| match results {
            Some((answered, users)) if !typed.is_empty() && *answered == typed => users.clone(),
            _ => Vec::new(),
        })
    });
    let searching = Signal::derive(move || !query.with(|query| query.trim().is_empty()));

    let open = move |user: &User| {
        store.open_chat(user.id, &user.display_name);
        query.set(String::new());
    };
    let input = move |event| {
        let text = event_target_value(&event);
        let trimmed = text.trim().to_owned();
        query.set(text);
        active.set(0);
        if !trimmed.is_empty() {
            store.search_users(&trimmed);
        }
    };
    let keydown = move |event: KeyboardEvent| {
        let count = users.with_untracked(Vec::len);
        match event.key().as_str() {
            "ArrowDown" if count > 0 => active.update(|index| *index = (*index + 1).min(count - 1)),
            "ArrowUp" if count > 0 => active.update(|index| *index = index.saturating_sub(1)),
            "Enter" => {
                if let Some(user) =
                    users.with_untracked(|users| users.get(active.get_untracked()).cloned())
                {
                    open(&user);
                }
            }
            _ => return,
        }
        event.prevent_default();
    };
    let option_id = |user: &User| format!("chat-search-{}", user.id);

    view! {
        <div class="chat-search">
            <input
                type="search"
                aria-label="Search chats"
                placeholder="Search chats"
                autocomplete="off"
                spellcheck="false"
                aria-controls=move || searching.get().then_some("chat-search-results")
                aria-activedescendant=move || {
                    users.with(|users| users.get(active.get()).map(option_id))
                }
                prop:value=move || query.get()
                on:input=input
                on:keydown=keydown
            />
            <Show when=move || searching.get()>
                <ul class="chat-search-results" id="chat-search-results" role="listbox" aria-label="Search results">
                    <For
                        each=move || users.get().into_iter().enumerate()
                        key=|(index, user)| (*index, user.id)
                        children=move |(index, user)| {
                            let id = option_id(&user);
                            let name = user.display_name.clone();
                            view! {
                                <li
                                    role="option"
                                    id=id
                                    class="chat-search-result"
                                    aria-selected=move || (active.get() == index).to_string()
                                    on:click=move |_| open(&user)
                                >
                                    {name}
                                </li>
                            }
                        }
                    />
                    <Show when=move || users.with(Vec::is_empty)>
                        <li class="chat-search-empty" role="option" aria-disabled="true" aria-selected="false">
                            "No one found"
                        </li>
                    </Show>
                </ul>
            </Show>
        </div>
    }
}
