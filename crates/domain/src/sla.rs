//! Service level agreements (SPEC C6): response and resolution targets counted in working
//! time on a working calendar (working days, daily hours, a time zone), and the due times a
//! ticket gets from them. All instants are UTC microseconds since the Unix epoch.

use crate::tickets::Priority;
use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

const MICROS_PER_MINUTE: i64 = 60_000_000;
/// A target longer than this many calendar days is refused as a typo (and bounds the loop).
const MAX_CALENDAR_DAYS: i64 = 3_700;

/// When work is done: days of the week, hours of the day, in one time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkingCalendar {
    pub time_zone: Tz,
    /// Monday first.
    pub days: [bool; 7],
    pub opens: NaiveTime,
    pub closes: NaiveTime,
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Parses working days like `mon-fri`, `mon,tue,thu` or `sun-thu` (case-insensitive).
pub fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let day = |s: &str| {
        let s = s.trim().to_ascii_lowercase();
        DAY_NAMES
            .iter()
            .position(|d| s.starts_with(d) && s.len() >= 3)
            .ok_or_else(|| format!("“{}” is not a day (use mon, tue, … sun)", s))
    };
    let mut days = [false; 7];
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day(from)?, day(to)?);
                let mut d = from;
                loop {
                    days[d] = true;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days[day(part)?] = true,
        }
    }
    if !days.contains(&true) {
        return Err("must name at least one working day, e.g. mon-fri".into());
    }
    Ok(days)
}

/// Parses daily working hours like `09:00-17:30`.
pub fn parse_hours(text: &str) -> Result<(NaiveTime, NaiveTime), String> {
    let bad = || "must be opening and closing times like 09:00-17:30".to_owned();
    let (opens, closes) = text.split_once('-').ok_or_else(bad)?;
    let time = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| bad());
    let (opens, closes) = (time(opens)?, time(closes)?);
    if opens >= closes {
        return Err("must close after it opens (working hours cannot cross midnight)".into());
    }
    Ok((opens, closes))
}

/// Parses an IANA time zone name like `Europe/London`.
pub fn parse_time_zone(text: &str) -> Result<Tz, String> {
    text.trim().parse::<Tz>().map_err(|_| {
        format!(
            "“{}” is not a time zone; use a name like Europe/London",
            text.trim()
        )
    })
}

impl WorkingCalendar {
    /// The calendar from its three settings.
    pub fn parse(days: &str, hours: &str, time_zone: &str) -> Result<Self, String> {
        let (opens, closes) = parse_hours(hours)?;
        Ok(WorkingCalendar {
            time_zone: parse_time_zone(time_zone)?,
            days: parse_days(days)?,
            opens,
            closes,
        })
    }

    /// The UTC instant of a local wall-clock time. A time skipped by a daylight-saving change
    /// moves to the first instant after the gap; a repeated one takes its first occurrence.
    fn instant(&self, local: NaiveDateTime) -> i64 {
        let mut probe = local;
        for _ in 0..4 {
            match self.time_zone.from_local_datetime(&probe) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                    return t.timestamp_micros();
                }
                LocalResult::None => probe += Duration::minutes(30),
            }
        }
        // No zone has a gap longer than two hours; fall back to reading it as UTC.
        local.and_utc().timestamp_micros()
    }

    /// The working window of a local date, as UTC instants, if it is a working day.
    fn window(&self, date: NaiveDate) -> Option<(i64, i64)> {
        if !self.days[date.weekday().num_days_from_monday() as usize] {
            return None;
        }
        Some((
            self.instant(date.and_time(self.opens)),
            self.instant(date.and_time(self.closes)),
        ))
    }

    /// The instant `minutes` of working time after `from` (UTC micros). Time outside the
    /// working windows does not count; a target of 0 is due at the next working moment.
    pub fn add_working_minutes(&self, from: i64, minutes: i64) -> i64 {
        let mut remaining = minutes.max(0) * MICROS_PER_MINUTE;
        let Some(start) = chrono::DateTime::from_timestamp_micros(from) else {
            return from;
        };
        let mut date = start.with_timezone(&self.time_zone).date_naive();
        for _ in 0..MAX_CALENDAR_DAYS {
            if let Some((opens, closes)) = self.window(date) {
                let begin = opens.max(from);
                if begin < closes {
                    let available = closes - begin;
                    if remaining <= available {
                        return begin + remaining;
                    }
                    remaining -= available;
                }
            }
            date = match date.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
        // Beyond any sensible target: due at the end of the search.
        from + MAX_CALENDAR_DAYS * 86_400_000_000
    }
}

/// Response and resolution targets of one priority, in working minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    pub response_minutes: i64,
    pub resolution_minutes: i64,
}

/// When a ticket must have its first response and be resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueTimes {
    pub response_due_at: i64,
    pub resolution_due_at: i64,
}

/// Due times for a ticket opened at `opened_at`. They are counted from the opening, also when
/// the priority changes later: the new priority's targets then apply from the start, as if
/// the ticket had had that priority all along.
pub fn due_times(opened_at: i64, targets: Targets, calendar: &WorkingCalendar) -> DueTimes {
    DueTimes {
        response_due_at: calendar.add_working_minutes(opened_at, targets.response_minutes),
        resolution_due_at: calendar.add_working_minutes(opened_at, targets.resolution_minutes),
    }
}

