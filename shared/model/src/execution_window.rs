//! Execution windows (`restrictExecutionDuringTimeWindow`, Orca's
//! `RestrictExecutionDuringTimeWindow`): a stage
//! may only start inside its allowed days and hours, in a configured time zone (Orca's
//! default America/Los_Angeles), optionally after a random jitter.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value};

use crate::json::{bool_field, whole_number};

/// Orca's `tasks.execution-window.timezone` default.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::America::Los_Angeles;

/// The allowed days (1 = Sunday … 7 = Saturday, Java's Calendar numbering; empty = every day)
/// and time ranges (minutes after midnight; empty = the whole day).
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionWindow {
    days: Vec<u32>,
    ranges: Vec<(u32, u32)>,
    jitter: Option<Jitter>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Jitter {
    min_seconds: u64,
    max_seconds: u64,
    skip_manual: bool,
}

impl ExecutionWindow {
    /// The stage's window, if it restricts its execution at all.
    pub fn of_stage(context: &Map<String, Value>) -> Option<Self> {
        if bool_field(context, "restrictExecutionDuringTimeWindow") != Some(true) {
            return None;
        }
        let window = context.get("restrictedExecutionWindow")?;
        let days = window
            .get("days")
            .and_then(Value::as_array)
            .map(|days| {
                days.iter()
                    .filter_map(whole_number)
                    .map(|d| d as u32)
                    .filter(|d| (1..=7).contains(d))
                    .collect()
            })
            .unwrap_or_default();
        let ranges = window
            .get("whitelist")
            .and_then(Value::as_array)
            .map(|ranges| ranges.iter().filter_map(range).collect())
            .unwrap_or_default();
        let jitter = window
            .get("jitter")
            .filter(|j| j.get("enabled").and_then(Value::as_bool) == Some(true))
            .map(|j| {
                let seconds = |key: &str| j.get(key).and_then(whole_number).unwrap_or(0);
                Jitter {
                    min_seconds: seconds("minDelay"),
                    max_seconds: seconds("maxDelay").max(seconds("minDelay")),
                    skip_manual: j
                        .get("skipManual")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                }
            });
        Some(Self {
            days,
            ranges,
            jitter,
        })
    }

    /// When the stage may start, in epoch millis: `now` if inside the window, else the next
    /// opening (plus jitter). `random` in [0, 1) picks the jitter; callers derive it from the
    /// stage so a redelivery computes the same time.
    pub fn next_start(&self, now: i64, zone: Tz, manual_trigger: bool, random: f64) -> i64 {
        let start = self.next_opening(now, zone);
        match self.jitter {
            Some(jitter) if !(jitter.skip_manual && manual_trigger) => {
                let span = (jitter.max_seconds - jitter.min_seconds) as f64;
                start
                    + ((jitter.min_seconds as f64 + span * random.clamp(0.0, 1.0)) * 1000.0) as i64
            }
            _ => start,
        }
    }

    fn next_opening(&self, now: i64, zone: Tz) -> i64 {
        let Some(now_utc) = DateTime::<Utc>::from_timestamp_millis(now) else {
            return now;
        };
        let local_now = now_utc.with_timezone(&zone);
        let ranges = if self.ranges.is_empty() {
            vec![(0, 24 * 60)]
        } else {
            self.ranges.clone()
        };
        let mut earliest: Option<i64> = None;
        for day_offset in -1..=8 {
            let date = local_now.date_naive() + Duration::days(day_offset);
            if !self.days.is_empty()
                && !self
                    .days
                    .contains(&(date.weekday().num_days_from_sunday() + 1))
            {
                continue;
            }
            for (start_minute, end_minute) in &ranges {
                let Some(start) = local_millis(zone, date, *start_minute) else {
                    continue;
                };
                let end_day_offset = if end_minute <= start_minute { 1 } else { 0 };
                let end_date = date + Duration::days(end_day_offset);
                let Some(end) = local_millis(zone, end_date, *end_minute) else {
                    continue;
                };
                if start <= now && now < end {
                    return now;
                }
                if start > now {
                    earliest = Some(earliest.map_or(start, |e| e.min(start)));
                }
            }
        }
        earliest.unwrap_or(now)
    }
}

/// Epoch millis as the ISO-8601 UTC timestamp a Step Functions Wait state takes.
pub fn iso8601(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `{startHour, startMin, endHour, endMin}` as minutes after midnight.
fn range(entry: &Value) -> Option<(u32, u32)> {
    let field = |key: &str| entry.get(key).and_then(whole_number).map(|v| v as u32);
    let start = field("startHour")? * 60 + field("startMin").unwrap_or(0);
    let end = field("endHour")? * 60 + field("endMin").unwrap_or(0);
    Some((start.min(24 * 60), end.min(24 * 60)))
}

fn local_millis(zone: Tz, date: chrono::NaiveDate, minute: u32) -> Option<i64> {
    let time = if minute >= 24 * 60 {
        return local_millis(zone, date + Duration::days(1), 0);
    } else {
        NaiveTime::from_hms_opt(minute / 60, minute % 60, 0)?
    };
    zone.from_local_datetime(&date.and_time(time))
        .earliest()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn window(value: Value) -> ExecutionWindow {
        let context =
            json!({"restrictExecutionDuringTimeWindow": true, "restrictedExecutionWindow": value});
        ExecutionWindow::of_stage(context.as_object().unwrap()).unwrap()
    }

    /// Epoch millis of a wall-clock time in Los Angeles.
    fn la(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> i64 {
        DEFAULT_TIME_ZONE
            .with_ymd_and_hms(year, month, day, hour, minute, 0)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn hours_days_and_jitter_may_be_strings_as_jackson_reads_them() {
        let as_numbers = window(
            json!({"whitelist": [{"startHour": 9, "startMin": 30, "endHour": 17, "endMin": 0}],
            "days": [2, 3], "jitter": {"enabled": true, "minDelay": 5, "maxDelay": 10}}),
        );
        let as_strings = window(
            json!({"whitelist": [{"startHour": "9", "startMin": "30", "endHour": "17", "endMin": "0"}],
            "days": ["2", "3"], "jitter": {"enabled": true, "minDelay": "5", "maxDelay": "10"}}),
        );
        assert_eq!(as_strings, as_numbers);
    }

    #[test]
    fn no_flag_means_no_window() {
        let context = json!({"restrictedExecutionWindow": {"whitelist": []}});
        assert!(ExecutionWindow::of_stage(context.as_object().unwrap()).is_none());
    }

    #[test]
    fn inside_the_window_starts_now_outside_waits_for_the_next_opening() {
        let business_hours = window(
            json!({"whitelist": [{"startHour": 9, "startMin": 0, "endHour": 17, "endMin": 0}]}),
        );
        // Friday 2026-11-27 10:30 in Los Angeles is inside.
        let inside = la(2026, 11, 27, 10, 30);
        assert_eq!(
            business_hours.next_start(inside, DEFAULT_TIME_ZONE, false, 0.0),
            inside
        );
        // 18:00 waits for 09:00 the next day.
        assert_eq!(
            business_hours.next_start(la(2026, 11, 27, 18, 0), DEFAULT_TIME_ZONE, false, 0.0),
            la(2026, 11, 28, 9, 0)
        );
    }

    #[test]
    fn days_use_java_numbering_and_ranges_may_cross_midnight() {
        // Only Mondays (2), 22:00-02:00.
        let monday_nights = window(
            json!({"days": [2], "whitelist": [{"startHour": 22, "startMin": 0, "endHour": 2, "endMin": 0}]}),
        );
        // Friday 2026-11-27 12:00 waits for Monday 2026-11-30 22:00.
        assert_eq!(
            monday_nights.next_start(la(2026, 11, 27, 12, 0), DEFAULT_TIME_ZONE, false, 0.0),
            la(2026, 11, 30, 22, 0)
        );
        // Tuesday 01:00 is still inside Monday's range.
        let tuesday_early = la(2026, 12, 1, 1, 0);
        assert_eq!(
            monday_nights.next_start(tuesday_early, DEFAULT_TIME_ZONE, false, 0.0),
            tuesday_early
        );
    }

    #[test]
    fn days_without_hours_allow_the_whole_day_and_jitter_delays_unless_manual() {
        let saturdays = window(json!({"days": [7], "whitelist": [],
            "jitter": {"enabled": true, "minDelay": 10, "maxDelay": 20, "skipManual": true}}));
        let friday = la(2026, 11, 27, 12, 0);
        let saturday_midnight = la(2026, 11, 28, 0, 0);
        assert_eq!(
            saturdays.next_start(friday, DEFAULT_TIME_ZONE, false, 0.5),
            saturday_midnight + 15_000
        );
        assert_eq!(
            saturdays.next_start(friday, DEFAULT_TIME_ZONE, true, 0.5),
            saturday_midnight,
            "skipManual"
        );
    }

    #[test]
    fn the_time_zone_is_honoured() {
        let nine_to_five = window(
            json!({"whitelist": [{"startHour": 9, "startMin": 0, "endHour": 17, "endMin": 0}]}),
        );
        let utc_noon = Utc
            .with_ymd_and_hms(2026, 11, 27, 12, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            nine_to_five.next_start(utc_noon, chrono_tz::UTC, false, 0.0),
            utc_noon
        );
        // 12:00 UTC is 04:00 in Los Angeles: wait until 09:00 there.
        assert_eq!(
            nine_to_five.next_start(utc_noon, DEFAULT_TIME_ZONE, false, 0.0),
            la(2026, 11, 27, 9, 0)
        );
    }
}
