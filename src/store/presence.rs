//! The store's presence: one signal per user, from snapshots and deltas. A console that is
//! not an operator's follows only the presence it shows: the views that ask for a user's
//! presence count as showing it until they go away, and the store tells the server that set
//! (`watch`) when it changed, at most once a second (operators follow everyone's).

use std::collections::HashMap;

use leptos::prelude::*;
use switchboard_protocol::{
    Absence, ClientFrame, MAX_WATCHED, PresenceState, PresenceUpdate, UserId,
};

use super::connection::whole_snapshot;
use super::{ConnectionState, Store, set_if_changed};

impl Store {
    /// The presence of `user`: a signal that changes only when that user's presence does.
    /// The calling view counts as showing it until it goes away.
    pub fn presence(&self, user: UserId) -> Signal<PresenceState> {
        self.show_presence_of(user);
        self.presence_signal(user).read_only().into()
    }

    /// The presence of `user`, read in the calling view's reactive scope, without counting as
    /// showing it.
    pub fn presence_state(&self, user: UserId) -> PresenceState {
        self.presence_signal(user).get()
    }

    /// What the presence field of whoever `user` names shows: away while an absence of theirs
    /// runs, their presence otherwise; `None` without a user. `user` may change (a directory
    /// row shows another entry as the list scrolls): the calling view counts as showing
    /// whoever it names now, as with [`Store::presence`], until it goes away.
    pub fn shown_presence(&self, user: Signal<Option<UserId>>) -> Memo<Option<PresenceState>> {
        self.follow_shown(user);
        let store = *self;
        Memo::new(move |_| {
            let user = user.get()?;
            let absent = store.absence_signal(user).with(Option::is_some);
            Some(if absent {
                PresenceState::Away
            } else {
                store.presence_signal(user).get()
            })
        })
    }

    /// The absence of `user` while it runs: a signal that changes only when theirs does
    /// (the clock ends it).
    pub fn absence(&self, user: UserId) -> Signal<Option<Absence>> {
        self.absence_signal(user).read_only().into()
    }

    /// The running absence of `user`, read in the calling view's reactive scope: it reruns
    /// when that user's absence changes, not when anyone else's does.
    pub fn absence_of(&self, user: UserId) -> Option<Absence> {
        self.absence_signal(user).get()
    }

    fn absence_signal(&self, user: UserId) -> ArcRwSignal<Option<Absence>> {
        // Looked up for every presence field a row hands another person: the running absence
        // is read only when the signal is made.
        self.absence_signals
            .write_value()
            .entry(user)
            .or_insert_with(|| ArcRwSignal::new(self.running_absence(user)))
            .clone()
    }

    fn running_absence(&self, user: UserId) -> Option<Absence> {
        let now = self.now.get_untracked();
        self.absences.with_value(|absences| {
            absences
                .get(&user)
                .filter(|absence| absence.until_ms > now)
                .cloned()
        })
    }

    /// Asks the server to set (or, with an empty text, end) the signed-in user's absence;
    /// `false` when there is no connection to ask through.
    pub fn set_my_absence(&self, text: String, until_ms: i64) -> bool {
        self.send(ClientFrame::SetAbsence { text, until_ms })
    }

    pub(super) fn update_absences(
        &self,
        absences: Vec<Absence>,
        ended: Vec<UserId>,
        snapshot: bool,
    ) {
        let mut changed = ended.clone();
        self.absences.update_value(|held| {
            if snapshot {
                changed.extend(held.keys());
                held.clear();
            }
            for user in &ended {
                held.remove(user);
            }
            for absence in absences {
                changed.push(absence.user);
                held.insert(absence.user, absence);
            }
        });
        self.refresh_absences(&changed);
    }

    /// Ends the absences whose time has come; the clock calls it every second.
    pub(super) fn end_absences(&self, now: i64) {
        let ended: Vec<UserId> = self.absences.with_value(|absences| {
            absences
                .values()
                .filter(|absence| absence.until_ms <= now)
                .map(|absence| absence.user)
                .collect()
        });
        if ended.is_empty() {
            return;
        }
        self.absences.update_value(|absences| {
            for user in &ended {
                absences.remove(user);
            }
        });
        self.refresh_absences(&ended);
    }

