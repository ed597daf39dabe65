//! The "Keyboard shortcuts" dialog: every shortcut with its key as the server configured it.
//! Opened with the help key (F1 by default) or "?".

use leptos::prelude::*;

use super::Dialog;
use crate::keys::Shortcut;
use crate::store::Store;

#[component]
pub fn ShortcutsHelp(open: RwSignal<bool>) -> impl IntoView {
    let store = expect_context::<Store>();
    let config = store.config();
    let rows = move || {
        config.with(|config| {
            let Some(config) = config else {
                return Vec::new();
            };
            let mut rows: Vec<(&'static str, String)> = Shortcut::ALL
                .into_iter()
                .map(|shortcut| (shortcut.label(), shortcut.key(&config.keys).to_owned()))
                .collect();
            rows.insert(
                1,
                ("Chat with the person in focus", config.chat_key.clone()),
            );
            rows
        })
    };
    view! {
        <Dialog open title="Keyboard shortcuts" title_id="shortcuts-help-title">
            <table>
                <thead>
                    <tr>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Key"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        rows()
                            .into_iter()
                            .map(|(action, key)| {
                                view! {
                                    <tr>
                                        <td>{action}</td>
                                        <td>
                                            <kbd>{key}</kbd>
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
            <p>
                "Function keys work while you type; the others only outside text fields. "
                "\"?\" also opens this list."
            </p>
        </Dialog>
    }
}
