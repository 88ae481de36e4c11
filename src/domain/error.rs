//! Outcomes a use case can fail with. Each contract maps these to its own status
//! codes and bodies; nothing here knows about HTTP.

/// What went wrong, as the domain sees it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Unknown user or wrong password: deliberately indistinguishable.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The credentials were right but the account is deactivated.
    #[error("account is inactive")]
    Inactive,
    /// The password was right, but the account requires an SMS code and this
    /// contract has no step to enter one. Contracts answer it as invalid
    /// credentials: a second factor must not be bypassed through another API.
    #[error("the account requires a second factor this contract cannot take")]
    SecondFactorRequired,
    /// A one-time code was wrong, expired, used or burned.
    #[error("invalid one-time code")]
    OtpInvalid,
    /// A code was sent too recently (or the hourly cap is reached); `wait` seconds left.
    #[error("a code was sent recently; wait {wait} seconds")]
    OtpTooSoon { wait: i64 },
    /// Too many failed logins for this account; `wait` seconds until the window passes.
    #[error("too many failed logins; wait {wait} seconds")]
    Throttled { wait: i64 },
    /// A token failed verification. The reason is kept so dialects that tell
    /// reasons apart (simplejwt) can.
    #[error("token rejected: {0:?}")]
    TokenInvalid(TokenProblem),
    /// A named thing does not exist (user, organization, ...).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique field is already taken.
    #[error("{0} is already taken")]
    Conflict(String),
    /// Input that breaks a rule; the text says which.
    #[error("{0}")]
    Invalid(String),
    /// Codes are not sent to this number's country
    /// (`ACCOUNTD_SMS_ALLOWED_COUNTRIES`); contracts answer as for an invalid
    /// phone number.
    #[error("codes are not sent to this phone number")]
    PhoneNotAllowed,
    /// The SMS gateway refused or failed; no code was left behind.
    #[error("the SMS could not be sent")]
    SmsFailed,
    /// The database (or another dependency every request needs) did not answer
    /// in time or at all. Each contract answers 503 in its own shape with
    /// `Retry-After` (INTERFACE.md, "Database outage"); never "not found" or
    /// "invalid credentials". Also: the password-hash queue is full.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure. Never shown to clients.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a token was refused; simplejwt words these differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// Bad signature, malformed, expired, or its user is gone or inactive.
    InvalidOrExpired,
    /// An access token where a refresh token belongs, or the reverse.
    WrongType,
    /// Logged out (blacklisted) or its session has ended.
    Revoked,
}

impl Error {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Error::Internal(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
