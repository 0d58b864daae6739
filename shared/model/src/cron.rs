//! Quartz cron expressions of `cron` triggers (Echo's scheduler: `PipelineConfigsPollingJob`), checked with the `croner`
//! crate (no home-made parser): 6 or 7 fields `sec min hour day-of-month month day-of-week
//! [year]`, `?` required in exactly one of the two day fields (as Quartz requires), Quartz
//! weekday numbers (1 = Sunday), `L`, `W`, `#`, ranges, lists and steps such as `0/5`.
//! Spinnaker's hashed `H` (seconds, minutes, hours) depends on the trigger id; validation
//! accepts it by checking the field as `0`.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// Field names in expression order (the problem names the field).
pub const FIELDS: [&str; 7] = [
    "seconds",
    "minutes",
    "hours",
    "day-of-month",
    "month",
    "day-of-week",
    "year",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronProblem(pub String);

/// A valid expression's human description (croner's English), or what is wrong with it.
pub fn validate(expression: &str) -> Result<String, CronProblem> {
    let fields: Vec<String> = expression.split_whitespace().map(str::to_string).collect();
    if !(6..=7).contains(&fields.len()) {
        return Err(CronProblem(format!(
            "Cron expression must have 6 or 7 fields (seconds minutes hours day-of-month \
             month day-of-week [year]), found {}",
            fields.len()
        )));
    }
    match (fields[3] == "?", fields[5] == "?") {
        (false, false) => {
            return Err(CronProblem(
                "Support for specifying both a day-of-week AND a day-of-month parameter is \
                 not implemented: one of them must be '?'"
                    .into(),
            ));
        }
        (true, true) => {
            return Err(CronProblem(
                "'?' can only be specified for day-of-month -OR- day-of-week".into(),
            ));
        }
        _ => {}
    }
    let fields: Vec<String> = fields
        .into_iter()
        .enumerate()
        .map(|(position, field)| match position {
            0..=2 if field.eq_ignore_ascii_case("H") => "0".to_string(),
            _ => field,
        })
        .collect();
    match parse(&fields.join(" ")) {
        Ok(cron) => Ok(cron.describe()),
        Err(whole) => Err(CronProblem(field_problem(&fields).unwrap_or(whole))),
    }
}

fn parse(expression: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Optional)
        .alternative_weekdays(true)
        .build()
        .parse(expression)
        .map_err(|err| format!("Invalid cron expression: {err}"))
}

/// Checks each field alone inside an otherwise valid expression, to name the bad one.
fn field_problem(fields: &[String]) -> Option<String> {
    fields.iter().enumerate().find_map(|(position, field)| {
        let mut probe = ["0", "0", "0", "?", "*", "*", "*"].map(str::to_string);
        probe[position] = field.clone();
        let other_day = match position {
            3 => Some(5),
            5 => Some(3),
            _ => None,
        };
        if let Some(other) = other_day {
            probe[other] = if field == "?" { "*" } else { "?" }.to_string();
        }
        parse(&probe.join(" "))
            .err()
            .map(|err| format!("{} field '{field}' is invalid ({err})", FIELDS[position]))
    })
}

