//! Phone numbers, parsed once into E.164.

use std::fmt;

/// A phone number in E.164 form: `+`, a country code that does not start
/// with 0, and at most 15 digits in all (001-delivery-phone-otp.md, Phone Number Format).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneError {
    /// Not `+` followed by 2 to 15 ASCII digits.
    NotE164,
    /// Well-formed, but no number that can be dialled in its country.
    NotDialable,
}

impl Phone {
    /// Accepts exactly `+[1-9][0-9]{1,14}`: ASCII digits only, no spaces or
    /// punctuation, so "+١٢٣" and "+1 202 555" are refused.
    pub fn parse(s: &str) -> Result<Self, PhoneError> {
        let digits = s.strip_prefix('+').ok_or(PhoneError::NotE164)?;
        let ok = (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(PhoneError::NotE164)
        }
    }

    /// `parse`, then also require a number that is valid in its country
    /// (the `phonenumber` metadata). Off by default: the contracts' own
    /// example +1234567890 is well-formed but not dialable.
    pub fn parse_dialable(s: &str) -> Result<Self, PhoneError> {
        let phone = Self::parse(s)?;
        match phonenumber::parse(None, s) {
            Ok(n) if phonenumber::is_valid(&n) => Ok(phone),
            _ => Err(PhoneError::NotDialable),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The country calling code (`1`, `44`, `255`, …), when the number's
    /// leading digits name one.
    pub fn calling_code(&self) -> Option<u16> {
        phonenumber::parse(None, &self.0)
            .ok()
            .map(|n| n.country().code())
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_accepts_the_contract_examples() {
        for ok in [
            "+1234567890",
            "+12025551234",
            "+919876543210",
            "+447700900123",
            "+255712345678",
        ] {
            assert_eq!(Phone::parse(ok).map(|p| p.0), Ok(ok.to_owned()));
        }
    }

    #[test]
    fn e164_refuses_everything_else() {
        for bad in [
            "",
            "+",
            "+1",
            "1234567890",
            "+0123456",
            "+1 202 555 1234",
            "+1-202-555-1234",
            "+1234567890123456",
            "+12a4567890",
            "+١٢٣٤٥٦٧٨٩٠",
            "++1234567",
            " +1234567890",
            "+1234567890\n",
        ] {
            assert_eq!(Phone::parse(bad), Err(PhoneError::NotE164), "{bad:?}");
        }
    }

    #[test]
    fn dialable_check_refuses_the_contract_example_but_takes_real_numbers() {
        assert_eq!(
            Phone::parse_dialable("+1234567890"),
            Err(PhoneError::NotDialable)
        );
        assert!(Phone::parse_dialable("+12025551234").is_ok());
        assert!(Phone::parse_dialable("+255712345678").is_ok());
    }
}
