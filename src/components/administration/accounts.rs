//! Accounts: every account with its role, status and a password reset, and the form that adds
//! one. The list is reloaded from the server after each change.

use std::collections::HashMap;

use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::html;
use leptos::prelude::*;
use switchboard_protocol::{Account, AccountChange, NewAccount, PasswordReset, Role, UserId};

use super::{Actions, Feedback, Latest, Outcome, act, count};
use crate::admin_api;

/// The accounts table, its filter and the "Add account" form.
#[component]
pub fn Accounts(
    /// Told of each action taken here, whatever its outcome.
    actions: Actions,
) -> impl IntoView {
    let accounts = RwSignal::new(Vec::<Account>::new());
    let loaded = RwSignal::new(false);
    let feedback = Feedback::new();
    let latest = Latest::new();
    let reload = move || {
        latest.load(admin_api::accounts(), move |answer| match answer {
            Ok(list) => {
                accounts.set(list);
                loaded.set(true);
            }
            Err(error) => feedback.refuse(error.to_string()),
        });
    };
    reload();
    let after = move || {
        reload();
        actions.taken();
    };

    // Rows are keyed by account and read their account from here: a reload updates the
    // fields that changed and keeps every row (and the focus in it) in place.
    let positions = Memo::new(move |_| {
        accounts.with(|accounts| {
            accounts
                .iter()
                .enumerate()
                .map(|(position, account)| (account.id, position))
                .collect::<HashMap<UserId, usize>>()
        })
    });
    let filter = RwSignal::new(String::new());
    let shown = Memo::new(move |_| {
        filter.with(|filter| {
            accounts.with(|accounts| {
                accounts
                    .iter()
                    .filter(|account| matches_filter(account, filter))
                    .map(|account| (account.id, account.username.clone()))
                    .collect::<Vec<_>>()
            })
        })
    });
    let total = Signal::derive(move || accounts.with(Vec::len));

    // One password form open at a time: its "Set password" button is the only one.
    let resetting = RwSignal::new(None::<UserId>);

    let change = Callback::new(move |(username, change): (String, AccountChange)| {
        act(
            feedback,
            async move { admin_api::change_account(&username, &change).await },
            |account| Some(changed_note(&account)),
            after,
        );
    });
    let set_password = Callback::new(move |(username, password): (String, String)| {
        let reset = PasswordReset { password };
        act(
            feedback,
            {
                let username = username.clone();
                async move { admin_api::reset_password(&username, &reset).await }
            },
            move |()| {
                resetting.set(None);
                Some(format!("New password set for {username}."))
            },
            after,
        );
    });

    view! {
        <section class="admin-card admin-accounts" aria-labelledby="admin-accounts-heading">
            <header class="admin-card-header">
                <h2 id="admin-accounts-heading">"Accounts"</h2>
                <input
                    class="admin-filter"
                    type="search"
                    aria-label="Filter accounts"
                    placeholder="Username or name"
                    autocomplete="off"
                    spellcheck="false"
                    bind:value=filter
                />
                <p class="admin-count">
                    {move || loaded.get().then(|| count(total.get(), "account", "accounts"))}
                </p>
            </header>
            <Outcome feedback />
            <div class="admin-table-scroller">
                <table class="admin-table" aria-label="Accounts">
                    <thead>
                        <tr>
                            <th scope="col">"Username"</th>
                            <th scope="col">"Display name"</th>
                            <th scope="col">"Role"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col">"Actions"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For
                            each=move || shown.get()
                            key=|(id, _)| *id
                            children=move |(id, username)| {
                                let account = Signal::derive(move || {
                                    let position = positions.with(|positions| positions.get(&id).copied())?;
                                    accounts.with(|accounts| accounts.get(position).cloned())
                                });
                                view! {
                                    <AccountRow
                                        id
                                        username
                                        account
                                        resetting
                                        on_change=change
                                        on_set_password=set_password
                                    />
                                }
                            }
                        />
                    </tbody>
                </table>
            </div>
            <AddAccount feedback after />
        </section>
    }
}