/// Java's `String.hashCode` (over UTF-16 code units, wrapping), which Echo hashes `H` with.
pub fn java_string_hash(text: &str) -> i32 {
    text.encode_utf16().fold(0i32, |hash, unit| {
        hash.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// Echo's fuzzing: `H` in the seconds, minutes (0-59) or hours (0-23) field becomes
/// `abs(triggerId.hashCode() % (max + 1))`.
pub fn fuzz(expression: &str, trigger_id: &str) -> String {
    let hash = java_string_hash(trigger_id);
    expression
        .split_whitespace()
        .enumerate()
        .map(|(position, field)| match position {
            0..=2 if field.eq_ignore_ascii_case("H") => {
                let max = if position == 2 { 23 } else { 59 };
                (hash % (max + 1)).unsigned_abs().to_string()
            }
            _ => field.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The EventBridge Scheduler form (`cron(min hour dom month dow year)`) of a valid,
/// fuzzed Quartz expression. EventBridge has no seconds: the seconds field is dropped and
/// the schedule fires at second 0 of each matching minute (a list or range of seconds
/// fires once a minute, not once per listed second). Both use 1 = Sunday, `?`, `L`, `W`
/// and `#`; a missing year becomes `*`.
pub fn to_eventbridge(quartz: &str) -> Result<String, CronProblem> {
    validate(quartz)?;
    let mut fields: Vec<&str> = quartz.split_whitespace().skip(1).collect();
    if fields.len() == 5 {
        fields.push("*");
    }
    Ok(format!("cron({})", fields.join(" ")))
}

/// The next time after `after` (exclusive) at which an EventBridge Scheduler expression
/// `cron(min hour dom month dow year)` fires in `time_zone` — at second 0, as the Scheduler
/// fires (it has no seconds field). None for an expression that is not `cron(...)`, does not
/// parse, or never fires again.
pub fn next_eventbridge_fire(
    expression: &str,
    time_zone: chrono_tz::Tz,
    after: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let fields = expression.strip_prefix("cron(")?.strip_suffix(')')?;
    let cron = parse(&format!("0 {fields}")).ok()?;
    let next = cron
        .find_next_occurrence(&after.with_timezone(&time_zone), false)
        .ok()?;
    Some(next.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_matches_java_string_hash_code() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("Aa"), 2112);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        // Java: Math.abs(99162322 % 60) = 22, % 24 = 10; MIN_VALUE % 60 = -8 -> 8.
        assert_eq!(fuzz("H H H ? * MON", "hello"), "22 22 10 ? * MON");
        assert_eq!(fuzz("H 0 H * * ?", "polygenelubricants"), "8 0 8 * * ?");
    }

    #[test]
    fn eventbridge_form_drops_seconds_and_defaults_the_year() {
        assert_eq!(
            to_eventbridge("0 0 10 ? * MON-FRI").unwrap(),
            "cron(0 10 ? * MON-FRI *)"
        );
        assert_eq!(
            to_eventbridge("30 0/5 * * * ? 2030").unwrap(),
            "cron(0/5 * * * ? 2030)"
        );
        assert!(to_eventbridge("0 0 10 * * MON").is_err());
    }

    #[test]
    fn quartz_expressions_that_deck_writes_are_valid() {
        for expression in [
            "0 0 10 ? * MON-FRI",
            "0 0 0 1W 1/1 ? *",
            "0 0/5 * * * ?",
            "0 15 10 ? * 6L",
            "0 15 10 ? * 6#3",
            "0 0 12 L * ? 2030",
            "H H 3 ? * 2",
        ] {
            assert!(
                validate(expression).is_ok(),
                "{expression}: {:?}",
                validate(expression)
            );
        }
    }

    #[test]
    fn problems_name_the_field() {
        assert!(
            validate("0 0 * * *")
                .unwrap_err()
                .0
                .contains("6 or 7 fields")
        );
        assert!(validate("0 0 10 * * MON").unwrap_err().0.contains("'?'"));
        let bad_minute = validate("0 61 10 ? * MON").unwrap_err().0;
        assert!(bad_minute.starts_with("minutes field '61'"), "{bad_minute}");
        let bad_month = validate("0 0 10 ? 13 *").unwrap_err().0;
        assert!(bad_month.starts_with("month field '13'"), "{bad_month}");
    }

    #[test]
    fn eventbridge_schedules_fire_at_second_zero_in_their_time_zone() {
        use chrono::{TimeZone, Utc};
        let after = Utc.with_ymd_and_hms(2026, 11, 27, 9, 30, 12).unwrap();
        // Quartz "30 * * * * ?" becomes "cron(* * * * ? *)": the next minute, second 0.
        let every_minute = to_eventbridge("30 * * * * ?").unwrap();
        assert_eq!(
            next_eventbridge_fire(&every_minute, chrono_tz::UTC, after),
            Some(Utc.with_ymd_and_hms(2026, 11, 27, 9, 31, 0).unwrap())
        );
        // 10:00 in Los Angeles on a weekday is 18:00 UTC in winter.
        let ten_am = to_eventbridge("0 0 10 ? * MON-FRI").unwrap();
        assert_eq!(
            next_eventbridge_fire(&ten_am, chrono_tz::America::Los_Angeles, after),
            Some(Utc.with_ymd_and_hms(2026, 11, 27, 18, 0, 0).unwrap())
        );
        assert_eq!(
            next_eventbridge_fire("rate(1 minute)", chrono_tz::UTC, after),
            None
        );
    }
}
