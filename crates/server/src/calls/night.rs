//! Night service: whether the switchboard is closed. Operators switch it, or it follows the
//! opening hours of the configuration; the telephone system is told first (it routes calls
//! elsewhere while closed), then the state is stored (one row, shared by every node) and
//! sent to every operator's console.
//!
//! An operator's switch holds until the opening hours next open or close: whichever of the
//! two happened last wins, also across a restart.

use std::time::Duration;

use chrono::{DateTime, Datelike, Days, Local, NaiveTime, TimeZone, Weekday};
use serde::Deserialize;
use sqlx::Row;
use switchboard_protocol::{NightService, ServerFrame};

use super::{CallError, Calls};
use crate::{clock::now_ms, state::AppState};

/// Who switches by the clock, in the consoles' "Closed by …".
pub const BY_OPENING_HOURS: &str = "opening hours";

/// How often the opening hours are checked.
const CHECK_EVERY: Duration = Duration::from_secs(15);

/// `[opening_hours]` of the configuration, in the server's local time: open on `days` from
/// `open` until `close`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    /// "mon", "tue", … (or the whole names).
    pub days: Vec<Weekday>,
    /// "08:00".
    pub open: NaiveTime,
    /// "18:00", after `open`.
    pub close: NaiveTime,
}

impl OpeningHours {
    /// Refuses hours that never open.
    pub fn check(&self) -> Result<(), String> {
        if self.days.is_empty() {
            return Err("opening_hours.days names no day; list e.g. [\"mon\", \"fri\"]".into());
        }
        if self.open >= self.close {
            return Err(format!(
                "opening_hours.open ({}) must be before opening_hours.close ({})",
                self.open, self.close
            ));
        }
        Ok(())
    }

    /// Whether the switchboard is open at `at` by the hours.
    pub fn is_open<Tz: TimeZone>(&self, at: &DateTime<Tz>) -> bool {
        let time = at.time();
        self.days.contains(&at.weekday()) && self.open <= time && time < self.close
    }

    /// When the hours last opened or closed, at or before `now` (within the last week).
    pub fn last_switch<Tz: TimeZone>(&self, now: &DateTime<Tz>) -> Option<DateTime<Tz>> {
        let timezone = now.timezone();
        (0..=7)
            .filter_map(|back| now.date_naive().checked_sub_days(Days::new(back)))
            .filter(|date| self.days.contains(&date.weekday()))
            .flat_map(|date| [date.and_time(self.open), date.and_time(self.close)])
            .filter_map(|naive| timezone.from_local_datetime(&naive).earliest())
            .filter(|at| at <= now)
            .max()
    }
}

fn from_row(row: &sqlx::any::AnyRow) -> NightService {
    NightService {
        closed: row.get::<i64, _>("closed") != 0,
        by: row.get("by_name"),
        since_ms: row.get("since_ms"),
    }
}

impl Calls {
    /// Night service as stored (open, by nobody, when never switched).
    pub async fn night_service(&self) -> Result<NightService, sqlx::Error> {
        let row = sqlx::query("SELECT closed, by_name, since_ms FROM night_service WHERE id = 1")
            .fetch_optional(&self.db)
            .await?;
        Ok(row.as_ref().map(from_row).unwrap_or(NightService {
            closed: false,
            by: String::new(),
            since_ms: 0,
        }))
    }

    /// The `night_service` frame for an operator's console that just joined.
    pub async fn night_frame(&self) -> Result<ServerFrame, sqlx::Error> {
        Ok(ServerFrame::NightService(self.night_service().await?))
    }

    /// Closes or opens the switchboard for `by` (an operator's display name): the telephone
    /// system first, within the confirmation time; then stored and sent to every operator.
    pub async fn set_night_service(&self, closed: bool, by: &str) -> Result<(), CallError> {
        self.switch(closed, by, None).await.map(drop)
    }