/// Did a ticket miss a target, as of `now`? The response target is missed by a response
/// after it (or none by then); the resolution target by closing after it (or still being open
/// then). Closing stops both clocks: a ticket closed in time is not breached later.
pub fn is_breached(
    due: DueTimes,
    responded_at: Option<i64>,
    closed_at: Option<i64>,
    now: i64,
) -> bool {
    let end = closed_at.unwrap_or(now);
    let response_late = responded_at.unwrap_or(end) > due.response_due_at;
    response_late || end > due.resolution_due_at
}

/// The settings keys of a priority's targets.
pub fn target_keys(priority: Priority) -> (String, String) {
    (
        format!("sla_{}_response_minutes", priority.code()),
        format!("sla_{}_resolution_minutes", priority.code()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        tz.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("valid local time")
            .timestamp_micros()
    }

    fn office(tz: &str) -> WorkingCalendar {
        WorkingCalendar::parse("mon-fri", "09:00-17:00", tz).expect("calendar")
    }

    #[test]
    fn working_time_skips_nights_and_weekends() {
        let cal = office("Europe/London");
        let london = cal.time_zone;
        // Friday 2026-01-09 16:00 + 2 working hours = Monday 10:00.
        let friday = at(london, 2026, 1, 9, 16, 0);
        assert_eq!(
            cal.add_working_minutes(friday, 120),
            at(london, 2026, 1, 12, 10, 0)
        );
        // Saturday 12:00 + 30 minutes = Monday 09:30.
        let saturday = at(london, 2026, 1, 10, 12, 0);
        assert_eq!(
            cal.add_working_minutes(saturday, 30),
            at(london, 2026, 1, 12, 9, 30)
        );
        // Before opening counts from opening; a whole working day later is the next day.
        let early = at(london, 2026, 1, 7, 7, 0);
        assert_eq!(
            cal.add_working_minutes(early, 8 * 60),
            at(london, 2026, 1, 7, 17, 0)
        );
        assert_eq!(
            cal.add_working_minutes(early, 8 * 60 + 1),
            at(london, 2026, 1, 8, 9, 1)
        );
        // Zero minutes: the next working moment.
        assert_eq!(
            cal.add_working_minutes(saturday, 0),
            at(london, 2026, 1, 12, 9, 0)
        );
    }

    #[test]
    fn working_hours_follow_the_local_clock_across_daylight_saving_changes() {
        let cal = office("Europe/London");
        let london = cal.time_zone;
        // Clocks go forward on Sunday 2026-03-29: Friday 16:00 + 2 h is Monday 10:00 local,
        // which is 09:00 UTC (BST), not 10:00 UTC.
        let friday = at(london, 2026, 3, 27, 16, 0);
        let due = cal.add_working_minutes(friday, 120);
        assert_eq!(due, at(london, 2026, 3, 30, 10, 0));
        assert_eq!(
            chrono::DateTime::from_timestamp_micros(due)
                .expect("time")
                .format("%H:%M")
                .to_string(),
            "09:00"
        );
        // The same hours in New York are five (winter) or four (summer) hours later in UTC.
        let ny = office("America/New_York");
        let monday_utc = at(chrono_tz::UTC, 2026, 1, 12, 14, 0);
        assert_eq!(
            ny.add_working_minutes(monday_utc, 60),
            at(ny.time_zone, 2026, 1, 12, 10, 0)
        );
    }

    #[test]
    fn a_priority_change_midway_counts_from_the_opening() {
        let cal = office("Europe/London");
        let london = cal.time_zone;
        let opened = at(london, 2026, 1, 12, 10, 0);
        let low = due_times(
            opened,
            Targets {
                response_minutes: 8 * 60,
                resolution_minutes: 3 * 8 * 60,
            },
            &cal,
        );
        assert_eq!(low.resolution_due_at, at(london, 2026, 1, 15, 10, 0));
        // Raised to urgent at 13:00: four working hours from the opening, so due at 14:00.
        let urgent = due_times(
            opened,
            Targets {
                response_minutes: 30,
                resolution_minutes: 4 * 60,
            },
            &cal,
        );
        assert_eq!(urgent.response_due_at, at(london, 2026, 1, 12, 10, 30));
        assert_eq!(urgent.resolution_due_at, at(london, 2026, 1, 12, 14, 0));
        let at_13 = at(london, 2026, 1, 12, 13, 0);
        assert!(
            is_breached(urgent, None, None, at_13),
            "no response by 10:30"
        );
        let in_time = Some(opened + 60_000_000);
        assert!(!is_breached(urgent, in_time, None, at_13));
        assert!(is_breached(
            urgent,
            in_time,
            None,
            at(london, 2026, 1, 12, 14, 1)
        ));
        // Closed in time: not breached later. Closed late, or answered late: breached.
        let tomorrow = at(london, 2026, 1, 13, 9, 0);
        assert!(!is_breached(urgent, in_time, in_time, tomorrow));
        let late = Some(at(london, 2026, 1, 12, 14, 30));
        assert!(is_breached(urgent, in_time, late, tomorrow));
        assert!(is_breached(urgent, late, late, tomorrow));
    }

    #[test]
    fn calendars_are_parsed_with_clear_errors() {
        assert_eq!(
            parse_days("Mon-Fri").expect("days"),
            [true, true, true, true, true, false, false]
        );
        assert_eq!(
            parse_days("sun-tue, thu").expect("days"),
            [true, true, false, true, false, false, true]
        );
        assert!(parse_days("").is_err());
        assert!(parse_days("funday").is_err());
        assert!(parse_hours("17:00-09:00").is_err());
        assert!(parse_hours("9-5").is_err());
        assert!(parse_time_zone("Mars/Olympus").is_err());
        assert!(WorkingCalendar::parse("mon-fri", "08:30-18:00", "Asia/Tokyo").is_ok());
    }
}
