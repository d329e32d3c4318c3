//! Overnight processing: which dates are due, and catching up missed nights.
//!
//! Dates are plain civil dates (no time zone); the server converts "now" into the configured
//! zone before asking.

/// A civil date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// Parses `YYYY-MM-DD`, refusing dates that do not exist.
    pub fn parse(text: &str) -> Option<Date> {
        let mut parts = text.trim().splitn(3, '-');
        let year: i32 = parts.next()?.parse().ok()?;
        let month: u32 = parts.next()?.parse().ok()?;
        let day: u32 = parts.next()?.parse().ok()?;
        let valid = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day);
        valid.then_some(Date { year, month, day })
    }

    /// Days since 1970-01-01 (negative before).
    pub fn to_days(self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    pub fn add_days(self, days: i64) -> Date {
        Date::from_days(self.to_days() + days)
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// The latest date whose run is due: today once the local run time has passed, else
/// yesterday. `minutes_now` and `run_at_minutes` are minutes after local midnight.
pub fn due_date(today: Date, minutes_now: u32, run_at_minutes: u32) -> Date {
    if minutes_now >= run_at_minutes {
        today
    } else {
        today.add_days(-1)
    }
}

/// The dates to run now, oldest first: every date after the last one done up to the due
/// date, at most `max_catch_up` (the most recent ones). A database that never ran starts
/// with the due date alone rather than the whole past.
pub fn dates_to_run(last_done: Option<Date>, due: Date, max_catch_up: u32) -> Vec<Date> {
    let first = match last_done {
        None => due,
        Some(last) if last >= due => return Vec::new(),
        Some(last) => last.add_days(1),
    };
    let earliest_kept = due.add_days(-(i64::from(max_catch_up.max(1)) - 1));
    let start = first.max(earliest_kept);
    (start.to_days()..=due.to_days())
        .map(Date::from_days)
        .collect()
}

/// Parses a run time `HH:MM` into minutes after midnight.
pub fn parse_run_time(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Date {
        Date::parse(text).expect("valid date")
    }

    #[test]
    fn parses_and_shows_dates() {
        assert_eq!(d("2026-02-28").to_string(), "2026-02-28");
        assert!(Date::parse("2026-02-29").is_none());
        assert!(Date::parse("2024-02-29").is_some());
        assert!(Date::parse("2026-13-01").is_none());
        assert!(Date::parse("yesterday").is_none());
    }

    #[test]
    fn day_arithmetic_crosses_months_and_years() {
        assert_eq!(d("1970-01-01").to_days(), 0);
        assert_eq!(d("2026-12-31").add_days(1), d("2027-01-01"));
        assert_eq!(d("2024-03-01").add_days(-1), d("2024-02-29"));
        for days in [-800_000, -1, 0, 59, 20_000, 2_000_000] {
            assert_eq!(Date::from_days(days).to_days(), days);
        }
    }

    #[test]
    fn due_date_waits_for_the_run_time() {
        let today = d("2026-12-04");
        assert_eq!(due_date(today, 60, 120), d("2026-12-03"));
        assert_eq!(due_date(today, 120, 120), today);
    }

    #[test]
    fn catches_up_missed_nights_bounded() {
        let due = d("2026-12-04");
        assert_eq!(dates_to_run(Some(due), due, 7), Vec::<Date>::new());
        assert_eq!(dates_to_run(None, due, 7), vec![due]);
        assert_eq!(
            dates_to_run(Some(d("2026-12-01")), due, 7),
            vec![d("2026-12-02"), d("2026-12-03"), due]
        );
        let long = dates_to_run(Some(d("2026-10-01")), due, 3);
        assert_eq!(long, vec![d("2026-12-02"), d("2026-12-03"), due]);
    }

    #[test]
    fn run_times_parse() {
        assert_eq!(parse_run_time("02:00"), Some(120));
        assert_eq!(parse_run_time("23:59"), Some(1439));
        assert_eq!(parse_run_time("24:00"), None);
        assert_eq!(parse_run_time("2"), None);
    }
}
