//! Times and days of messages in the operator's local time zone (chrono).

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime};

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
    fn local_time_exists_for_ordinary_timestamps() {
        assert!(local(1_700_000_000_000).is_some());
        assert!(local(i64::MAX).is_none());
    }
}