/// One account: role picker, status, activation and password reset.
#[component]
fn AccountRow(
    /// The account's id (the row's key).
    id: UserId,
    /// Its username, which never changes.
    username: String,
    /// The account as last listed by the server; it follows every reload.
    account: Signal<Option<Account>>,
    /// The account whose password form is open, if any.
    resetting: RwSignal<Option<UserId>>,
    /// Asks the server to change an account.
    on_change: Callback<(String, AccountChange)>,
    /// Asks the server to set an account's password.
    on_set_password: Callback<(String, String)>,
) -> impl IntoView {
    let role = Memo::new(move |_| account.with(|account| account.as_ref().map(|a| a.role)));
    let active =
        Memo::new(move |_| account.with(|account| account.as_ref().is_some_and(|a| a.active)));
    let display_name =
        move || account.with(|account| account.as_ref().map(|a| a.display_name.clone()));
    let name = StoredValue::new(username.clone());
    // The picker shows the role the server has: after every reload, so a refused change does
    // not leave it on the role that was refused.
    let picker = NodeRef::<html::Select>::new();
    Effect::new(move || {
        let role = account.with(|account| account.as_ref().map(|a| a.role));
        if let (Some(picker), Some(role)) = (picker.get(), role) {
            picker.set_value(role.as_str());
        }
    });
    let choose_role = move |event| {
        if let Some(role) = Role::parse(&event_target_value(&event)) {
            let change = AccountChange {
                role: Some(role),
                active: None,
            };
            on_change.run((name.get_value(), change));
        }
    };
    let toggle_active = move |_| {
        let change = AccountChange {
            role: None,
            active: Some(!active.get_untracked()),
        };
        on_change.run((name.get_value(), change));
    };
    let open = Memo::new(move |_| resetting.get() == Some(id));
    let reset_button = NodeRef::<html::Button>::new();
    let close = move || {
        resetting.set(None);
        if let Some(button) = reset_button.get_untracked() {
            let _ = button.focus();
        }
    };
    let options = Role::ALL
        .into_iter()
        .map(|choice| {
            view! {
                <option value=choice.as_str() selected=role.get_untracked() == Some(choice)>
                    {role_label(choice)}
                </option>
            }
        })
        .collect_view();
    let toggle_label = move || {
        if active.get() {
            "Deactivate"
        } else {
            "Activate"
        }
    };

    view! {
        <tr class:deactivated=move || !active.get()>
            <td class="admin-username">{username.clone()}</td>
            <td>{display_name}</td>
            <td>
                <select aria-label=format!("Role of {username}") node_ref=picker on:change=choose_role>
                    {options}
                </select>
            </td>
            <td>{move || if active.get() { "Active" } else { "Deactivated" }}</td>
            <td class="admin-actions">
                <button
                    type="button"
                    aria-label=move || format!("{} {}", toggle_label(), name.get_value())
                    on:click=toggle_active
                >
                    {toggle_label}
                </button>
                <button
                    type="button"
                    aria-label=format!("Reset password for {username}")
                    aria-expanded=move || open.get().to_string()
                    node_ref=reset_button
                    on:click=move |_| {
                        resetting.set(if open.get_untracked() { None } else { Some(id) });
                    }
                >
                    "Reset password"
                </button>
            </td>
        </tr>
        <Show when=move || open.get()>
            <tr class="admin-password-row">
                <td colspan="5">
                    <PasswordForm
                        id
                        username=name.get_value()
                        on_set=on_set_password
                        on_cancel=Callback::new(move |()| close())
                    />
                </td>
            </tr>
        </Show>
    }
}

/// The new password of one account, focused when it opens; Escape cancels.
#[component]
fn PasswordForm(
    /// The account's id, for the field's id.
    id: UserId,
    /// Whose password.
    username: String,
    /// Sets the password (username, password).
    on_set: Callback<(String, String)>,
    /// Closes the form without a change.
    on_cancel: Callback<()>,
) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let field = NodeRef::<html::Input>::new();
    Effect::new(move || {
        if let Some(field) = field.get() {
            let _ = field.focus();
        }
    });
    let label = format!("New password for {username}");
    let field_id = format!("admin-password-{id}");
    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        on_set.run((username.clone(), password.get_untracked()));
    };
    let keydown = move |event: KeyboardEvent| {
        if event.key() == "Escape" {
            event.prevent_default();
            on_cancel.run(());
        }
    };
    view! {
        <form class="admin-password" on:submit=submit on:keydown=keydown>
            <label for=field_id.clone()>{label}</label>
            <input
                id=field_id
                type="password"
                autocomplete="new-password"
                required
                node_ref=field
                bind:value=password
            />
            <button type="submit">"Set password"</button>
            <button type="button" on:click=move |_| on_cancel.run(())>
                "Cancel"
            </button>
        </form>
    }
}

