//! Text values with rules: names, e-mail addresses, e-mail domains, phone numbers.

use serde::Serialize;

/// Longest name, SKU or phone number accepted anywhere.
pub const MAX_NAME_CHARS: usize = 200;

/// A person's or an organisation's name: trimmed, 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Name(String);

impl Name {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        check_plain_text(s, MAX_NAME_CHARS)?;
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Refuses over-long text and control characters (which only ever arrive by mistake or malice).
pub fn check_plain_text(s: &str, max_chars: usize) -> Result<(), String> {
    if s.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// An e-mail address, stored lower-cased so that logins and matching ignore case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim().to_lowercase();
        if s.len() > 254 {
            return Err("must be at most 254 characters".into());
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err("must be an e-mail address like name@example.com".into());
        };
        if local.is_empty()
            || local.len() > 64
            || local
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '@')
        {
            return Err("must be an e-mail address like name@example.com".into());
        }
        EmailDomain::parse(domain)
            .map_err(|_| "must be an e-mail address like name@example.com".to_string())?;
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`, used to match mail to a customer.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

/// An internet domain name such as `acme.example`, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EmailDomain(String);

impl EmailDomain {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim().trim_start_matches('@').to_lowercase();
        let bad = || format!("\"{}\" is not a domain like example.com", raw.trim());
        if s.is_empty() || s.len() > 253 || !s.contains('.') {
            return Err(bad());
        }
        for label in s.split('.') {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-');
            if !ok {
                return Err(bad());
            }
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number as people write it: digits, spaces and `+()-./` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.len() > 40 {
            return Err("must be at most 40 characters".into());
        }
        if !s.chars().any(|c| c.is_ascii_digit())
            || !s
                .chars()
                .all(|c| c.is_ascii_digit() || " +()-./".contains(c) || c == 'x')
        {
            return Err("must be a phone number such as +44 20 7946 0000".into());
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            Name::parse("  Acme Ltd ").map(|n| n.0),
            Ok("Acme Ltd".into())
        );
        assert!(Name::parse("").is_err());
        assert!(Name::parse(&"x".repeat(201)).is_err());
        assert!(Name::parse("a\u{0}b").is_err());
    }

    #[test]
    fn email_addresses_are_lower_cased_and_checked() {
        let e = EmailAddress::parse(" Jane@ACME.example ").expect("valid");
        assert_eq!(e.as_str(), "jane@acme.example");
        assert_eq!(e.domain(), "acme.example");
        for bad in [
            "jane",
            "@acme.example",
            "jane@",
            "jane@acme",
            "ja ne@acme.example",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domains_accept_a_leading_at_and_refuse_junk() {
        assert_eq!(
            EmailDomain::parse("@Acme.Example").map(|d| d.0),
            Ok("acme.example".into())
        );
        for bad in [
            "acme",
            "acme..example",
            "-acme.example",
            "acme.example/x",
            "",
        ] {
            assert!(EmailDomain::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_need_digits() {
        assert!(Phone::parse("+44 (20) 7946-0000").is_ok());
        assert!(Phone::parse("call me").is_err());
    }
}
