//! Two-factor authentication rules: TOTP codes (RFC 6238 over HOTP, RFC 4226), the base32
//! secrets authenticator apps read, the `otpauth://` enrolment URI, recovery-code format and
//! the 2FA mode an administrator sets. Pure: the caller supplies the time and the randomness.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// Seconds per TOTP time step (what every authenticator app uses).
pub const STEP_SECONDS: i64 = 30;
/// Digits of a TOTP code.
pub const DIGITS: u32 = 6;
/// Steps either side of now that are still accepted (clock drift, typing time).
pub const ALLOWED_DRIFT_STEPS: i64 = 1;
/// Bytes of a TOTP secret (160 bits, RFC 4226's recommendation for SHA-1).
pub const SECRET_BYTES: usize = 20;
/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;
/// The issuer shown in authenticator apps.
pub const ISSUER: &str = "Accord";

/// The TOTP time step that `unix_seconds` falls in.
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The HOTP value of `secret` at counter `step`, with `digits` digits (RFC 4226 §5.3).
pub fn code_at(secret: &[u8], step: i64, digits: u32) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        // HMAC accepts keys of any length; this arm cannot be reached.
        return 0;
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// A code as typed: exactly [`DIGITS`] digits once spaces are removed.
pub fn parse_code(typed: &str) -> Option<u32> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != DIGITS as usize || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Why a well-formed code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefused {
    /// Not the code of any step within the allowed drift.
    Wrong,
    /// The code of a step that was already used to log in (replay).
    AlreadyUsed,
}

/// Checks `code` against the steps around `unix_seconds`. `last_used_step` is the newest
/// step a code was accepted for: that step and older ones are refused, so a code works once.
/// Returns the matching step, which the caller must store as the new `last_used_step`.
pub fn check_code(
    secret: &[u8],
    code: u32,
    unix_seconds: i64,
    last_used_step: Option<i64>,
) -> Result<i64, CodeRefused> {
    let now = step_at(unix_seconds);
    let matching = (now - ALLOWED_DRIFT_STEPS..=now + ALLOWED_DRIFT_STEPS)
        .find(|&step| code_at(secret, step, DIGITS) == code)
        .ok_or(CodeRefused::Wrong)?;
    match last_used_step {
        Some(last) if matching <= last => Err(CodeRefused::AlreadyUsed),
        _ => Ok(matching),
    }
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as authenticator apps expect secrets.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 0x1f) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 0x1f) as usize]));
    }
    out
}

/// Decodes base32 (case-insensitive, spaces and padding ignored); `None` on other characters.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let value = BASE32
            .iter()
            .position(|&b| char::from(b) == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The `otpauth://` URI an authenticator app reads from the QR code (Key Uri Format):
/// issuer "Accord", the account's e-mail as the label, SHA-1, 6 digits, 30 seconds.
pub fn otpauth_uri(secret: &[u8], account: &str) -> String {
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        issuer = ISSUER,
        account = percent_encode(account),
        secret = base32_encode(secret),
    )
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Letters and digits of recovery codes: no 0/o, 1/l/i, so they can be read off paper.
const RECOVERY_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// Turns 10 random bytes into a recovery code like `k7m2p-x9qre` (about 49 bits).
pub fn recovery_code_from(random: [u8; 10]) -> String {
    let chars: String = random
        .iter()
        .map(|b| char::from(RECOVERY_ALPHABET[usize::from(*b) % RECOVERY_ALPHABET.len()]))
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// A recovery code as typed, in the form it is stored (hashed) in: lower case, no spaces or
/// dashes. `None` if it cannot be a recovery code.
pub fn normalise_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == 10 && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(code)
}

/// What an administrator set for a user's 2FA (*Resources → Employees*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoFactorMode {
    /// The user may opt in from their profile.
    Off,
    /// The user is asked to enrol at their next login; they may disable it later.
    Enabled,
    /// The user must enrol before doing anything else and cannot disable it.
    Required,
}

impl TwoFactorMode {
    pub const ALL: [TwoFactorMode; 3] = [Self::Off, Self::Enabled, Self::Required];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Enabled => "enabled",
            Self::Required => "required",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == text)
    }

    /// The name on screens.
    pub fn label(self) -> &'static str {
        match self {
            Self::Off => "Off",
            Self::Enabled => "Enabled",
            Self::Required => "Required",
        }
    }
}

/// The mode that applies: the system default *Require 2FA for administrators* turns an
/// administrator's own mode into [`TwoFactorMode::Required`].
pub fn effective_mode(
    own: TwoFactorMode,
    is_admin: bool,
    required_for_administrators: bool,
) -> TwoFactorMode {
    if is_admin && required_for_administrators {
        TwoFactorMode::Required
    } else {
        own
    }
}

/// What a login needs after the password, given the user's 2FA state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondStep {
    /// Nothing: the password was enough.
    None,
    /// A code from the authenticator app (or a recovery code).
    Code,
    /// The user must set up an authenticator first.
    Enrolment,
}

