//! Every setting accountd reads, in one table: the unknown-key check, the
//! settings list of `accountd serve --help` and what `accountd config`
//! prints all come from it (INTERFACE.md, "Observability": an unknown
//! `ACCOUNTD_*` variable or file key is an error naming it).

/// One setting: its key without the `ACCOUNTD_` prefix (uppercase), its
/// default as a person reads it, and what it means.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub key: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
    /// Never printed: `accountd config` shows only whether it is set.
    pub secret: bool,
}

const fn s(key: &'static str, default: &'static str, meaning: &'static str) -> Setting {
    Setting {
        key,
        default,
        meaning,
        secret: false,
    }
}

const fn secret(key: &'static str, default: &'static str, meaning: &'static str) -> Setting {
    Setting {
        key,
        default,
        meaning,
        secret: true,
    }
}

/// Variables of the test harness and tools around accountd, not settings:
/// allowed in the environment, ignored.
pub const IGNORED_PREFIXES: [&str; 1] = ["TEST_"];

/// Every setting, in the order `serve --help` and `config` list them.
pub const SETTINGS: &[Setting] = &[
    s(
        "CONFIG",
        "-",
        "a TOML file with any of these keys (the environment wins)",
    ),
    s(
        "DATABASE_URL",
        "sqlite://accountd.db",
        "sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DB",
    ),
    s("LISTEN", "127.0.0.1:8000", "address of the main listener"),
    s(
        "ADMIN_LISTEN",
        "127.0.0.1:8001",
        "address of the admin listener (/metrics, admin API, console); off disables it",
    ),
    secret(
        "ADMIN_TOKEN",
        "-",
        "bearer token of the admin API, at least 32 bytes",
    ),
    s(
        "ADMIN_SESSION_SECONDS",
        "28800",
        "longest a console sign-in lasts",
    ),
    s(
        "ADMIN_HTTPS",
        "false",
        "the console is reached over HTTPS: its cookie is Secure",
    ),
    s("CONTRACTS", "all", "comma list of contracts to mount"),
    secret(
        "JWT_SECRET",
        "generated once, kept in the database",
        "HS256 signing secret, at least 32 bytes",
    ),
    s("JWT_ALGORITHM", "HS256", "HS256, EdDSA or RS256"),
    secret(
        "JWT_PREVIOUS_SECRETS",
        "-",
        "comma list of earlier HS256 secrets whose tokens still verify",
    ),
    s(
        "JWT_AUDIENCE",
        "-",
        "required aud claim; unset: aud is ignored",
    ),
    secret(
        "SUPABASE_JWT_SECRET",
        "-",
        "GoTrue's JWT secret: imported Supabase access tokens work at delivery me/logout",
    ),
    s(
        "SMS_PROVIDER",
        "console",
        "console, webhook, twilio or africastalking",
    ),
    s(
        "SMS_WEBHOOK_URL",
        "-",
        "with webhook: where each message is POSTed as JSON",
    ),
    s("SMS_TIMEOUT_SECONDS", "10", "timeout of one SMS request"),
    s("TWILIO_ACCOUNT_SID", "-", "with twilio: the account SID"),
    secret("TWILIO_AUTH_TOKEN", "-", "with twilio: the auth token"),
    s("TWILIO_FROM", "-", "with twilio: the sending number"),
    s(
        "TWILIO_BASE_URL",
        "https://api.twilio.com",
        "with twilio: the API's address",
    ),
    s(
        "AFRICASTALKING_USERNAME",
        "-",
        "with africastalking: the username",
    ),
    secret(
        "AFRICASTALKING_API_KEY",
        "-",
        "with africastalking: the API key",
    ),
    s(
        "AFRICASTALKING_FROM",
        "-",
        "with africastalking: sender id or short code",
    ),
    s(
        "AFRICASTALKING_BASE_URL",
        "https://api.africastalking.com",
        "with africastalking: the API's address",
    ),
    s(
        "OTP_RESEND_SECONDS",
        "60",
        "least time between two codes to one phone",
    ),
    s("OTP_TTL_SECONDS", "300", "lifetime of a code"),
    s("OTP_MAX_ATTEMPTS", "5", "wrong guesses that burn a code"),
    s(
        "OTP_MAX_SENDS_PER_HOUR",
        "5",
        "codes one phone may be sent in an hour",
    ),
    s(
        "OTP_MAX_FAILURES_PER_ADDRESS_PER_HOUR",
        "30",
        "wrong codes per client address in an hour; 0: no limit",
    ),
    s(
        "REFRESH_REUSE_SECONDS",
        "10",
        "delivery: grace for a just-rotated refresh token",
    ),
    s(
        "LOGIN_MAX_FAILURES",
        "10",
        "failed logins per name and address in 15 minutes",
    ),
    s(
        "LOGIN_MAX_FAILURES_ACCOUNT",
        "100",
        "failed logins per name from all addresses in an hour",
    ),
    s(
        "SMS_MAX_PER_ADDRESS_PER_HOUR",
        "60",
        "codes sent per client address in an hour; 0: no limit",
    ),
    s(
        "SMS_MAX_PER_HOUR",
        "1000",
        "codes sent in all in an hour; 0: no limit",
    ),
    s(
        "SMS_ALLOWED_COUNTRIES",
        "- (all)",
        "comma list of country calling codes codes may be sent to",
    ),
    s("AUDIT_RETENTION_DAYS", "90", "days audit records are kept"),
    s(
        "TRUSTED_PROXY_HEADER",
        "-",
        "header to take the client address from, behind a proxy",
    ),
    s("CORS_ORIGINS", "-", "comma list of browser origins allowed"),
    s(
        "PHONE_STRICT",
        "false",
        "phone numbers must be dialable in their country",
    ),
    s("MAX_BODY_BYTES", "65536", "largest request body accepted"),
    s(
        "HASH_WORKERS",
        "one per core",
        "password hashes run at once",
    ),
    s(
        "HASH_QUEUE",
        "64 per worker",
        "password checks that may wait for a worker",
    ),
    s(
        "HEADER_TIMEOUT_SECONDS",
        "10",
        "a request's headers arrive within this long",
    ),
    s(
        "REQUEST_TIMEOUT_SECONDS",
        "30",
        "the whole request within this long",
    ),
    s(
        "IDLE_TIMEOUT_SECONDS",
        "60",
        "an idle connection closes after this long",
    ),
    s(
        "SHUTDOWN_SECONDS",
        "30",
        "SIGTERM: the process has ended within this long",
    ),
    s(
        "LOG_FORMAT",
        "text",
        "text or json log lines on stderr (levels: RUST_LOG)",
    ),
    s(
        "PIXEL_GENIUS_ACCESS_SECONDS",
        "300",
        "pixel_genius access token lifetime",
    ),
    s(
        "PIXEL_GENIUS_REFRESH_SECONDS",
        "86400",
        "pixel_genius refresh token lifetime",
    ),
    s(
        "DELIVERY_ACCESS_SECONDS",
        "3600",
        "delivery access token lifetime",
    ),
    s(
        "DELIVERY_REFRESH_SECONDS",
        "2592000",
        "delivery session (refresh token) lifetime",
    ),
    s(
        "SIMPLE_ACCESS_SECONDS",
        "300",
        "simple access token lifetime",
    ),
    s(
        "SIMPLE_REFRESH_SECONDS",
        "86400",
        "simple refresh token lifetime",
    ),
    s(
        "UNIVERSITY_ACCESS_SECONDS",
        "3600",
        "university access token lifetime",
    ),
    s(
        "UNIVERSITY_REFRESH_SECONDS",
        "604800",
        "university refresh token lifetime",
    ),
    s(
        "KIKAPU_ACCESS_SECONDS",
        "300",
        "kikapu access token lifetime",
    ),
    s(
        "KIKAPU_REFRESH_SECONDS",
        "86400",
        "kikapu refresh token lifetime",
    ),
];

/// The setting of a key (without prefix, any case).
pub fn find(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key.eq_ignore_ascii_case(key))
}

/// Whether a key (without prefix) belongs to the tools around accountd.
pub fn ignored(key: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    IGNORED_PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// The settings list of `accountd serve --help`.
pub fn help() -> String {
    let width = SETTINGS.iter().map(|s| s.key.len()).max().unwrap_or(0) + "ACCOUNTD_".len();
    let mut text = String::from(
        "Settings (environment variables, or the same keys in the TOML file named by \
         ACCOUNTD_CONFIG; default in brackets):\n",
    );
    for s in SETTINGS {
        let name = format!("ACCOUNTD_{}", s.key);
        text.push_str(&format!(
            "  {name:<width$}  {} [{}]\n",
            s.meaning, s.default
        ));
    }
    text
}
