//! Browser services chat needs: random ids, local storage, page visibility, notifications, sound.

use leptos::prelude::{document, window};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{
    HtmlAudioElement, Notification, NotificationOptions, NotificationPermission, VisibilityState,
};

use super::outbox::uuid_v4;

/// The sound played for a message while the tab is hidden (public/message.wav).
const SOUND: &str = "message.wav";

/// A fresh random UUID v4 from `crypto.getRandomValues`, which, unlike `randomUUID`, also works
/// on plain http; `None` if the browser refuses.
pub fn random_uuid() -> Option<String> {
    let mut bytes = [0_u8; 16];
    window()
        .crypto()
        .ok()?
        .get_random_values_with_u8_array(&mut bytes)
        .ok()?;
    Some(uuid_v4(bytes))
}

/// The text stored under `key` in local storage.
pub fn load(key: &str) -> Option<String> {
    window().local_storage().ok()??.get_item(key).ok()?
}

/// Stores `value` under `key`; false when storage is full or disabled (persistence is lost,
/// nothing else).
pub fn save(key: &str, value: &str) -> bool {
    match window().local_storage() {
        Ok(Some(storage)) => storage.set_item(key, value).is_ok(),
        _ => false,
    }
}

/// Removes `key` from local storage, if storage is there.
pub fn remove(key: &str) {
    if let Ok(Some(storage)) = window().local_storage() {
        let _ = storage.remove_item(key);
    }
}

/// The keys in local storage that start with `prefix`.
pub fn keys_starting_with(prefix: &str) -> Vec<String> {
    let Ok(Some(storage)) = window().local_storage() else {
        return Vec::new();
    };
    (0..storage.length().unwrap_or(0))
        .filter_map(|index| storage.key(index).ok().flatten())
        .filter(|key| key.starts_with(prefix))
        .collect()
}

/// Whether the console's tab is shown (not a background tab, not minimised).
pub fn page_visible() -> bool {
    document().visibility_state() == VisibilityState::Visible
}

/// Milliseconds since the epoch, by the browser's clock.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Whether the user allowed desktop notifications.
pub fn notifications_allowed() -> bool {
    Notification::permission() == NotificationPermission::Granted
}

/// Asks for permission to show notifications (the browser asks the user), then tells
/// `answered` whether it was granted.
pub fn ask_notification_permission(answered: impl FnOnce(bool) + 'static) {
    let Ok(promise) = Notification::request_permission() else {
        answered(false);
        return;
    };
    spawn_local(async move {
        let _ = JsFuture::from(promise).await;
        answered(notifications_allowed());
    });
}

/// Shows a desktop notification; a refusal by the browser is not an error worth showing.
pub fn notify(title: &str, body: &str) {
    let options = NotificationOptions::new();
    options.set_body(body);
    options.set_tag("switchboard-chat");
    let _ = Notification::new_with_options(title, &options);
}

/// Plays the message sound once; a browser that blocks autoplay just stays silent.
pub fn play_sound() {
    let Ok(audio) = HtmlAudioElement::new_with_src(SOUND) else {
        return;
    };
    if let Ok(promise) = audio.play() {
        spawn_local(async move {
            let _ = JsFuture::from(promise).await;
        });
    }
}

/// Focuses the element matching `selector` inside `root` (or the document), if there is one.
pub fn focus_in(root: Option<&web_sys::Element>, selector: &str) -> bool {
    let found = match root {
        Some(root) => root.query_selector(selector),
        None => document().query_selector(selector),
    };
    found
        .ok()
        .flatten()
        .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok())
        .is_some_and(|element| element.focus().is_ok())
}
