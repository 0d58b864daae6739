//! How times, durations and statuses read on the pages.

use gennaker_model::ExecutionStatus;

/// `2026-12-04 16:20:01 UTC` from epoch milliseconds.
pub fn time(millis: Option<i64>) -> String {
    millis
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "–".to_string())
}

/// `1h 02m`, `3m 05s`, `42s`, `0.3s` between two instants (`until` defaults to `now`).
pub fn duration(from: Option<i64>, until: Option<i64>, now: i64) -> String {
    let Some(from) = from else {
        return "–".to_string();
    };
    let millis = (until.unwrap_or(now) - from).max(0);
    let seconds = millis / 1000;
    match seconds {
        0 => format!("{:.1}s", millis as f64 / 1000.0),
        1..=59 => format!("{seconds}s"),
        60..=3599 => format!("{}m {:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h {:02}m", seconds / 3600, (seconds % 3600) / 60),
    }
}

/// The CSS class of a status: Deck's colour families (green succeeded, blue running, red
/// terminal, grey not started or canceled, amber paused or suspended).
pub fn status_class(status: ExecutionStatus) -> &'static str {
    use ExecutionStatus::*;
    match status {
        Succeeded => "st-succeeded",
        Running => "st-running",
        Terminal => "st-terminal",
        FailedContinue => "st-failed-continue",
        Canceled | Stopped => "st-canceled",
        Paused | Suspended | Buffered => "st-paused",
        Skipped => "st-skipped",
        NotStarted | Redirect => "st-not-started",
    }
}

/// The status as Deck labels it (`SUCCEEDED`, `RUNNING`, ...).
pub fn status_label(status: ExecutionStatus) -> &'static str {
    status.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_decks() {
        assert_eq!(duration(Some(0), Some(300), 0), "0.3s");
        assert_eq!(duration(Some(0), Some(42_000), 0), "42s");
        assert_eq!(duration(Some(0), Some(185_000), 0), "3m 05s");
        assert_eq!(duration(Some(0), Some(3_720_000), 0), "1h 02m");
        assert_eq!(duration(Some(1_000), None, 3_000), "2s");
        assert_eq!(duration(None, None, 3_000), "–");
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(time(Some(0)), "1970-01-01 00:00:00 UTC");
        assert_eq!(time(None), "–");
    }
}
