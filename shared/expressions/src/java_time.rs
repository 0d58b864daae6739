//! Java's date and time values as expressions see them (`Date`, `Instant`, `LocalDate`,
//! `LocalDateTime`, `SimpleDateFormat`), all in UTC, the zone Orca servers run in: their
//! methods, their `toString`, the proleptic Gregorian calendar arithmetic under them and
//! `SimpleDateFormat`'s patterns.

use crate::error::{ErrorKind, ExpressionError, Result};
use crate::javatypes::arg_i64;
use crate::value::Val;

pub(crate) const DAYS_OF_WEEK: [&str; 7] = [
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
];

/// Methods of the date/time values.
pub fn call_temporal_method<'a>(
    target: &Val<'a>,
    name: &str,
    args: &[Val<'a>],
) -> Option<Result<Val<'a>>> {
    let what = format!("{}.{name}", target.type_name());
    let result = match (target, name, args.len()) {
        (Val::Date(ms), "getTime", 0) => Ok(Val::Long(*ms)),
        (Val::Date(ms), "toInstant", 0) => Ok(Val::Instant(*ms)),
        (Val::Date(ms) | Val::Instant(ms), "before" | "isBefore", 1) => {
            temporal_millis(&args[0]).map(|other| Val::Bool(*ms < other))
        }
        (Val::Date(ms) | Val::Instant(ms), "after" | "isAfter", 1) => {
            temporal_millis(&args[0]).map(|other| Val::Bool(*ms > other))
        }
        (Val::Instant(ms), "toEpochMilli", 0) => Ok(Val::Long(*ms)),
        (Val::Instant(ms), "getEpochSecond", 0) => Ok(Val::Long(ms.div_euclid(1000))),
        (Val::Instant(ms), "plusSeconds" | "minusSeconds" | "plusMillis" | "minusMillis", 1) => {
            arg_i64(args, 0, &what).map(|n| {
                let delta = if name.ends_with("Seconds") {
                    n.saturating_mul(1000)
                } else {
                    n
                };
                Val::Instant(if name.starts_with("plus") {
                    ms.saturating_add(delta)
                } else {
                    ms.saturating_sub(delta)
                })
            })
        }
        (Val::LocalDate(days), "plusDays" | "minusDays" | "plusWeeks" | "minusWeeks", 1) => {
            arg_i64(args, 0, &what).map(|n| {
                let delta = if name.ends_with("Weeks") {
                    n.saturating_mul(7)
                } else {
                    n
                };
                let moved = if name.starts_with("plus") {
                    days.saturating_add(delta)
                } else {
                    days.saturating_sub(delta)
                };
                Val::LocalDate(moved.clamp(-MAX_EPOCH_DAYS, MAX_EPOCH_DAYS))
            })
        }
        (Val::LocalDate(days), "getYear", 0) => Ok(Val::Int(civil_from_days(*days).0 as i32)),
        (Val::LocalDate(days), "getMonthValue", 0) => Ok(Val::Int(civil_from_days(*days).1 as i32)),
        (Val::LocalDate(days), "getDayOfMonth", 0) => Ok(Val::Int(civil_from_days(*days).2 as i32)),
        (Val::LocalDate(days), "getDayOfWeek", 0) => {
            Ok(Val::str(DAYS_OF_WEEK[(days + 3).rem_euclid(7) as usize]))
        }
        (Val::LocalDateTime(ms), "toLocalDate", 0) => {
            Ok(Val::LocalDate(ms.div_euclid(MILLIS_PER_DAY)))
        }
        (Val::DateFormat(pattern), "format", 1) => {
            temporal_millis(&args[0]).and_then(|ms| format_date(pattern, ms).map(Val::str))
        }
        (Val::DateFormat(pattern), "toPattern", 0) => Ok(Val::Str(pattern.clone())),
        _ => return None,
    };
    Some(result)
}

fn temporal_millis(value: &Val<'_>) -> Result<i64> {
    match value {
        Val::Date(ms) | Val::Instant(ms) | Val::LocalDateTime(ms) => Ok(*ms),
        Val::LocalDate(days) => Ok(days.saturating_mul(MILLIS_PER_DAY)),
        Val::Int(v) => Ok(*v as i64),
        Val::Long(v) => Ok(*v),
        other => Err(ExpressionError::new(
            ErrorKind::IllegalArgument,
            format!(
                "Cannot format given Object ({}) as a Date",
                other.type_name()
            ),
        )),
    }
}

/// Java's `toString` of the date/time values (all in UTC, the zone Orca servers run in).
pub fn temporal_to_string(value: &Val<'_>) -> Option<String> {
    Some(match value {
        Val::Date(ms) => format_date("EEE MMM dd HH:mm:ss zzz yyyy", *ms).unwrap_or_default(),
        Val::Instant(ms) => {
            let base = format_date("yyyy-MM-dd'T'HH:mm:ss", *ms).unwrap_or_default();
            let millis = ms.rem_euclid(1000);
            if millis == 0 {
                format!("{base}Z")
            } else {
                format!("{base}.{millis:03}Z")
            }
        }
        Val::LocalDate(days) => {
            let (y, m, d) = civil_from_days(*days);
            format!("{y:04}-{m:02}-{d:02}")
        }
        Val::LocalDateTime(ms) => {
            let base = format_date("yyyy-MM-dd'T'HH:mm", *ms).unwrap_or_default();
            let (seconds, millis) = (ms.div_euclid(1000).rem_euclid(60), ms.rem_euclid(1000));
            match (seconds, millis) {
                (0, 0) => base,
                (s, 0) => format!("{base}:{s:02}"),
                (s, m) => format!("{base}:{s:02}.{m:03}"),
            }
        }
        Val::DateFormat(_) => "java.text.SimpleDateFormat".to_string(),
        Val::Random => "java.util.Random".to_string(),
        _ => return None,
    })
}

