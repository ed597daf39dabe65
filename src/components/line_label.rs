//! What number a caller dialled: the line's name, in its colour, when the configuration names
//! the number; the number itself otherwise.

use leptos::prelude::*;

use crate::store::Store;

#[component]
pub fn LineLabel(
    /// The number the caller dialled.
    dialled: String,
) -> impl IntoView {
    let store = expect_context::<Store>();
    let line = {
        let dialled = dialled.clone();
        Memo::new(move |_| store.line(&dialled))
    };
    let number = format!("Dialled: {dialled}");
    move || match line.get() {
        Some(line) => {
            let swatch = line
                .safe_colour()
                .map(|colour| format!("background-color: {colour}"));
            view! {
                <span class="dialled line" title=number.clone()>
                    <span class="line-swatch" style=swatch aria-hidden="true"></span>
                    {line.name}
                </span>
            }
            .into_any()
        }
        None => view! { <span class="dialled">{number.clone()}</span> }.into_any(),
    }
}
