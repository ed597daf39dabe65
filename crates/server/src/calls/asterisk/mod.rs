//! The Asterisk adapter: Switchboard as an attendant console of an Asterisk PBX, through
//! ARI (`[pbx.asterisk]` of the configuration; README "Connecting Asterisk").
//!
//! Calls the dialplan sends to the Stasis application wait in one holding bridge with music
//! on hold. Answering dials the operator's telephone (`operators`) and joins it and the
//! caller in a new mixing bridge of the call (`sb-call-<call>-<n>`); holding puts the
//! caller back in the holding bridge. An attended transfer dials the target through `context` while the caller holds,
//! and completing it joins the caller to the target; a blind transfer sends the caller on
//! to the target's number in `context`. Lines the adapter dials carry ids that name their
//! call (`sb-<call>-op-…`, `sb-<call>-consult-…`), so on every (re)connect the adapter
//! rebuilds what it knows from Asterisk's channels and bridges: a Switchboard restart loses
//! no call. Each line's device state feeds the busy lamp field.
//!
//! A call back dials the operator's telephone and, once answered, the caller's number in
//! `context`. Night service sets the global variable `SWITCHBOARD_CLOSED` (1 or 0), which
//! the dialplan reads to send calls elsewhere at night.

pub mod ari;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::PathBuf,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::{StreamExt, future::BoxFuture};
use serde::Deserialize;
use switchboard_protocol::{
    Call, CallAction, CallId, CallState, EntryId, LineState, MissedCall, NewCall,
};
use tokio::sync::{mpsc, oneshot};

use self::ari::{Ari, AriError, Channel, Event};
use super::{
    Source,
    adapter::{AdapterError, CallControl, Command, Confirmed},
};
use crate::{directory::dialable, state::AppState};

/// The global dialplan variable that says the switchboard is closed ("1") or open ("0").
pub const NIGHT_VARIABLE: &str = "SWITCHBOARD_CLOSED";

/// Longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// `[pbx.asterisk]` of the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsteriskConfig {
    /// Where ARI listens, e.g. `http://127.0.0.1:8088`.
    pub url: String,
    /// The ARI user (ari.conf).
    pub user: String,
    /// File holding the ARI user's password.
    pub password_file: PathBuf,
    /// Read from `password_file` by [`AsteriskConfig::check`].
    #[serde(skip)]
    pub password: String,
    /// The Stasis application the dialplan sends calls to.
    #[serde(default = "default_app")]
    pub app: String,
    /// Dialplan context transfers dial in (the company's extensions).
    #[serde(default = "default_context")]
    pub context: String,
    /// The device whose state is an extension's lamp; `{extension}` is replaced.
    #[serde(default = "default_device")]
    pub device: String,
    /// Each operator's telephone, as an Asterisk endpoint to dial (`PJSIP/200`).
    #[serde(default)]
    pub operators: BTreeMap<String, String>,
    /// Seconds a telephone the switchboard dials (the operator's, a transfer target's, a
    /// call back) rings before Asterisk gives up: a transfer target who does not answer by
    /// then is recalled. 5 to 300.
    #[serde(default = "default_ring_secs")]
    pub ring_secs: u32,
}

fn default_ring_secs() -> u32 {
    30
}

fn default_app() -> String {
    "switchboard".into()
}

fn default_context() -> String {
    "from-switchboard".into()
}

fn default_device() -> String {
    "PJSIP/{extension}".into()
}

impl AsteriskConfig {
    /// Refuses what cannot work, naming the key, and reads the password file.
    pub fn check(&mut self) -> Result<(), String> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(format!(
                "pbx.asterisk.url must start with http:// or https:// (got {:?})",
                self.url
            ));
        }
        if self.app.is_empty() || self.app.contains([',', '/', '?', '&']) {
            return Err("pbx.asterisk.app must be a plain name like \"switchboard\"".into());
        }
        if !(5..=300).contains(&self.ring_secs) {
            return Err(format!(
                "pbx.asterisk.ring_secs must be 5 to 300 (got {})",
                self.ring_secs
            ));
        }
        if !self.device.contains("{extension}") {
            return Err(
                "pbx.asterisk.device must contain {extension}, e.g. \"PJSIP/{extension}\"".into(),
            );
        }
        self.password = std::fs::read_to_string(&self.password_file)
            .map(|password| password.trim_end_matches(['\r', '\n']).to_owned())
            .map_err(|err| {
                format!(
                    "cannot read pbx.asterisk.password_file {}: {err}",
                    self.password_file.display()
                )
            })?;
        Ok(())
    }
}