pub const MILLIS_PER_DAY: i64 = 86_400_000;

/// Days from 1970 to Java's largest `LocalDate` year (+999,999,999), which keeps the civil
/// date arithmetic far from overflow.
const MAX_EPOCH_DAYS: i64 = 365_241_780_471;

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) for days since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub(crate) fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub(crate) fn parse_iso_date(text: &str) -> Result<i64> {
    let invalid = || {
        ExpressionError::eval(format!(
            "Text '{text}' could not be parsed as a LocalDate (yyyy-MM-dd)"
        ))
    };
    let mut parts = text.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(invalid());
    }
    let (y, m, d) = (
        y.parse::<i64>().map_err(|_| invalid())?,
        m.parse::<i64>().map_err(|_| invalid())?,
        d.parse::<i64>().map_err(|_| invalid())?,
    );
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return Err(invalid());
    }
    Ok(days_from_civil(y, m, d))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `SimpleDateFormat(pattern).format(date)` in UTC, for the pattern letters pipelines use
/// (`y M d H h k K m s S E a z Z X D u`); quoted text with `''` escapes.
pub fn format_date(pattern: &str, epoch_millis: i64) -> Result<String> {
    let days = epoch_millis.div_euclid(MILLIS_PER_DAY);
    let millis_of_day = epoch_millis.rem_euclid(MILLIS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let hour = millis_of_day / 3_600_000;
    let minute = millis_of_day / 60_000 % 60;
    let second = millis_of_day / 1000 % 60;
    let millis = millis_of_day % 1000;
    let weekday = (days + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    let day_of_year = days - days_from_civil(year, 1, 1) + 1;

    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        out.push('\'');
                        i += 2;
                        continue;
                    }
                    break;
                }
                out.push(chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err(ExpressionError::new(
                    ErrorKind::IllegalArgument,
                    "Unterminated quote",
                ));
            }
            i += 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let mut count = 1;
        while chars.get(i + count) == Some(&c) {
            count += 1;
        }
        i += count;
        let padded = |value: i64| format!("{value:0count$}");
        match c {
            'y' | 'Y' | 'u' if c != 'u' => {
                if count == 2 {
                    out.push_str(&format!("{:02}", year.rem_euclid(100)));
                } else {
                    out.push_str(&padded(year));
                }
            }
            'u' => out.push_str(&padded(weekday as i64 + 1)),
            'M' | 'L' => match count {
                1 | 2 => out.push_str(&padded(month)),
                3 => out.push_str(&MONTHS[(month - 1) as usize][..3]),
                _ => out.push_str(MONTHS[(month - 1) as usize]),
            },
            'd' => out.push_str(&padded(day)),
            'D' => out.push_str(&padded(day_of_year)),
            'H' => out.push_str(&padded(hour)),
            'k' => out.push_str(&padded(if hour == 0 { 24 } else { hour })),
            'K' => out.push_str(&padded(hour % 12)),
            'h' => out.push_str(&padded(if hour % 12 == 0 { 12 } else { hour % 12 })),
            'm' => out.push_str(&padded(minute)),
            's' => out.push_str(&padded(second)),
            'S' => out.push_str(&padded(millis)),
            'E' => {
                let name = DAYS_OF_WEEK[weekday];
                let title = format!("{}{}", &name[..1], name[1..].to_lowercase());
                if count >= 4 {
                    out.push_str(&title);
                } else {
                    out.push_str(&title[..3]);
                }
            }
            'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
            'z' => out.push_str(if count >= 4 {
                "Coordinated Universal Time"
            } else {
                "UTC"
            }),
            'Z' => out.push_str("+0000"),
            'X' => out.push('Z'),
            'G' => out.push_str("AD"),
            _ => {
                return Err(ExpressionError::new(
                    ErrorKind::IllegalArgument,
                    format!("Illegal pattern character '{c}'"),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn formats_dates_like_simple_date_format() {
        // 2024-03-05T07:08:09.010Z, a Tuesday
        let ms = days_from_civil(2024, 3, 5) * MILLIS_PER_DAY + 7 * 3_600_000 + 8 * 60_000 + 9_010;
        assert_eq!(format_date("yyyyMMdd", ms).unwrap(), "20240305");
        assert_eq!(
            format_date("yyyy-MM-dd'T'HH:mm:ss.SSS", ms).unwrap(),
            "2024-03-05T07:08:09.010"
        );
        assert_eq!(
            format_date("EEE, d MMM yy h a", ms).unwrap(),
            "Tue, 5 Mar 24 7 AM"
        );
        assert_eq!(format_date("'o''clock' HH", ms).unwrap(), "o'clock 07");
        assert!(format_date("q", ms).is_err());
    }
}
