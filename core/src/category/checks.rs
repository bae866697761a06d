//! The checks a field's value passes before it joins the profile: each takes what a person,
//! a page or a file gave and answers the value as it is kept (trimmed, in its canonical form),
//! or why it is refused. Nothing here panics, whatever it is given.

use serde_json::Value;

/// A calendar date, `YYYY-MM-DD` (ISO 8601), from the year 1000 to 9999.
pub fn date(text: &str) -> Result<time::Date, String> {
    let bad = || format!("`{}` is not a date as YYYY-MM-DD", clip(text));
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if y.len() != 4
        || m.len() != 2
        || d.len() != 2
        || !(y.bytes().chain(m.bytes()).chain(d.bytes())).all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let (year, month, day): (i32, u8, u8) =
        (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    if year < 1000 {
        return Err(bad());
    }
    let month = time::Month::try_from(month).map_err(|_| bad())?;
    time::Date::from_calendar_date(year, month, day).map_err(|_| format!("{} does not exist", clip(text)))
}

/// The date `now` (Unix seconds) falls on, in UTC.
pub fn today(now: u64) -> time::Date {
    let seconds = i64::try_from(now).unwrap_or(i64::MAX);
    time::OffsetDateTime::from_unix_timestamp(seconds).map_or(time::Date::MAX, |t| t.date())
}

/// Whole years from `born` to `on`: a birthday on 29 February is reached on 1 March in the years
/// that have none.
pub fn age(born: time::Date, on: time::Date) -> i32 {
    let years = on.year() - born.year();
    if (on.month() as u8, on.day()) < (born.month() as u8, born.day()) { years - 1 } else { years }
}

/// A BCP 47 language tag (`en`, `pt-BR`, `zh-Hant-TW`), well-formed by RFC 5646, in its usual
/// case (language lower, script title, region upper).
pub fn language(text: &str) -> Result<String, String> {
    let tag = oxilangtag::LanguageTag::parse_and_normalize(text)
        .map_err(|e| format!("`{}` is not a language tag such as en or pt-BR: {e}", clip(text)))?;
    Ok(tag.into_inner())
}

/// A GTIN (GTIN-8, UPC-A's 12 digits, EAN-13 or GTIN-14) whose check digit is right: GS1's
/// modulo 10, weights 3 and 1 from the right. Spaces and dashes between digits are dropped.
/// (Written here: the crates that do this were last released years ago.)
pub fn gtin(text: &str) -> Result<String, String> {
    let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if !matches!(digits.len(), 8 | 12 | 13 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{}` is not a GTIN, UPC or EAN: 8, 12, 13 or 14 digits", clip(text)));
    }
    let values: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
    let (body, check) = values.split_at(values.len() - 1);
    let sum: u32 = body.iter().rev().enumerate().map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d }).sum();
    if (10 - sum % 10) % 10 != check[0] {
        return Err(format!("`{}`: its check digit is wrong (a mistyped digit?)", clip(text)));
    }
    Ok(digits)
}

/// A vehicle identification number (ISO 3779: 17 characters, no I, O or Q) whose check digit,
/// the ninth character, is right (the North American rule, 49 CFR 565, which every VIN of a
/// car sold there carries). Upper-cased.
pub fn vin(text: &str) -> Result<String, String> {
    let vin = text.trim().to_ascii_uppercase();
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A' | b'J' => 1,
            b'B' | b'K' | b'S' => 2,
            b'C' | b'L' | b'T' => 3,
            b'D' | b'M' | b'U' => 4,
            b'E' | b'N' | b'V' => 5,
            b'F' | b'W' => 6,
            b'G' | b'P' | b'X' => 7,
            b'H' | b'Y' => 8,
            b'R' | b'Z' => 9,
            _ => return None,
        })
    };
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let values: Option<Vec<u32>> = vin.bytes().map(value).collect();
    let Some(values) = values.filter(|v| v.len() == 17) else {
        return Err(format!("`{}` is not a VIN: 17 letters and digits, without I, O or Q", clip(text)));
    };
    let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    let check = match sum % 11 {
        10 => b'X',
        n => b'0' + n as u8,
    };
    if vin.as_bytes()[8] != check {
        return Err(format!("`{}`: its check digit (the ninth character) is wrong", clip(text)));
    }
    Ok(vin)
}

/// An amount of money as a decimal string (`12.34`, `-5`, `0.5`): at most 12 digits before the
/// point and 4 after, kept as written so nothing is rounded.
pub fn decimal(text: &str) -> Result<String, String> {
    let bad = || format!("`{}` is not an amount such as 12.34", clip(text));
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 12 || fraction.len() > 4 || !digits(whole) || !digits(fraction) {
        return Err(bad());
    }
    if unsigned.ends_with('.') {
        return Err(bad());
    }
    Ok(text.to_owned())
}

/// An ISO 4217 currency code (`EUR`), upper-cased.
pub fn currency(text: &str) -> Result<String, String> {
    let code = text.trim().to_ascii_uppercase();
    iso_currency::Currency::from_code(&code)
        .map(|c| c.code().to_owned())
        .ok_or_else(|| format!("`{}` is not an ISO 4217 currency code such as EUR or USD", clip(text)))
}

/// An `https:` address (or `http:` on this machine), at most `max` bytes, without spaces or
/// control characters: what a bookmark or a profile URL may be.
pub fn web_url(text: &str, max: usize) -> Result<String, String> {
    let text = text.trim();
    // Plain http only for this machine itself: `localhost` or `127.0.0.1`, then a port, a
    // path or nothing (`http://localhost.evil.example` is not this machine).
    let loopback = |rest: &&str| {
        ["localhost", "127.0.0.1"].iter().any(|h| {
            rest.strip_prefix(h).is_some_and(|after| after.is_empty() || after.starts_with([':', '/', '?', '#']))
        })
    };
    let rest = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://").filter(loopback));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    if text.len() > max || host.is_none_or(str::is_empty) || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{}` is not a web address (https://…, at most {max} characters)", clip(text)));
    }
    Ok(text.to_owned())
}

/// An email address as forms take it: one `@`, something on each side, a dot in the domain.
pub fn email(text: &str) -> Result<String, String> {
    let text = text.trim();
    match text.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !text.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(text.to_owned())
        }
        _ => Err(format!("`{}` is not an email address", clip(text))),
    }
}