/// The second step of a login: enrolled users give a code; users an administrator enabled or
/// required 2FA for (or all administrators, by the system default) enrol first.
pub fn second_step(mode: TwoFactorMode, enrolled: bool) -> SecondStep {
    match (enrolled, mode) {
        (true, _) => SecondStep::Code,
        (false, TwoFactorMode::Off) => SecondStep::None,
        (false, _) => SecondStep::Enrolment,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn matches_the_rfc_6238_sha1_test_vectors() {
        // RFC 6238 appendix B, SHA-1 rows (8 digits).
        for (time, expected) in [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(code_at(RFC_SECRET, step_at(time), 8), expected, "T={time}");
        }
    }

    #[test]
    fn matches_the_rfc_4226_hotp_test_values() {
        let expected = [755_224, 287_082, 359_152, 969_429, 338_314];
        for (counter, code) in expected.into_iter().enumerate() {
            assert_eq!(code_at(RFC_SECRET, counter as i64, 6), code);
        }
    }

    #[test]
    fn accepts_one_step_either_side_and_nothing_further() {
        let now = 1_700_000_015;
        let step = step_at(now);
        for drift in -1..=1 {
            let code = code_at(RFC_SECRET, step + drift, DIGITS);
            assert_eq!(check_code(RFC_SECRET, code, now, None), Ok(step + drift));
        }
        for drift in [-2, 2] {
            let code = code_at(RFC_SECRET, step + drift, DIGITS);
            assert_eq!(
                check_code(RFC_SECRET, code, now, None),
                Err(CodeRefused::Wrong)
            );
        }
    }

    #[test]
    fn a_code_works_once() {
        let now = 1_700_000_015;
        let code = code_at(RFC_SECRET, step_at(now), DIGITS);
        let used = check_code(RFC_SECRET, code, now, None).expect("first use");
        assert_eq!(
            check_code(RFC_SECRET, code, now, Some(used)),
            Err(CodeRefused::AlreadyUsed)
        );
        // An older step's code is refused once a newer one was used.
        let older = code_at(RFC_SECRET, step_at(now) - 1, DIGITS);
        assert_eq!(
            check_code(RFC_SECRET, older, now, Some(used)),
            Err(CodeRefused::AlreadyUsed)
        );
        let next = code_at(RFC_SECRET, step_at(now) + 1, DIGITS);
        assert_eq!(
            check_code(RFC_SECRET, next, now + 30, Some(used)),
            Ok(used + 1)
        );
    }

    #[test]
    fn codes_are_six_digits_as_typed() {
        assert_eq!(parse_code("123 456"), Some(123_456));
        assert_eq!(parse_code("012345"), Some(12_345));
        assert_eq!(parse_code("12345"), None);
        assert_eq!(parse_code("1234567"), None);
        assert_eq!(parse_code("12a456"), None);
        assert_eq!(parse_code("１２３４５６"), None);
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_encode(b"f"), "MY");
        assert_eq!(
            base32_decode("mzxw 6ytb oi======"),
            Some(b"foobar".to_vec())
        );
        assert_eq!(base32_decode("MZ1W"), None);
        let secret: Vec<u8> = (0..20).collect();
        assert_eq!(base32_decode(&base32_encode(&secret)), Some(secret));
    }

    #[test]
    fn the_uri_is_what_authenticator_apps_read() {
        let uri = otpauth_uri(b"foobar", "ana+2fa@acme.example");
        assert_eq!(
            uri,
            "otpauth://totp/Accord:ana%2B2fa@acme.example?secret=MZXW6YTBOI&issuer=Accord&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn recovery_codes_are_readable_and_normalised() {
        let code = recovery_code_from([0, 1, 2, 3, 4, 250, 251, 252, 253, 255]);
        assert_eq!(code.len(), 11);
        assert_eq!(&code[5..6], "-");
        let typed = code.to_uppercase().replace('-', " - ");
        assert_eq!(normalise_recovery_code(&typed), Some(code.replace('-', "")));
        assert_eq!(normalise_recovery_code("123456"), None);
        assert_eq!(normalise_recovery_code("abcde-fghi1"), None);
    }

    #[test]
    fn second_step_follows_enrolment_and_mode() {
        assert_eq!(second_step(TwoFactorMode::Off, false), SecondStep::None);
        assert_eq!(second_step(TwoFactorMode::Off, true), SecondStep::Code);
        assert_eq!(
            second_step(TwoFactorMode::Enabled, false),
            SecondStep::Enrolment
        );
        assert_eq!(
            second_step(TwoFactorMode::Required, false),
            SecondStep::Enrolment
        );
        assert_eq!(second_step(TwoFactorMode::Required, true), SecondStep::Code);
        assert_eq!(
            effective_mode(TwoFactorMode::Off, true, true),
            TwoFactorMode::Required
        );
        assert_eq!(
            effective_mode(TwoFactorMode::Off, false, true),
            TwoFactorMode::Off
        );
        assert_eq!(
            effective_mode(TwoFactorMode::Enabled, true, false),
            TwoFactorMode::Enabled
        );
        for mode in TwoFactorMode::ALL {
            assert_eq!(TwoFactorMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(TwoFactorMode::parse("on"), None);
    }
}
