//! Exact money and percentages as fixed-point integers: never floats.

use std::fmt;

/// An amount of money in minor units (cents, pence): `Money(1250)` is 12.50.
///
/// The currency comes from the legal entity the amount belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Money(pub i64);

/// Largest amount accepted from input: 1 000 000 000 000.00, far below `i64::MAX`,
/// so sums of many amounts cannot overflow.
const MAX_MINOR: i64 = 100_000_000_000_000;

impl Money {
    /// Parses "12.50", "12.5", "12", "-3.10" or "1,234.50". More than two decimals is refused
    /// rather than rounded, so no one loses a fraction without noticing.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let minor = parse_fixed(raw, 2)
            .ok_or_else(|| format!("\"{}\" is not an amount like 12.50", raw.trim()))?;
        if minor.abs() > MAX_MINOR {
            return Err("is too large".into());
        }
        Ok(Self(minor))
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Money {
    /// Always two decimals, no grouping: the JSON form ("12.50").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed(f, self.0, 2)
    }
}

/// A percentage with two decimals, stored in hundredths of a percent: `Percent(2000)` is 20.00 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Percent(pub i64);

impl Percent {
    /// Parses "20", "20.5" or "20.00" (a trailing `%` is allowed).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim().trim_end_matches('%');
        parse_fixed(trimmed, 2)
            .map(Self)
            .ok_or_else(|| format!("\"{}\" is not a percentage like 20.00", raw.trim()))
    }

    /// Like [`Percent::parse`] but only 0 to 100 %, as a tax rate must be.
    pub fn parse_rate(raw: &str) -> Result<Self, String> {
        let p = Self::parse(raw)?;
        if !(0..=10_000).contains(&p.0) {
            return Err("must be between 0 and 100".into());
        }
        Ok(p)
    }

    pub fn hundredths(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed(f, self.0, 2)
    }
}

/// Parses a decimal with at most `scale` fraction digits into an integer of that scale.
fn parse_fixed(raw: &str, scale: u32) -> Option<i64> {
    let s: String = raw.trim().chars().filter(|c| *c != ',').collect();
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > scale as usize
        || whole.len() > 15
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut frac_value: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..scale as usize {
        frac_value *= 10;
    }
    let value = whole
        .checked_mul(10_i64.pow(scale))?
        .checked_add(frac_value)?;
    Some(if negative { -value } else { value })
}

fn write_fixed(f: &mut fmt::Formatter<'_>, value: i64, scale: u32) -> fmt::Result {
    let unit = 10_i64.pow(scale);
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    write!(
        f,
        "{sign}{}.{:0width$}",
        abs / unit as u64,
        abs % unit as u64,
        width = scale as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_round_trips_as_two_decimal_strings() {
        for (raw, minor, shown) in [
            ("12.50", 1250, "12.50"),
            ("12.5", 1250, "12.50"),
            ("12", 1200, "12.00"),
            ("0.07", 7, "0.07"),
            ("-3.1", -310, "-3.10"),
            ("1,234.56", 123456, "1234.56"),
            (".5", 50, "0.50"),
        ] {
            let m = Money::parse(raw).expect(raw);
            assert_eq!(m.minor_units(), minor, "{raw}");
            assert_eq!(m.to_string(), shown, "{raw}");
        }
    }

    #[test]
    fn money_refuses_what_it_cannot_hold_exactly() {
        for bad in [
            "12.505",
            "abc",
            "",
            "1e3",
            "12.5.1",
            "--1",
            "9999999999999999",
        ] {
            assert!(Money::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tax_rates_are_between_0_and_100_percent() {
        assert_eq!(Percent::parse_rate("20%"), Ok(Percent(2000)));
        assert_eq!(
            Percent::parse_rate("17.5").map(|p| p.to_string()),
            Ok("17.50".into())
        );
        assert!(Percent::parse_rate("100.01").is_err());
        assert!(Percent::parse_rate("-1").is_err());
    }
}