    /// Sets the signals of `users`, where views show them, to their running absence.
    fn refresh_absences(&self, users: &[UserId]) {
        for &user in users {
            let signal = self
                .absence_signals
                .with_value(|signals| signals.get(&user).cloned());
            if let Some(signal) = signal {
                set_if_changed(&signal, self.running_absence(user));
            }
        }
    }

    /// Counts `user` as shown until the current view is cleaned up.
    fn show_presence_of(&self, user: UserId) {
        self.count_shown(Some(user), 1);
        let store = *self;
        on_cleanup(move || store.count_shown(Some(user), -1));
    }

    /// Counts whoever `user` names as shown, following it as it changes, until the current
    /// view is cleaned up.
    fn follow_shown(&self, user: Signal<Option<UserId>>) {
        let store = *self;
        let counted = RenderEffect::new(move |before: Option<Option<UserId>>| {
            let now = user.get();
            let before = before.flatten();
            if before != now {
                store.count_shown(before, -1);
                store.count_shown(now, 1);
            }
            now
        });
        on_cleanup(move || store.count_shown(counted.take_value().flatten(), -1));
    }

    /// Adds `by` to the views showing `user`; forgets users no view shows.
    fn count_shown(&self, user: Option<UserId>, by: isize) {
        let Some(user) = user else { return };
        // After a sign-out the store may be gone first: nothing left to count then.
        self.presence_shown.try_update_value(|shown| {
            let views = shown.entry(user).or_default();
            *views = views.saturating_add_signed(by);
            if *views == 0 {
                shown.remove(&user);
            }
        });
    }

    /// Tells the server the users this console shows, if that changed since the last `watch`
    /// on this socket. Not for operators, and only once the connection is ready.
    pub(super) fn send_watch(&self) {
        if self.role.get_untracked().handles_calls()
            || self.connection.get_untracked() != ConnectionState::Connected
        {
            return;
        }
        let mut users: Vec<UserId> = self
            .presence_shown
            .with_value(|shown| shown.keys().copied().collect());
        users.sort_unstable();
        users.truncate(MAX_WATCHED);
        if self
            .watch_sent
            .with_value(|sent| sent.as_ref() == Some(&users))
        {
            return;
        }
        if self.send(ClientFrame::Watch {
            users: users.clone(),
        }) {
            self.watch_sent.set_value(Some(users));
        }
    }

    /// Asks the server to set the signed-in user's presence; the server's delta updates the store.
    pub fn set_my_presence(&self, state: PresenceState) {
        self.send(ClientFrame::SetPresence { state });
    }

    /// One page of the presence snapshot, like [`Store::directory_page`].
    pub(super) fn presence_page(&self, presence: Vec<PresenceUpdate>, more: bool) {
        if let Some(presence) = whole_snapshot(self.presence_pages, presence, more) {
            self.replace_presence(presence);
        }
    }

    fn replace_presence(&self, presence: Vec<PresenceUpdate>) {
        let mut states: HashMap<UserId, PresenceState> = presence
            .into_iter()
            .map(|update| (update.user, update.state))
            .collect();
        self.presence.update_value(|signals| {
            for (user, signal) in signals.iter() {
                let state = states.remove(user).unwrap_or(PresenceState::Offline);
                set_if_changed(signal, state);
            }
            for (user, state) in states {
                signals.insert(user, ArcRwSignal::new(state));
            }
        });
        self.handshake_step(|handshake| handshake.presence = true);
    }

    pub(super) fn update_presence(&self, update: PresenceUpdate) {
        set_if_changed(&self.presence_signal(update.user), update.state);
    }

    fn presence_signal(&self, user: UserId) -> ArcRwSignal<PresenceState> {
        self.presence
            .write_value()
            .entry(user)
            .or_insert_with(|| ArcRwSignal::new(PresenceState::Offline))
            .clone()
    }
}