/// What the adapter knows of one call's lines.
#[derive(Debug, Clone, Default)]
struct Lines {
    caller: String,
    /// The mixing bridge where the operator talks (to the caller, or to a transfer target).
    /// Each answer makes a new one: Asterisk frees a destroyed bridge's id a moment later.
    bridge: Option<String>,
    operator: Option<String>,
    consult: Option<String>,
    /// The transfer target answered and is in the call's bridge.
    consult_up: bool,
}

#[derive(Default)]
struct Known {
    calls: HashMap<CallId, Lines>,
    /// Caller line → call.
    callers: HashMap<String, CallId>,
    /// Lines the adapter sent away or hung up itself: their end is no news.
    departing: HashSet<String>,
    /// Bridges of completed attended transfers (caller and target), with their lines: when
    /// one hangs up, the other is hung up too.
    transferred: HashMap<String, Vec<String>>,
}

/// The adapter. Commands come through [`CallControl`]; Asterisk's events through [`run`].
pub struct Asterisk {
    config: AsteriskConfig,
    ari: Ari,
    known: Mutex<Known>,
    /// Lines being dialled, each with who waits for its answer.
    waiting: Mutex<HashMap<String, oneshot::Sender<Result<(), String>>>>,
    /// Makes every dialled line's id unique.
    dialled: AtomicU64,
    /// The entries whose lamp each watched device is.
    devices: Mutex<HashMap<String, Vec<EntryId>>>,
    /// This adapter, for the tasks that carry out commands.
    me: Weak<Asterisk>,
    /// Commands Asterisk carried out after their operator stopped waiting (they timed out):
    /// what the exchange did still counts, [`run`] applies them as reports.
    late: mpsc::UnboundedSender<(CallId, CallAction)>,
    late_reports: Mutex<Option<mpsc::UnboundedReceiver<(CallId, CallAction)>>>,
}

fn refused(action: &'static str) -> impl Fn(AriError) -> AdapterError {
    move |err| AdapterError {
        action,
        reason: err.to_string(),
    }
}