/// Text of at most `max` characters without control characters (a line) or with line breaks
/// and tabs only (`multiline`), trimmed.
pub fn text(text: &str, max: usize, multiline: bool) -> Result<String, String> {
    let text = text.trim();
    if text.chars().count() > max {
        return Err(format!("is longer than {max} characters"));
    }
    if text.chars().any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\t'))) {
        return Err("holds control characters".into());
    }
    Ok(text.to_owned())
}

/// A JSON value kept as given, at most `max` bytes written compactly, nested at most 32 deep.
pub fn json(value: &Value, max: usize) -> Result<Value, String> {
    fn depth(value: &Value) -> usize {
        match value {
            Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            Value::Object(members) => 1 + members.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    let size = serde_json::to_vec(value).map_or(usize::MAX, |bytes| bytes.len());
    if size > max {
        return Err(format!("is {size} bytes of JSON; at most {max} are kept"));
    }
    if depth(value) > 32 {
        return Err("is nested more than 32 deep".into());
    }
    Ok(value.clone())
}

/// At most 40 characters of what was given, for an error message.
pub(crate) fn clip(text: &str) -> String {
    let clipped: String = text.chars().take(40).filter(|c| !c.is_control()).collect();
    if text.chars().count() > 40 { format!("{clipped}…") } else { clipped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtins_are_checked_by_their_check_digit() {
        assert_eq!(gtin("0 36000 29145 2").unwrap(), "036000291452", "a UPC-A");
        assert_eq!(gtin("4006381333931").unwrap(), "4006381333931", "an EAN-13");
        assert_eq!(gtin("96385074").unwrap(), "96385074", "a GTIN-8");
        assert_eq!(gtin("10012345678902").unwrap(), "10012345678902", "a GTIN-14");
        assert!(gtin("036000291453").unwrap_err().contains("check digit"));
        assert!(gtin("4006381333932").is_err());
        assert!(gtin("12345").is_err());
        assert!(gtin("03600029145x").is_err());
    }

    #[test]
    fn vins_are_checked_by_their_ninth_character() {
        assert_eq!(vin("1m8gdm9axkp042788").unwrap(), "1M8GDM9AXKP042788", "check digit X");
        assert_eq!(vin("11111111111111111").unwrap(), "11111111111111111");
        assert!(vin("1M8GDM9A1KP042788").unwrap_err().contains("check digit"));
        assert!(vin("1M8GDM9AXKP04278").is_err(), "16 characters");
        assert!(vin("1M8GDM9AXKP04278O").is_err(), "no O");
    }

    #[test]
    fn dates_and_ages() {
        let born = date("2000-02-29").unwrap();
        assert_eq!(age(born, date("2018-02-28").unwrap()), 17);
        assert_eq!(age(born, date("2018-03-01").unwrap()), 18);
        assert_eq!(age(date("1990-06-15").unwrap(), date("2008-06-15").unwrap()), 18);
        assert_eq!(age(date("1990-06-15").unwrap(), date("2008-06-14").unwrap()), 17);
        assert!(date("2001-02-29").unwrap_err().contains("does not exist"));
        for bad in ["2001-2-3", "01-02-2001", "", "2001-02-03T00:00", "0999-01-01", "２００１-01-01"] {
            assert!(date(bad).is_err(), "{bad}");
        }
        assert_eq!(today(0), date("1970-01-01").unwrap());
        assert_eq!(today(951_782_400), born, "2000-02-29T00:00Z");
        let _ = today(u64::MAX);
    }

    #[test]
    fn languages_amounts_currencies_addresses() {
        assert_eq!(language("pt-br").unwrap(), "pt-BR");
        assert_eq!(language("zh-hant-tw").unwrap(), "zh-Hant-TW");
        assert!(language("english please").is_err());
        assert!(language("").is_err());
        assert_eq!(decimal("12.34").unwrap(), "12.34");
        assert!(decimal("12.").is_err() && decimal("1e3").is_err() && decimal("").is_err());
        assert_eq!(currency("eur").unwrap(), "EUR");
        assert!(currency("EURO").is_err() && currency("ZZZ").is_err());
        assert!(web_url("https://shop.example/ring?id=1", 2048).is_ok());
        assert!(web_url("javascript:alert(1)", 2048).is_err());
        assert!(web_url("http://evil.example/", 2048).is_err());
        assert!(web_url("http://localhost.evil.example/", 2048).is_err());
        assert!(web_url("http://127.0.0.1.evil.example/", 2048).is_err());
        assert!(web_url("http://localhost:8080/ring", 2048).is_ok() && web_url("http://127.0.0.1", 2048).is_ok());
        assert!(web_url("https://", 2048).is_err());
        assert!(email("ada@example.org").is_ok() && email("ada@").is_err() && email("a b@x.org").is_err());
        assert!(text("a\u{7}b", 10, false).is_err());
        assert!(text("a\nb", 10, false).is_err() && text("a\nb", 10, true).is_ok());
        let deep = (0..40).fold(Value::Null, |v, _| Value::Array(vec![v]));
        assert!(json(&deep, 1 << 20).is_err());
    }
}
