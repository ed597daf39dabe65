//! Getting the operator's attention while the tab is hidden: desktop notification and sound.

use leptos::prelude::*;

use super::browser;

const NOTIFICATIONS_KEY: &str = "switchboard.notifications";
const SOUND_KEY: &str = "switchboard.sound";

/// The two switches of the settings menu, remembered in local storage. Both are off until
/// the operator turns them on; permission for notifications is asked only then, never on load.
#[derive(Debug, Clone, Copy)]
pub struct Attention {
    notifications: RwSignal<bool>,
    sound: RwSignal<bool>,
}

impl Attention {
    /// The switches as the operator left them. Notifications stay off if the browser no longer
    /// allows them (permission withdrawn in the browser's settings).
    pub fn load() -> Self {
        let stored = |key| browser::load(key).as_deref() == Some("on");
        Attention {
            notifications: RwSignal::new(
                stored(NOTIFICATIONS_KEY) && browser::notifications_allowed(),
            ),
            sound: RwSignal::new(stored(SOUND_KEY)),
        }
    }

    /// Whether a desktop notification is shown for a message while the tab is hidden.
    pub fn notifications(&self) -> ReadSignal<bool> {
        self.notifications.read_only()
    }

    /// Whether a sound plays for a message while the tab is hidden.
    pub fn sound(&self) -> ReadSignal<bool> {
        self.sound.read_only()
    }

    /// Turns notifications on (asking the browser's permission first) or off.
    pub fn set_notifications(&self, on: bool) {
        let notifications = self.notifications;
        let remember = move |on: bool| {
            notifications.set(on);
            browser::save(NOTIFICATIONS_KEY, if on { "on" } else { "off" });
        };
        if on && !browser::notifications_allowed() {
            browser::ask_notification_permission(remember);
        } else {
            remember(on);
        }
    }

    /// Turns the sound on or off.
    pub fn set_sound(&self, on: bool) {
        self.sound.set(on);
        browser::save(SOUND_KEY, if on { "on" } else { "off" });
    }

    /// A message from `from` arrived: tell the operator if they cannot see the console.
    pub fn message_arrived(&self, from: &str, body: &str) {
        if browser::page_visible() {
            return;
        }
        if self.notifications.get_untracked() && browser::notifications_allowed() {
            browser::notify(from, body);
        }
        if self.sound.get_untracked() {
            browser::play_sound();
        }
    }
}