/// The call a bridge the adapter made belongs to (`sb-call-<call>-<n>`).
fn bridge_of(bridge: &str) -> Option<CallId> {
    bridge
        .strip_prefix("sb-call-")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// The call and role (`op`, `consult`) a line the adapter dialled belongs to.
fn leg_of(channel: &str) -> Option<(CallId, &str)> {
    let mut parts = channel.strip_prefix("sb-")?.splitn(3, '-');
    let call = parts.next()?.parse().ok()?;
    Some((call, parts.next()?))
}

/// An Asterisk device state as a lamp.
pub fn line_state(device_state: &str) -> LineState {
    match device_state {
        "NOT_INUSE" => LineState::Idle,
        "RINGING" | "RINGINUSE" => LineState::Ringing,
        "INUSE" | "BUSY" => LineState::InUse,
        "ONHOLD" => LineState::OnHold,
        _ => LineState::Unavailable,
    }
}

impl Asterisk {
    /// The adapter of a checked configuration; the connection is made by [`run`].
    pub fn new(config: AsteriskConfig) -> Arc<Self> {
        let ari = Ari::new(
            &config.url,
            &config.user,
            &config.password,
            &config.app,
            config.ring_secs,
        );
        let (late, late_reports) = mpsc::unbounded_channel();
        Arc::new_cyclic(|me| Asterisk {
            config,
            ari,
            known: Mutex::default(),
            waiting: Mutex::default(),
            dialled: AtomicU64::new(crate::clock::now_ms().unsigned_abs()),
            devices: Mutex::default(),
            me: me.clone(),
            late,
            late_reports: Mutex::new(Some(late_reports)),
        })
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn waiting(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Result<(), String>>>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn devices(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<EntryId>>> {
        self.devices
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn holding(&self) -> String {
        format!("{}-holding", self.config.app)
    }

    fn device(&self, extension: &str) -> String {
        self.config.device.replace("{extension}", extension)
    }

    /// Dials a line for `call` (`role` `op` or `consult`) into the application.
    async fn dial(
        &self,
        call: CallId,
        role: &str,
        endpoint: &str,
    ) -> Result<(String, oneshot::Receiver<Result<(), String>>), AriError> {
        let n = self.dialled.fetch_add(1, Ordering::Relaxed);
        let id = format!("sb-{call}-{role}-{n}");
        let (tx, rx) = oneshot::channel();
        self.waiting().insert(id.clone(), tx);
        let args = format!("{role},{call}");
        if let Err(err) = self
            .ari
            .originate(&id, endpoint, &args, "Switchboard <0>")
            .await
        {
            self.waiting().remove(&id);
            return Err(err);
        }
        Ok((id, rx))
    }

    /// The Asterisk endpoint of `operator`'s telephone.
    fn operator_endpoint(
        &self,
        operator: &str,
        action: &'static str,
    ) -> Result<&str, AdapterError> {
        self.config
            .operators
            .get(operator)
            .map(String::as_str)
            .ok_or_else(|| AdapterError {
                action,
                reason: format!(
                    "no telephone is set for operator {operator} (pbx.asterisk.operators)"
                ),
            })
    }

    /// Dials the operator's telephone for `call` and waits until it answers; it then sits in
    /// the call's bridge.
    async fn operator_line(
        &self,
        call: CallId,
        operator: &str,
        action: &'static str,
    ) -> Result<String, AdapterError> {
        let endpoint = self.operator_endpoint(operator, action)?;
        let (line, answered) = self
            .dial(call, "op", endpoint)
            .await
            .map_err(refused(action))?;
        let bridge = format!(
            "sb-call-{call}-{}",
            self.dialled.fetch_add(1, Ordering::Relaxed)
        );
        let joined = async {
            let answered = answered
                .await
                .unwrap_or(Err("the link to Asterisk was lost".into()));
            answered.map_err(|reason| AdapterError {
                action,
                reason: format!("your telephone did not answer ({reason})"),
            })?;
            self.ari
                .bridge(&bridge, "mixing")
                .await
                .map_err(refused(action))?;
            self.ari.add(&bridge, &line).await.map_err(refused(action))
        };
        if let Err(err) = joined.await {
            // No telephone left ringing or off the hook in silence.
            self.known().departing.insert(line.clone());
            let _ = self.ari.hang_up(&line).await;
            let _ = self.ari.destroy(&bridge).await;
            return Err(err);
        }
        if let Some(lines) = self.known().calls.get_mut(&call) {
            lines.operator = Some(line.clone());
            lines.bridge = Some(bridge.clone());
        }
        Ok(bridge)
    }

    /// The bridge where the operator talks on `call`, if there is one.
    fn bridge(&self, call: CallId) -> Option<String> {
        self.known().calls.get(&call)?.bridge.clone()
    }

    /// Moves the caller of `call` from wherever it is (the holding bridge or the call's) to
    /// `to`.
    async fn move_caller(&self, call: CallId, caller: &str, to: &str) -> Result<(), AriError> {
        let from = if to == self.holding() {
            self.bridge(call)
        } else {
            Some(self.holding())
        };
        if let Some(from) = from {
            self.ari.remove(&from, caller).await?;
        }
        self.ari.add(to, caller).await
    }

    /// Hangs up the operator's and (unless `keep_consult`) the target's lines of `call`, and
    /// then removes its bridge.
    async fn drop_lines(&self, call: CallId, keep_consult: bool) -> Result<(), AriError> {
        let drop = {
            let mut known = self.known();
            let Known {
                calls, departing, ..
            } = &mut *known;
            let Some(lines) = calls.get_mut(&call) else {
                return Ok(());
            };
            let mut drop: Vec<String> = lines.operator.take().into_iter().collect();
            let mut bridge = None;
            if !keep_consult {
                drop.extend(lines.consult.take());
                lines.consult_up = false;
                bridge = lines.bridge.take();
            }
            departing.extend(drop.iter().cloned());
            (drop, bridge)
        };
        let (drop, bridge) = drop;
        for line in drop {
            self.ari.hang_up(&line).await?;
        }
        match bridge {
            Some(bridge) => self.ari.destroy(&bridge).await,
            None => Ok(()),
        }
    }

    async fn carry(&self, call: &Call, command: Command<'_>) -> Result<(), AdapterError> {
        let action = command.action.verb();
        let lines = self
            .known()
            .calls
            .get(&call.id)
            .cloned()
            .ok_or_else(|| AdapterError {
                action,
                reason: "Asterisk does not know this call (was it restarted?)".into(),
            })?;
        let caller = lines.caller.as_str();
        let number = || {
            command.target_number.ok_or_else(|| AdapterError {
                action,
                reason: "the target has no number to dial".into(),
            })
        };
        let talking = || {
            lines.bridge.clone().ok_or_else(|| AdapterError {
                action,
                reason: "the operator's telephone is not in the call".into(),
            })
        };
        match (command.action, call.state) {
            // What Asterisk reports (a target who did not answer), never an operator's command.
            (CallAction::Recall, _) => Err(AdapterError {
                action,
                reason: "the telephone system recalls calls itself".into(),
            }),
            (CallAction::Answer, CallState::Transferring) => {
                // Cancel: the target hangs up, the operator has the caller again.
                let consult = self.known().calls.get_mut(&call.id).and_then(|lines| {
                    lines.consult_up = false;
                    lines.consult.take()
                });
                if let Some(consult) = consult {
                    self.known().departing.insert(consult.clone());
                    self.ari.hang_up(&consult).await.map_err(refused(action))?;
                }
                self.move_caller(call.id, caller, &talking()?)
                    .await
                    .map_err(refused(action))
            }
            (CallAction::Answer, _) => {
                let bridge = self
                    .operator_line(call.id, command.operator, action)
                    .await?;
                self.move_caller(call.id, caller, &bridge)
                    .await
                    .map_err(refused(action))
            }
            (CallAction::Hold, _) => {
                self.move_caller(call.id, caller, &self.holding())
                    .await
                    .map_err(refused(action))?;
                self.drop_lines(call.id, false)
                    .await
                    .map_err(refused(action))
            }
            (CallAction::Transfer { .. }, state) => {
                let number = number()?;
                if state == CallState::Active {
                    self.move_caller(call.id, caller, &self.holding())
                        .await
                        .map_err(refused(action))?;
                } else {
                    self.operator_line(call.id, command.operator, action)
                        .await?;
                }
                let endpoint = format!("Local/{number}@{}", self.config.context);
                let (line, answered) = match self.dial(call.id, "consult", &endpoint).await {
                    Ok(dialled) => dialled,
                    Err(err) => {
                        // The operator has the caller again.
                        if let Some(bridge) = self.bridge(call.id)
                            && let Err(err) = self.move_caller(call.id, caller, &bridge).await
                        {
                            tracing::warn!(call = call.id, %err, "cannot take the caller back");
                        }
                        return Err(refused(action)(err));
                    }
                };
                if let Some(lines) = self.known().calls.get_mut(&call.id) {
                    lines.consult = Some(line.clone());
                }
                // Confirmed once Asterisk dials the target; the adapter joins the target to
                // the operator when it answers.
                drop(answered);
                Ok(())
            }
            (CallAction::BlindTransfer { .. }, _) => {
                let number = number()?;
                // Not the call's caller any more: its leaving the application is no news.
                self.known().callers.remove(caller);
                let sent = self
                    .ari
                    .continue_to(caller, &self.config.context, number)
                    .await;
                if let Err(err) = sent {
                    self.known().callers.insert(caller.to_owned(), call.id);
                    return Err(refused(action)(err));
                }
                // The caller is on its way: the operator's line and the bridge go.
                let dropped = self.drop_lines(call.id, false).await;
                self.forget(call.id);
                dropped.map_err(refused(action))
            }
            (CallAction::Clear, CallState::Transferring) => {
                // Complete: the caller joins the target, the operator leaves.
                let (Some(consult), true) = (&lines.consult, lines.consult_up) else {
                    return Err(AdapterError {
                        action: "complete the transfer of",
                        reason: "the target has not answered yet: wait, or cancel the transfer"
                            .into(),
                    });
                };
                let bridge = talking()?;
                self.move_caller(call.id, caller, &bridge)
                    .await
                    .map_err(refused(action))?;
                self.drop_lines(call.id, true)
                    .await
                    .map_err(refused(action))?;
                let mut known = self.known();
                known
                    .transferred
                    .insert(bridge, vec![caller.to_owned(), consult.clone()]);
                known.calls.remove(&call.id);
                known.callers.remove(caller);
                Ok(())
            }
            (CallAction::Clear, _) => {
                self.drop_lines(call.id, false)
                    .await
                    .map_err(refused(action))?;
                self.known().departing.insert(caller.to_owned());
                self.forget(call.id);
                self.ari.hang_up(caller).await.map_err(refused(action))
            }
        }
    }

    /// The adapter no longer follows `call` (it left Switchboard).
    fn forget(&self, call: CallId) {
        let mut known = self.known();
        if let Some(lines) = known.calls.remove(&call) {
            known.callers.remove(&lines.caller);
        }
    }

    /// Tells whoever waits for `line` whether it answered; `false` when nobody waits any
    /// more (its command gave up).
    fn answered(&self, line: &str, outcome: Result<(), String>) -> bool {
        self.waiting()
            .remove(line)
            .is_some_and(|waiter| waiter.send(outcome).is_ok())
    }
}

impl CallControl for Asterisk {
    fn name(&self) -> &'static str {
        "asterisk"
    }

    fn carry_out<'a>(
        &'a self,
        call: &'a Call,
        command: Command<'a>,
    ) -> BoxFuture<'a, Result<Confirmed, AdapterError>> {
        // The work runs as its own task: a command that times out must not stop half-way
        // through (a caller moved, the operator's line not yet hung up).
        let (me, call) = (self.me.upgrade(), call.clone());
        let (action, operator) = (command.action, command.operator.to_owned());
        let number = command.target_number.map(str::to_owned);
        let lost = move |reason: &str| AdapterError {
            action: action.verb(),
            reason: reason.into(),
        };
        Box::pin(async move {
            let me = me.ok_or_else(|| lost("the server is shutting down"))?;
            let (done_tx, done) = oneshot::channel();
            tokio::spawn(async move {
                let command = Command {
                    action,
                    operator: &operator,
                    target_number: number.as_deref(),
                };
                let done = me.carry(&call, command).await;
                if let Err(err) = &done {
                    tracing::warn!(call = call.id, %err, "Asterisk did not carry out the command");
                }
                if let Err(Ok(())) = done_tx.send(done) {
                    let _ = me.late.send((call.id, action));
                }
            });
            let done = done
                .await
                .unwrap_or_else(|_| Err(lost("the command was lost")));
            done.map(|()| Confirmed::Done)
        })
    }

    fn call_back<'a>(
        &'a self,
        missed: &'a MissedCall,
        operator: &'a str,
    ) -> BoxFuture<'a, Result<(), AdapterError>> {
        Box::pin(async move {
            let endpoint = self.operator_endpoint(operator, "call back")?;
            let number = dialable(&missed.caller_number).ok_or_else(|| AdapterError {
                action: "call back",
                reason: format!("{:?} is not a number to dial", missed.caller_number),
            })?;
            let caller_id = format!("Call back <{number}>");
            self.ari
                .dial_to_extension(endpoint, &self.config.context, &number, &caller_id)
                .await
                .map_err(refused("call back"))
        })
    }

    fn night_service(&self, closed: bool) -> BoxFuture<'_, Result<(), AdapterError>> {
        let value = if closed { "1" } else { "0" };
        Box::pin(async move {
            self.ari
                .set_global(NIGHT_VARIABLE, value)
                .await
                .map_err(refused(if closed { "close" } else { "open" }))
        })
    }
}