/// The "Add account" form; cleared once the server created the account.
#[component]
fn AddAccount(
    /// The accounts part's feedback, which tells what became of the new account.
    feedback: Feedback,
    /// Runs after the attempt, whatever its outcome (reloads); it may run after the view
    /// has closed.
    after: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let display_name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::User);
    let password = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        let account = NewAccount {
            username: username.get_untracked().trim().to_owned(),
            display_name: display_name.get_untracked().trim().to_owned(),
            role: role.get_untracked(),
            password: password.get_untracked(),
        };
        act(
            feedback,
            async move { admin_api::add_account(&account).await },
            move |account| {
                username.set(String::new());
                display_name.set(String::new());
                role.set(Role::User);
                password.set(String::new());
                Some(format!(
                    "Account {} added ({}).",
                    account.username,
                    role_label(account.role)
                ))
            },
            move || {
                pending.set(false);
                after();
            },
        );
    };
    let options = Role::ALL
        .into_iter()
        .map(|choice| {
            view! {
                <option value=choice.as_str() prop:selected=move || role.get() == choice>
                    {role_label(choice)}
                </option>
            }
        })
        .collect_view();
    view! {
        <form class="admin-form admin-add-account" aria-labelledby="admin-add-heading" on:submit=submit>
            <h3 id="admin-add-heading">"Add account"</h3>
            <div class="admin-fields">
                <label for="admin-new-username">"Username"</label>
                <input
                    id="admin-new-username"
                    autocomplete="off"
                    spellcheck="false"
                    required
                    bind:value=username
                />
                <label for="admin-new-display-name">"Display name"</label>
                <input
                    id="admin-new-display-name"
                    autocomplete="off"
                    required
                    bind:value=display_name
                />
                <label for="admin-new-role">"Role"</label>
                <select
                    id="admin-new-role"
                    on:change=move |event| {
                        if let Some(choice) = Role::parse(&event_target_value(&event)) {
                            role.set(choice);
                        }
                    }
                >
                    {options}
                </select>
                <label for="admin-new-password">"Password"</label>
                <input
                    id="admin-new-password"
                    type="password"
                    autocomplete="new-password"
                    required
                    bind:value=password
                />
            </div>
            <button type="submit" class="primary" disabled=pending>
                "Add account"
            </button>
        </form>
    }
}

/// "Admin", "Operator", "User".
fn role_label(role: Role) -> &'static str {
    match role {
        Role::Admin => "Admin",
        Role::Operator => "Operator",
        Role::User => "User",
    }
}

/// What the admin is told once an account changed.
fn changed_note(account: &Account) -> String {
    let status = if account.active {
        "active"
    } else {
        "deactivated"
    };
    format!(
        "{} is now {} ({}).",
        account.username,
        role_label(account.role),
        status
    )
}

/// Whether `account` is shown for the filter text: every word must occur, case-insensitively,
/// in its username or display name.
fn matches_filter(account: &Account, filter: &str) -> bool {
    let haystack = format!("{}\n{}", account.username, account.display_name).to_lowercase();
    filter
        .to_lowercase()
        .split_whitespace()
        .all(|word| haystack.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Account {
        Account {
            id: 2,
            username: "alice".into(),
            display_name: "Alice Archer".into(),
            role: Role::User,
            active: true,
        }
    }

    #[test]
    fn the_filter_looks_at_username_and_display_name() {
        assert!(matches_filter(&alice(), ""));
        assert!(matches_filter(&alice(), "ALI"));
        assert!(matches_filter(&alice(), "alice archer"));
        assert!(!matches_filter(&alice(), "bob"));
    }

    #[test]
    fn a_change_is_told_in_words() {
        let mut account = alice();
        account.active = false;
        account.role = Role::Operator;
        assert_eq!(
            changed_note(&account),
            "alice is now Operator (deactivated)."
        );
    }
}
