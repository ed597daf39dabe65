//! Times and days (of messages, calls, absences) in the operator's local time zone (chrono).

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone};

/// The local date and time of `ms` milliseconds since the epoch.
pub fn local(ms: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp_millis(ms).map(|utc| utc.with_timezone(&Local).naive_local())
}

/// Today's local date.
pub fn today() -> NaiveDate {
    Local::now().date_naive()
}

/// "14:05": the time beside a message.
pub fn clock(at: NaiveDateTime) -> String {
    at.format("%H:%M").to_string()
}

/// The day separator of the log: "Today", "Yesterday" or "Monday 3 March 2025".
pub fn day_label(day: NaiveDate, today: NaiveDate) -> String {
    if day == today {
        "Today".to_owned()
    } else if today.pred_opt() == Some(day) {
        "Yesterday".to_owned()
    } else {
        day.format("%A %-d %B %Y").to_string()
    }
}

/// The time in the chat list: the clock for today, else the date ("3 Mar").
pub fn list_time(at: NaiveDateTime, today: NaiveDate) -> String {
    if at.date() == today {
        clock(at)
    } else {
        at.format("%-d %b").to_string()
    }
}

/// "3 Dec 17:00": when an absence ends.
pub fn day_and_clock(ms: i64) -> String {
    local(ms)
        .map(|at| at.format("%-d %b %H:%M").to_string())
        .unwrap_or_default()
}

/// The value of a `datetime-local` input ("2026-12-03T17:00") as ms since the epoch.
pub fn from_input(value: &str) -> Option<i64> {
    let naive = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M").ok()?;
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|at| at.timestamp_millis())
}

/// `ms` as the value of a `datetime-local` input.
pub fn to_input(ms: i64) -> String {
    local(ms)
        .map(|at| at.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, d).unwrap()
    }

    #[test]
    fn days_are_named_relative_to_today() {
        assert_eq!(day_label(day(3), day(3)), "Today");
        assert_eq!(day_label(day(2), day(3)), "Yesterday");
        assert_eq!(day_label(day(1), day(3)), "Saturday 1 March 2025");
    }

    #[test]
    fn the_list_shows_the_clock_today_and_the_date_before() {
        let at = day(3).and_hms_opt(9, 5, 0).unwrap();
        assert_eq!(list_time(at, day(3)), "09:05");
        assert_eq!(list_time(at, day(4)), "3 Mar");
    }

    #[test]
    fn a_datetime_input_reads_back_what_it_shows() {
        let ms = 1_700_000_040_000;
        assert_eq!(from_input(&to_input(ms)), Some(ms));
        assert_eq!(from_input("3 Dec"), None);
    }

    #[test]
    fn local_time_exists_for_ordinary_timestamps() {
        assert!(local(1_700_000_000_000).is_some());
        assert!(local(i64::MAX).is_none());
    }
}