/// Connects to ARI and follows its events until shutdown, reconnecting with backoff; each
/// connection starts by rebuilding the adapter's state from Asterisk.
pub async fn run(state: AppState, pbx: Arc<Asterisk>) {
    let late = pbx
        .late_reports
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    if let Some(mut late) = late {
        let state = state.clone();
        tokio::spawn(async move {
            while let Some((call, action)) = late.recv().await {
                tracing::info!(
                    call,
                    action = action.verb(),
                    "Asterisk carried out a command late"
                );
                report(&state, call, action).await;
            }
        });
    }
    let mut backoff = Duration::from_secs(1);
    loop {
        match session(&state, &pbx).await {
            Ok(reason) => {
                tracing::warn!(%reason, "lost the link to Asterisk");
                backoff = Duration::from_secs(1);
            }
            Err(err) => tracing::warn!(%err, "cannot reach Asterisk"),
        }
        state.calls.set_available(false);
        for (_, waiter) in pbx.waiting().drain() {
            let _ = waiter.send(Err("the link to Asterisk was lost".into()));
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = state.shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection: rebuild, then events until the stream ends (the reason is returned).
async fn session(state: &AppState, pbx: &Asterisk) -> Result<String, AriError> {
    let mut events = Box::pin(pbx.ari.events().await?);
    rebuild(state, pbx).await?;
    state.calls.set_available(true);
    tracing::info!(
        url = pbx.config.url,
        app = pbx.config.app,
        "connected to Asterisk"
    );
    loop {
        let event = tokio::select! {
            event = events.next() => event,
            () = state.shutdown.cancelled() => return Ok("shutting down".into()),
        };
        match event {
            Some(Ok(event)) => handle(state, pbx, event).await,
            Some(Err(reason)) => return Ok(reason),
            None => return Ok("the event stream ended".into()),
        }
    }
}

/// Reads Asterisk's channels and bridges and makes the adapter's state and Switchboard's
/// calls agree with them; reads every extension's lamp.
async fn rebuild(state: &AppState, pbx: &Asterisk) -> Result<(), AriError> {
    // The dialplan's night variable does not survive an Asterisk restart.
    match state.calls.night_service().await {
        Ok(night) => {
            let value = if night.closed { "1" } else { "0" };
            pbx.ari.set_global(NIGHT_VARIABLE, value).await?;
        }
        Err(err) => tracing::warn!(%err, "cannot read night service for Asterisk"),
    }
    let holding = pbx.holding();
    pbx.ari.bridge(&holding, "holding").await?;
    if let Err(err) = pbx.ari.music_on_hold(&holding).await {
        tracing::warn!(%err, "no music on hold for waiting callers");
    }
    let channels: HashMap<String, Channel> = pbx
        .ari
        .channels()
        .await?
        .into_iter()
        .map(|channel| (channel.id.clone(), channel))
        .collect();
    let stored = state.calls.with_pbx_refs().await.map_err(|err| {
        AriError::Unreachable(format!("cannot read the open calls to match them: {err}"))
    })?;
    let bridges = pbx.ari.bridges().await?;
    *pbx.known() = Known::default();
    for (call, caller) in stored {
        if !channels.contains_key(&caller) {
            // Hung up while Switchboard was away.
            report(state, call.id, CallAction::Clear).await;
            continue;
        }
        let line = |role: &str| {
            channels
                .keys()
                .find(|id| leg_of(id) == Some((call.id, role)))
                .cloned()
        };
        let operator = line("op");
        let bridge = bridges
            .iter()
            .filter(|bridge| bridge_of(&bridge.id) == Some(call.id))
            .max_by_key(|bridge| {
                operator
                    .as_ref()
                    .is_some_and(|op| bridge.channels.contains(op))
            })
            .map(|bridge| bridge.id.clone());
        let lines = Lines {
            caller: caller.clone(),
            bridge,
            operator,
            consult_up: line("consult").is_some(),
            consult: line("consult"),
        };
        let lost_operator = call.state == CallState::Active && lines.operator.is_none();
        {
            let mut known = pbx.known();
            known.callers.insert(caller.clone(), call.id);
            known.calls.insert(call.id, lines);
        }
        if (lost_operator || matches!(call.state, CallState::Queued | CallState::Held))
            && let Err(err) = pbx.move_caller(call.id, &caller, &holding).await
        {
            tracing::warn!(call = call.id, %err, "cannot put the caller on hold again");
        }
        if lost_operator {
            report(state, call.id, CallAction::Hold).await;
        }
    }
    // Completed transfers first: their callers are still in the application but no
    // longer Switchboard's.
    for bridge in bridges {
        let Some(call) = bridge_of(&bridge.id) else {
            continue;
        };
        let open = pbx.known().calls.contains_key(&call);
        if !open {
            pbx.known()
                .transferred
                .insert(bridge.id.clone(), bridge.channels.clone());
            if bridge.channels.len() < 2 {
                end_transferred(pbx, &bridge.id).await;
            }
        }
    }
    for channel in channels.values() {
        let in_app = channel.dialplan.app_name == "Stasis"
            && channel.dialplan.app_data.split(',').next() == Some(pbx.config.app.as_str());
        let transferred = pbx
            .known()
            .transferred
            .values()
            .any(|lines| lines.contains(&channel.id));
        if in_app && !channel.id.starts_with("sb-") && !transferred {
            arrived(state, pbx, channel, &[]).await;
        }
    }
    read_lamps(state, pbx).await
}

/// Watches every extension's device and reads its state now.
async fn read_lamps(state: &AppState, pbx: &Asterisk) -> Result<(), AriError> {
    let extensions = state.directory.extensions();
    let devices: Vec<String> = extensions
        .iter()
        .map(|(_, extension)| pbx.device(extension))
        .collect();
    {
        let mut by_device = pbx.devices();
        by_device.clear();
        for ((entry, _), device) in extensions.iter().zip(&devices) {
            by_device.entry(device.clone()).or_default().push(*entry);
        }
    }
    pbx.ari.watch_devices(&devices).await?;
    let lookups: Vec<(EntryId, String)> = extensions
        .iter()
        .zip(devices)
        .map(|((entry, _), device)| (*entry, device))
        .collect();
    let ari = &pbx.ari;
    // A device Asterisk does not know (yet) reads as unavailable; it lights when it changes.
    let states: Vec<(EntryId, LineState)> = futures_util::stream::iter(lookups)
        .map(|(entry, device)| async move {
            let state = ari.device_state(&device).await;
            let lamp = state.map_or(LineState::Unavailable, |state| line_state(&state.state));
            (entry, lamp)
        })
        .buffer_unordered(16)
        .collect()
        .await;
    state
        .calls
        .lamps
        .replace(&state.hub, states.into_iter().collect());
    Ok(())
}

/// A call change Asterisk reported; refused moves (the call already moved) are logged.
async fn report(state: &AppState, call: CallId, action: CallAction) {
    if let Err(err) = state.calls.act(call, action, Source::Telephony).await {
        tracing::info!(call, action = action.verb(), %err, "Asterisk's report changed nothing");
    }
}

/// A caller entered the application: answered, put in the holding bridge, queued.
async fn arrived(state: &AppState, pbx: &Asterisk, channel: &Channel, args: &[String]) {
    let line = channel.id.as_str();
    // Seen already (its StasisStart came while the adapter rebuilt its state).
    if pbx.known().callers.contains_key(line) {
        return;
    }
    let placed = async {
        pbx.ari.answer(line).await?;
        pbx.ari.add(&pbx.holding(), line).await
    };
    if let Err(err) = placed.await {
        tracing::warn!(channel = line, %err, "cannot queue the caller");
        return;
    }
    let number = channel.caller.number.trim();
    let new = NewCall {
        caller_name: channel.caller.name.clone(),
        caller_number: if number.is_empty() {
            "anonymous"
        } else {
            number
        }
        .to_owned(),
        dialled: args
            .first()
            .cloned()
            .unwrap_or_else(|| channel.dialplan.exten.clone()),
        caller_user: None,
    };
    match state.calls.queue_pbx(new, Some(line)).await {
        Ok(call) => {
            let mut known = pbx.known();
            known.callers.insert(line.to_owned(), call.id);
            known.calls.insert(
                call.id,
                Lines {
                    caller: line.to_owned(),
                    ..Lines::default()
                },
            );
        }
        Err(err) => tracing::error!(channel = line, %err, "cannot queue the caller"),
    }
}

/// One side of a completed transfer hung up: the other is hung up and the bridge removed.
async fn end_transferred(pbx: &Asterisk, bridge: &str) {
    let lines = pbx.known().transferred.remove(bridge).unwrap_or_default();
    pbx.known().departing.extend(lines.iter().cloned());
    for line in lines {
        if let Err(err) = pbx.ari.hang_up(&line).await {
            tracing::warn!(channel = line, %err, "cannot hang up after a transfer");
        }
    }
    if let Err(err) = pbx.ari.destroy(bridge).await {
        tracing::warn!(bridge, %err, "cannot remove a transfer's bridge");
    }
}

/// A line left the application, or is gone (`destroyed`: its last event).
async fn ended(state: &AppState, pbx: &Asterisk, line: &str, destroyed: bool) {
    if pbx.answered(line, Err("hung up before answering".into())) {
        return;
    }
    {
        let mut known = pbx.known();
        if known.departing.contains(line) {
            if destroyed {
                known.departing.remove(line);
            }
            return;
        }
    }
    let transferred = pbx
        .known()
        .transferred
        .iter()
        .find(|(_, lines)| lines.iter().any(|other| other == line))
        .map(|(bridge, _)| bridge.clone());
    if let Some(bridge) = transferred {
        end_transferred(pbx, &bridge).await;
        return;
    }
    let caller_of = pbx.known().callers.get(line).copied();
    if let Some(call) = caller_of {
        // The caller hung up: the call leaves every list, and a telephone still ringing
        // for it stops (its command fails and hangs it up).
        let ringing: Vec<String> = pbx
            .waiting()
            .keys()
            .filter(|line| leg_of(line).is_some_and(|(of, _)| of == call))
            .cloned()
            .collect();
        for line in ringing {
            pbx.answered(&line, Err("the caller hung up".into()));
        }
        report(state, call, CallAction::Clear).await;
        if let Err(err) = pbx.drop_lines(call, false).await {
            tracing::warn!(call, %err, "cannot hang up the call's other lines");
        }
        pbx.forget(call);
        return;
    }
    match leg_of(line) {
        Some((call, "op")) => {
            // The operator hung up their telephone: the caller waits on hold.
            let caller = pbx.known().calls.get_mut(&call).and_then(|lines| {
                (lines.operator.as_deref() == Some(line)).then(|| {
                    lines.operator = None;
                    lines.caller.clone()
                })
            });
            if let Some(caller) = caller {
                if let Err(err) = pbx.move_caller(call, &caller, &pbx.holding()).await {
                    tracing::warn!(call, %err, "cannot put the caller on hold");
                }
                if state
                    .calls
                    .list()
                    .await
                    .iter()
                    .any(|c| c.id == call && c.state == CallState::Active)
                {
                    report(state, call, CallAction::Hold).await;
                }
            }
        }
        Some((call, "consult")) => {
            let answered = match pbx.known().calls.get_mut(&call) {
                Some(lines) if lines.consult.as_deref() == Some(line) => {
                    lines.consult = None;
                    Some(std::mem::take(&mut lines.consult_up))
                }
                _ => None,
            };
            match answered {
                Some(true) => tracing::info!(call, "the transfer target hung up"),
                // Rang out: the caller, on hold all along, comes back to the operators as a
                // held call (the operator's telephone hangs up, as on hold).
                Some(false) => {
                    tracing::info!(call, "the transfer target did not answer");
                    if let Err(err) = pbx.drop_lines(call, false).await {
                        tracing::warn!(call, %err, "cannot hang up the operator's line");
                    }
                    report(state, call, CallAction::Recall).await;
                }
                None => {}
            }
        }
        _ => {}
    }
}

async fn handle(state: &AppState, pbx: &Asterisk, event: Event) {
    tracing::debug!(?event, "ARI event");
    match event {
        Event::StasisStart { channel, args } => match leg_of(&channel.id) {
            Some((call, role)) => {
                let waited = pbx.answered(&channel.id, Ok(()));
                if role == "consult" {
                    let joined = match pbx.bridge(call) {
                        Some(bridge) => pbx.ari.add(&bridge, &channel.id).await,
                        None => Err(AriError::Refused {
                            what: "joining the transfer target".into(),
                            status: 404,
                            message: "the call has no bridge".into(),
                        }),
                    };
                    match joined {
                        Ok(()) => {
                            if let Some(lines) = pbx.known().calls.get_mut(&call) {
                                lines.consult_up = true;
                            }
                        }
                        Err(err) => tracing::warn!(call, %err, "cannot join the transfer target"),
                    }
                } else if !waited {
                    // Answered after its command gave up: nobody needs it.
                    pbx.known().departing.insert(channel.id.clone());
                    if let Err(err) = pbx.ari.hang_up(&channel.id).await {
                        tracing::warn!(call, %err, "cannot hang up a line nobody waits for");
                    }
                }
            }
            None => arrived(state, pbx, &channel, &args).await,
        },
        Event::StasisEnd { channel } => ended(state, pbx, &channel.id, false).await,
        Event::ChannelDestroyed { channel } => ended(state, pbx, &channel.id, true).await,
        Event::DeviceStateChanged { device_state } => {
            let lamp = line_state(&device_state.state);
            let entries = pbx.devices().get(&device_state.name).cloned();
            for entry in entries.into_iter().flatten() {
                state.calls.lamps.set(entry, lamp);
            }
        }
        Event::Other => {}
    }
}
