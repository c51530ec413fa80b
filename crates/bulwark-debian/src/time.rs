//! The RFC 2822-style dates of `Release` files (`Date`, `Valid-Until`) and
//! UTC formatting helpers, without a date library.

/// Parses `Sat, 17 May 2025 09:38:38 UTC` (day name optional; zone `UTC`,
/// `GMT`, `Z` or `±hhmm`) into seconds since the Unix epoch.
pub fn parse_rfc2822(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = match s.split_once(',') {
        Some((_, rest)) => rest.trim(),
        None => s,
    };
    let mut it = s.split_ascii_whitespace();
    let day: i64 = it.next()?.parse().ok()?;
    let month = match it.next()?.to_ascii_lowercase().as_str() {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    let year: i64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':');
    let h: i64 = hms.next()?.parse().ok()?;
    let m: i64 = hms.next()?.parse().ok()?;
    let sec: i64 = hms.next().unwrap_or("0").parse().ok()?;
    if !(1..=31).contains(&day)
        || !(1..=9999).contains(&year)
        || !(0..=23).contains(&h)
        || !(0..=59).contains(&m)
        || !(0..=60).contains(&sec)
    {
        return None;
    }
    let offset = match it.next() {
        None | Some("UTC" | "GMT" | "Z" | "UT") => 0,
        Some(z) if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => {
            let hh: i64 = z.get(1..3)?.parse().ok()?;
            let mm: i64 = z.get(3..5)?.parse().ok()?;
            if !(0..=23).contains(&hh) || !(0..=59).contains(&mm) {
                return None;
            }
            let o = hh * 3600 + mm * 60;
            if z.starts_with('-') { -o } else { o }
        }
        Some(_) => return None,
    };
    Some(days_from_civil(year, month, day) * 86400 + h * 3600 + m * 60 + sec - offset)
}

/// Parses RFC 3339 (`2025-05-17T09:38:38Z`, with optional fractional
/// seconds, `t`/space separator and `±hh:mm` offsets) to seconds since the
/// epoch; fractions are dropped.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = s.split_at_checked(10)?;
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let mut d = date.split('-');
    let (y, mo, da): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (hms, tail) = rest.split_at_checked(8)?;
    let mut t = hms.split(':');
    let (h, mi, se): (i64, i64, i64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    if !(0..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&da)
        || !(0..=23).contains(&h)
        || !(0..=59).contains(&mi)
        || !(0..=60).contains(&se)
    {
        return None;
    }
    // Skip a fraction, then read the zone.
    let tail = tail
        .strip_prefix('.')
        .map_or(tail, |f| f.trim_start_matches(|c: char| c.is_ascii_digit()));
    let offset = match tail {
        "Z" | "z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) => {
            let oh: i64 = z.get(1..3)?.parse().ok()?;
            let om: i64 = z.get(4..6)?.parse().ok()?;
            if !(0..=23).contains(&oh) || !(0..=59).contains(&om) {
                return None;
            }
            let sign = if z.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, da) * 86400 + h * 3600 + mi * 60 + se - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Formats seconds since the epoch as RFC 3339 UTC (`2025-05-17T09:38:38Z`).
pub fn format_rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let z = days + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_absurd_dates_are_none_not_an_overflow() {
        // Found by the release_file fuzz target: a multiplication overflow.
        assert_eq!(parse_rfc2822("t, 01 Nov -8 10:-8333333333333338080"), None);
        assert_eq!(parse_rfc2822("01 Nov 99999999999999 10:00:00"), None);
        assert_eq!(parse_rfc2822("01 Nov 2025 -1:00:00"), None);
        assert_eq!(parse_rfc2822("01 Nov 2025 10:00:00 +1\u{e9}1"), None);
        assert_eq!(parse_rfc2822("01 Nov 2025 10:00:00 +9999"), None);
        assert_eq!(parse_rfc3339("2025-01-01T-1:00:00Z"), None);
        assert_eq!(parse_rfc3339("2025-01-01T00:00:00+99:00"), None);
    }

    #[test]
    fn release_dates() {
        assert_eq!(
            parse_rfc2822("Sat, 17 May 2025 09:38:38 UTC"),
            Some(1747474718)
        );
        assert_eq!(
            parse_rfc2822("17 May 2025 11:38:38 +0200"),
            Some(1747474718)
        );
        assert_eq!(parse_rfc2822("Thu, 01 Jan 1970 00:00:00 UTC"), Some(0));
        assert_eq!(parse_rfc2822("garbage"), None);
        assert_eq!(parse_rfc2822("Sat, 17 Foo 2025 09:38:38 UTC"), None);
    }

    #[test]
    fn rfc3339_roundtrip() {
        assert_eq!(format_rfc3339(1747474718), "2025-05-17T09:38:38Z");
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951782400), "2000-02-29T00:00:00Z");
    }
}

#[cfg(test)]
mod rfc3339_tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_and_accepts_fractions_and_offsets() {
        for secs in [0, 1_700_000_000, 1_763_827_200] {
            assert_eq!(parse_rfc3339(&format_rfc3339(secs)), Some(secs));
        }
        assert_eq!(
            parse_rfc3339("2026-11-22T20:35:55.280109931Z"),
            parse_rfc3339("2026-11-22T20:35:55Z")
        );
        assert_eq!(
            parse_rfc3339("2026-11-22T21:35:55+01:00"),
            parse_rfc3339("2026-11-22T20:35:55Z")
        );
        for bad in [
            "",
            "2026-11-22",
            "2026-13-01T00:00:00Z",
            "2026-11-22T20:35:55",
            "x026-11-22T20:35:55Z",
            "2026-11-22T20:35:55.Zjunk",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