    /// Switches as [`Calls::set_night_service`]; with `unless_since`, only if nobody switched
    /// at or after that time (the hours do not undo a later operator's switch). Whether it
    /// switched. One switch at a time on this node; another node switching meanwhile wins,
    /// and the telephone system is told the state stored then, so the two never disagree.
    async fn switch(
        &self,
        closed: bool,
        by: &str,
        unless_since: Option<i64>,
    ) -> Result<bool, CallError> {
        let _one_at_a_time = self.night_switch.lock().await;
        let unless_since = unless_since.unwrap_or(i64::MAX);
        if unless_since != i64::MAX && self.night_service().await?.since_ms >= unless_since {
            return Ok(false);
        }
        self.tell_telephony(closed).await?;
        let now = NightService {
            closed,
            by: by.to_owned(),
            since_ms: now_ms(),
        };
        let mut tx = crate::storage::begin_write(&self.db).await?;
        let stored = sqlx::query(
            "INSERT INTO night_service (id, closed, by_name, since_ms) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET closed = excluded.closed, \
             by_name = excluded.by_name, since_ms = excluded.since_ms \
             WHERE night_service.since_ms < $4",
        )
        .bind(i64::from(closed))
        .bind(&now.by)
        .bind(now.since_ms)
        .bind(unless_since)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if stored.rows_affected() == 0 {
            let stored = self.night_service().await?;
            self.tell_telephony(stored.closed).await?;
            return Ok(false);
        }
        tracing::info!(closed, by, "night service");
        self.hub
            .broadcast_operators(ServerFrame::NightService(now).encode().into());
        Ok(true)
    }

    /// Tells the telephone system whether the switchboard is closed, within the confirmation
    /// time.
    pub async fn tell_telephony(&self, closed: bool) -> Result<(), CallError> {
        self.confirm(
            self.adapter.night_service(closed),
            "change night service",
            "night service did not change",
        )
        .await
    }
}

/// Follows the opening hours until the server shuts down: at each opening and closing (and
/// at start, for one missed while the server was down) the switchboard opens or closes,
/// unless an operator switched it since.
pub async fn follow(state: AppState, hours: OpeningHours) {
    loop {
        if let Err(err) = follow_once(&state, &hours).await {
            tracing::warn!(%err, "night service does not follow the opening hours now");
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => break,
            _ = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}

async fn follow_once(state: &AppState, hours: &OpeningHours) -> Result<(), CallError> {
    let now = Local::now();
    let Some(switch) = hours.last_switch(&now) else {
        return Ok(());
    };
    let stored = state.calls.night_service().await?;
    let closed = !hours.is_open(&now);
    let switch_ms = switch.timestamp_millis();
    if stored.closed != closed && stored.since_ms < switch_ms {
        state
            .calls
            .switch(closed, BY_OPENING_HOURS, Some(switch_ms))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn hours() -> OpeningHours {
        OpeningHours {
            days: vec![Weekday::Mon, Weekday::Tue],
            open: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            close: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn open_on_the_days_between_the_times() {
        // 2026-11-30 is a Monday.
        assert!(hours().is_open(&at("2026-11-30T08:00:00Z")));
        assert!(hours().is_open(&at("2026-12-01T17:59:59Z")));
        assert!(!hours().is_open(&at("2026-11-30T18:00:00Z")));
        assert!(!hours().is_open(&at("2026-11-30T07:59:00Z")));
        assert!(!hours().is_open(&at("2026-12-02T12:00:00Z")), "Wednesday");
    }

    #[test]
    fn the_last_switch_is_the_latest_opening_or_closing_so_far() {
        assert_eq!(
            hours().last_switch(&at("2026-11-30T12:00:00Z")),
            Some(at("2026-11-30T08:00:00Z"))
        );
        assert_eq!(
            hours().last_switch(&at("2026-11-30T18:00:00Z")),
            Some(at("2026-11-30T18:00:00Z"))
        );
        // Over the weekend: Tuesday's closing.
        assert_eq!(
            hours().last_switch(&at("2026-12-06T09:00:00Z")),
            Some(at("2026-12-01T18:00:00Z"))
        );
    }

    #[test]
    fn hours_that_never_open_are_refused() {
        let closed_all_week = OpeningHours {
            days: vec![],
            ..hours()
        };
        assert!(closed_all_week.check().unwrap_err().contains("no day"));
        let backwards = OpeningHours {
            open: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            ..hours()
        };
        assert!(backwards.check().unwrap_err().contains("before"));
        let parsed: OpeningHours =
            toml::from_str("days = [\"mon\", \"Tuesday\"]\nopen = \"08:00\"\nclose = \"18:00\"\n")
                .unwrap();
        assert_eq!(parsed, hours());
    }
}
