//! Typed configuration: defaults, then the TOML file named by `ACCOUNTD_CONFIG`,
//! then `ACCOUNTD_*` environment variables (INTERFACE.md, Configuration).
//!
//! Both sources are first read into one map of lowercase keys without the
//! `ACCOUNTD_` prefix (`otp_ttl_seconds`), so a TOML file may use either
//! spelling and every key is parsed and checked in one place.

pub mod settings;

use crate::domain::keys::Algorithm;
use crate::domain::secret::Secret;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The five wire contracts, by the one name each has everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Contract {
    PixelGenius,
    Delivery,
    Simple,
    University,
    Kikapu,
}

impl Contract {
    pub const ALL: [Contract; 5] = [
        Contract::PixelGenius,
        Contract::Delivery,
        Contract::Simple,
        Contract::University,
        Contract::Kikapu,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Contract::PixelGenius => "pixel_genius",
            Contract::Delivery => "delivery",
            Contract::Simple => "simple",
            Contract::University => "university",
            Contract::Kikapu => "kikapu",
        }
    }

    /// Default (access, refresh) lifetimes in seconds (INTERFACE.md, Configuration).
    fn default_lifetimes(self) -> (i64, i64) {
        const DAY: i64 = 86_400;
        match self {
            Contract::PixelGenius | Contract::Simple | Contract::Kikapu => (300, DAY),
            // Rotating refresh tokens; a session lives as long as its refresh token.
            Contract::Delivery => (3600, 30 * DAY),
            Contract::University => (3600, 7 * DAY),
        }
    }
}

impl FromStr for Contract {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Contract::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown contract {s:?} (expected one of pixel_genius, delivery, simple, university, kikapu)"))
    }
}

impl fmt::Display for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Token lifetimes of one contract, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTtl {
    pub access: i64,
    pub refresh: i64,
}

#[derive(Clone, PartialEq, Eq)]
pub enum SmsProvider {
    Console,
    Webhook { url: String },
    Twilio(TwilioConfig),
    AfricasTalking(AfricasTalkingConfig),
}

impl SmsProvider {
    /// The provider's name, as `ACCOUNTD_SMS_PROVIDER` gives it.
    pub fn name(&self) -> &'static str {
        match self {
            SmsProvider::Console => "console",
            SmsProvider::Webhook { .. } => "webhook",
            SmsProvider::Twilio(_) => "twilio",
            SmsProvider::AfricasTalking(_) => "africastalking",
        }
    }
}

/// Twilio's Messages API. `Debug` hides the auth token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: Secret,
    /// A sender number or alphanumeric sender id, or a Messaging Service SID (`MG…`).
    pub from: String,
    pub base_url: String,
}

/// Africa's Talking SMS API. `Debug` hides the API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfricasTalkingConfig {
    pub username: String,
    pub api_key: Secret,
    /// A registered sender id or short code; None uses the account's default.
    pub from: Option<String>,
    pub base_url: String,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// The TOML file read (`ACCOUNTD_CONFIG`), if any.
    pub config_file: Option<String>,
    pub database_url: String,
    pub listen: String,
    /// The admin listener's address (`/metrics`, the admin API and console);
    /// None when `ACCOUNTD_ADMIN_LISTEN=off`.
    pub admin_listen: Option<String>,
    /// The admin API's bearer token (`ACCOUNTD_ADMIN_TOKEN`); None: no
    /// bearer access, the console's sign-in only.
    pub admin_token: Option<Secret>,
    /// How long a console sign-in lasts at most.
    pub admin_session_seconds: i64,
    /// The console is reached over HTTPS (a TLS proxy in front): its cookie
    /// is marked `Secure`.
    pub admin_https: bool,
    pub contracts: Vec<Contract>,
    pub jwt_secret: Option<String>,
    /// GoTrue's JWT secret: Supabase access tokens of imported sessions are
    /// taken at delivery's `me` and `logout` (INTERFACE.md, "Import").
    pub supabase_jwt_secret: Option<Secret>,
    pub sms: SmsProvider,
    pub sms_timeout_seconds: u64,
    pub otp_resend_seconds: i64,
    pub otp_ttl_seconds: i64,
    pub otp_max_attempts: i64,
    pub otp_max_sends_per_hour: i64,
    pub refresh_reuse_seconds: i64,
    /// Failed password logins per (name, client address) in 15 minutes.
    pub login_max_failures: i64,
    /// Failed password logins per name from all addresses in an hour.
    pub login_max_failures_account: i64,
    /// Codes sent per client address in an hour; 0: no limit.
    pub sms_max_per_address_per_hour: i64,
    /// Codes sent in all, across instances, in an hour; 0: no limit.
    pub sms_max_per_hour: i64,
    /// Country calling codes codes may be sent to; empty: all.
    pub sms_allowed_countries: Vec<u16>,
    /// Wrong codes per client address in an hour; 0: no limit.
    pub otp_max_failures_per_address_per_hour: i64,
    /// Days audit records are kept.
    pub audit_retention_days: i64,
    pub trusted_proxy_header: Option<String>,
    pub cors_origins: Vec<String>,
    /// Also require phone numbers to be dialable in their country.
    pub phone_strict: bool,
    pub max_body_bytes: usize,
    /// How many password hashes may run at once; default one per core.
    pub hash_workers: usize,
    /// How many password checks may wait for a hash worker before more are
    /// refused (503); default 64 per worker (INTERFACE.md, "Connections, queues, responses").
    pub hash_queue: usize,
    pub ttl: BTreeMap<Contract, TokenTtl>,
    /// Required and checked `aud` claim (simplejwt's AUDIENCE); None ignores `aud`.
    pub jwt_audience: Option<String>,
    /// How tokens are signed (`ACCOUNTD_JWT_ALGORITHM`): HS256, the
    /// simplejwt dialect, or EdDSA / RS256 with keys published as JWKS.
    pub jwt_algorithm: Algorithm,
    /// Earlier HS256 secrets whose tokens still verify
    /// (`ACCOUNTD_JWT_PREVIOUS_SECRETS`, a comma list).
    pub jwt_previous_secrets: Vec<Secret>,
    /// A request's headers must arrive within this long.
    pub header_timeout_seconds: u64,
    /// The whole request (headers, body, answer) within this long.
    pub request_timeout_seconds: u64,
    /// An idle keep-alive connection is closed after this long.
    pub idle_timeout_seconds: u64,
    /// SIGTERM: requests in flight drain for at most this long, then the process ends.
    pub shutdown_seconds: u64,
    pub log_format: LogFormat,
}

/// How log lines are written (`ACCOUNTD_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A URL as it may appear in a log: no password, no query string (a webhook
/// may carry its token there).
pub fn url_for_log(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            if u.query().is_some() {
                u.set_query(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

impl fmt::Debug for SmsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmsProvider::Console => f.write_str("Console"),
            SmsProvider::Webhook { url } => f
                .debug_struct("Webhook")
                .field("url", &url_for_log(url))
                .finish(),
            SmsProvider::Twilio(t) => f.debug_tuple("Twilio").field(t).finish(),
            SmsProvider::AfricasTalking(a) => f.debug_tuple("AfricasTalking").field(a).finish(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No secret reaches a log: not the signing secret, not a password in
        // the database URL, not a token in a webhook's query string.
        f.debug_struct("Config")
            .field("database_url", &url_for_log(&self.database_url))
            .field("listen", &self.listen)
            .field("contracts", &self.contracts)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "***"))
            .field("admin_token", &self.admin_token.as_ref().map(|_| "***"))
            .field("jwt_algorithm", &self.jwt_algorithm)
            .field("jwt_previous_secrets", &self.jwt_previous_secrets)
            .field(
                "supabase_jwt_secret",
                &self.supabase_jwt_secret.as_ref().map(|_| "***"),
            )
            .field("sms", &self.sms)
            .finish_non_exhaustive()
    }
}

const PREFIX: &str = "ACCOUNTD_";

impl Config {
    /// Read the process environment and the file it names.
    pub fn from_env() -> Result<Self, String> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::from_sources(&env)
    }

    /// `vars`: (name, value) pairs as in the environment. Only `ACCOUNTD_*` count.
    pub fn from_sources(vars: &[(String, String)]) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        let file = vars
            .iter()
            .find(|(k, _)| k == "ACCOUNTD_CONFIG")
            .map(|(_, v)| v.clone());
        let file = file.filter(|p| !p.is_empty());
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read config file {path}: {e}"))?;
            let table: toml::Table = text
                .parse()
                .map_err(|e| format!("config file {path}: {e}"))?;
            for (k, v) in table {
                let value = match v {
                    toml::Value::String(s) => s,
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|i| {
                            i.as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| i.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.to_string(),
                };
                let key = normalise(&k);
                if settings::find(&key).is_none() || key == "config" {
                    return Err(format!(
                        "config file {path}: unknown key {k:?} (accountd serve --help lists the settings)"
                    ));
                }
                map.insert(key, value);
            }
        }
        for (k, v) in vars {
            if let Some(rest) = k.strip_prefix(PREFIX) {
                if settings::ignored(rest) {
                    continue;
                }
                if settings::find(rest).is_none() {
                    return Err(format!(
                        "{k}: unknown setting (accountd serve --help lists the settings)"
                    ));
                }
                if rest != "CONFIG" {
                    map.insert(rest.to_lowercase(), v.clone());
                }
            }
        }
        let mut config = Self::from_map(map)?;
        config.config_file = file;
        Ok(config)
    }

    fn from_map(mut m: BTreeMap<String, String>) -> Result<Self, String> {
        let mut take = |k: &str| m.remove(k).filter(|v| !v.trim().is_empty());
        let contracts = match take("contracts").as_deref().map(str::trim) {
            None | Some("all") => Contract::ALL.to_vec(),
            Some(list) => {
                let mut cs = Vec::new();
                for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let c: Contract = name
                        .parse()
                        .map_err(|e| format!("ACCOUNTD_CONTRACTS: {e}"))?;
                    if !cs.contains(&c) {
                        cs.push(c);
                    }
                }
                cs
            }
        };
        let sms = match take("sms_provider").as_deref().unwrap_or("console") {
            "console" => SmsProvider::Console,
            "webhook" => SmsProvider::Webhook {
                url: take("sms_webhook_url")
                    .ok_or("ACCOUNTD_SMS_PROVIDER=webhook needs ACCOUNTD_SMS_WEBHOOK_URL")?,
            },
            "twilio" => {
                let mut need = |key: &str| {
                    take(key).ok_or_else(|| {
                        format!(
                            "ACCOUNTD_SMS_PROVIDER=twilio needs ACCOUNTD_{}",
                            key.to_uppercase()
                        )
                    })
                };
                SmsProvider::Twilio(TwilioConfig {
                    account_sid: need("twilio_account_sid")?,
                    auth_token: Secret::new(need("twilio_auth_token")?),
                    from: need("twilio_from")?,
                    base_url: take("twilio_base_url")
                        .unwrap_or_else(|| "https://api.twilio.com".into()),
                })
            }
            "africastalking" => {
                let mut need = |key: &str| {
                    take(key).ok_or_else(|| {
                        format!(
                            "ACCOUNTD_SMS_PROVIDER=africastalking needs ACCOUNTD_{}",
                            key.to_uppercase()
                        )
                    })
                };
                SmsProvider::AfricasTalking(AfricasTalkingConfig {
                    username: need("africastalking_username")?,
                    api_key: Secret::new(need("africastalking_api_key")?),
                    from: take("africastalking_from"),
                    base_url: take("africastalking_base_url")
                        .unwrap_or_else(|| "https://api.africastalking.com".into()),
                })
            }
            other => {
                return Err(format!(
                    "ACCOUNTD_SMS_PROVIDER: unknown provider {other:?} (console, webhook, twilio, africastalking)"
                ))
            }
        };
        let mut ttl = BTreeMap::new();
        for c in Contract::ALL {
            let (a, r) = c.default_lifetimes();
            ttl.insert(
                c,
                TokenTtl {
                    access: positive(&mut take, &format!("{}_access_seconds", c.name()), a)?,
                    refresh: positive(&mut take, &format!("{}_refresh_seconds", c.name()), r)?,
                },
            );
        }
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let hash_workers = positive(&mut take, "hash_workers", cores as i64)? as usize;
        let hash_queue = positive(&mut take, "hash_queue", 64 * hash_workers as i64)? as usize;
        let config = Config {
            config_file: None,
            database_url: take("database_url").unwrap_or_else(|| "sqlite://accountd.db".into()),
            listen: take("listen").unwrap_or_else(|| "127.0.0.1:8000".into()),
            admin_listen: match take("admin_listen") {
                None => Some("127.0.0.1:8001".into()),
                Some(v) if v.trim().eq_ignore_ascii_case("off") => None,
                Some(v) => Some(v.trim().to_owned()),
            },
            admin_token: take("admin_token").map(Secret::new),
            admin_session_seconds: positive(&mut take, "admin_session_seconds", 8 * 3600)?,
            admin_https: boolean(&mut take, "admin_https", false)?,
            contracts,
            jwt_secret: take("jwt_secret"),
            supabase_jwt_secret: take("supabase_jwt_secret").map(Secret::new),
            sms,
            sms_timeout_seconds: positive(&mut take, "sms_timeout_seconds", 10)? as u64,
            otp_resend_seconds: non_negative(&mut take, "otp_resend_seconds", 60)?,
            otp_ttl_seconds: positive(&mut take, "otp_ttl_seconds", 300)?,
            otp_max_attempts: positive(&mut take, "otp_max_attempts", 5)?,
            otp_max_sends_per_hour: positive(&mut take, "otp_max_sends_per_hour", 5)?,
            refresh_reuse_seconds: non_negative(&mut take, "refresh_reuse_seconds", 10)?,
            login_max_failures: positive(&mut take, "login_max_failures", 10)?,
            login_max_failures_account: positive(&mut take, "login_max_failures_account", 100)?,
            sms_max_per_address_per_hour: non_negative(
                &mut take,
                "sms_max_per_address_per_hour",
                60,
            )?,
            sms_max_per_hour: non_negative(&mut take, "sms_max_per_hour", 1000)?,
            sms_allowed_countries: match take("sms_allowed_countries") {
                None => Vec::new(),
                Some(list) => list
                    .split(',')
                    .map(|c| c.trim().trim_start_matches('+'))
                    .filter(|c| !c.is_empty())
                    .map(|c| {
                        c.parse::<u16>().ok().filter(|n| (1..=999).contains(n)).ok_or_else(|| {
                            format!("ACCOUNTD_SMS_ALLOWED_COUNTRIES: {c:?} is not a country calling code (e.g. 1,44,255)")
                        })
                    })
                    .collect::<Result<_, _>>()?,
            },
            otp_max_failures_per_address_per_hour: non_negative(
                &mut take,
                "otp_max_failures_per_address_per_hour",
                30,
            )?,
            audit_retention_days: positive(&mut take, "audit_retention_days", 90)?,
            trusted_proxy_header: take("trusted_proxy_header"),
            cors_origins: take("cors_origins")
                .map(|s| {
                    s.split(',')
                        .map(|o| o.trim().to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            phone_strict: boolean(&mut take, "phone_strict", false)?,
            max_body_bytes: positive(&mut take, "max_body_bytes", 64 * 1024)? as usize,
            hash_workers,
            hash_queue,
            ttl,
            jwt_audience: take("jwt_audience"),
            jwt_algorithm: match take("jwt_algorithm") {
                None => Algorithm::Hs256,
                Some(name) => Algorithm::parse(&name).ok_or_else(|| {
                    format!("ACCOUNTD_JWT_ALGORITHM: expected HS256, EdDSA or RS256, got {name:?}")
                })?,
            },
            // Comma-separated: a secret holding a comma cannot be listed.
            jwt_previous_secrets: take("jwt_previous_secrets")
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(Secret::from)
                        .collect()
                })
                .unwrap_or_default(),
            header_timeout_seconds: positive(&mut take, "header_timeout_seconds", 10)? as u64,
            request_timeout_seconds: positive(&mut take, "request_timeout_seconds", 30)? as u64,
            idle_timeout_seconds: positive(&mut take, "idle_timeout_seconds", 60)? as u64,
            shutdown_seconds: positive(&mut take, "shutdown_seconds", 30)? as u64,
            log_format: match take("log_format")
                .map(|v| v.trim().to_lowercase())
                .as_deref()
            {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(other) => {
                    return Err(format!(
                        "ACCOUNTD_LOG_FORMAT: expected text or json, got {other:?}"
                    ))
                }
            },
        };
        if let Some(token) = &config.admin_token {
            // A guessable token would open every account to whoever reaches
            // the admin listener: as long as the signing secret at least.
            let n = token.expose().len();
            if n < 32 {
                return Err(format!(
                    "ACCOUNTD_ADMIN_TOKEN: must be at least 32 bytes long (got {n})"
                ));
            }
        }
        if let Some(secret) = &config.jwt_secret {
            crate::domain::tokens::check_secret(secret.as_bytes())
                .map_err(|e| format!("ACCOUNTD_JWT_SECRET: {e}"))?;
            if config.jwt_algorithm != Algorithm::Hs256 {
                return Err(format!(
                    "ACCOUNTD_JWT_SECRET is an HS256 secret: with ACCOUNTD_JWT_ALGORITHM={} \
                     leave it unset (keys are made and kept in the database), and list it in \
                     ACCOUNTD_JWT_PREVIOUS_SECRETS while its tokens live",
                    config.jwt_algorithm
                ));
            }
        }
        for (i, secret) in config.jwt_previous_secrets.iter().enumerate() {
            // A short secret is as guessable for verifying as for signing.
            crate::domain::tokens::check_secret(secret.expose().as_bytes())
                .map_err(|e| format!("ACCOUNTD_JWT_PREVIOUS_SECRETS: secret {}: {e}", i + 1))?;
        }
        Ok(config)
    }

    /// Every setting's effective value, in `settings::SETTINGS` order, as
    /// `accountd config` prints it: secrets only as set or not, URLs without
    /// their password or query.
    pub fn effective(&self) -> Vec<(String, String)> {
        let hidden = |set: bool| if set { "(set, hidden)" } else { "-" }.to_owned();
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
        let list = |v: &[String]| {
            if v.is_empty() {
                "-".to_owned()
            } else {
                v.join(",")
            }
        };
        let (twilio, africastalking) = match &self.sms {
            SmsProvider::Twilio(t) => (Some(t), None),
            SmsProvider::AfricasTalking(a) => (None, Some(a)),
            _ => (None, None),
        };
        settings::SETTINGS
            .iter()
            .map(|s| {
                let value = match s.key {
                    "CONFIG" => opt(&self.config_file),
                    "DATABASE_URL" => url_for_log(&self.database_url),
                    "LISTEN" => self.listen.clone(),
                    "ADMIN_LISTEN" => self.admin_listen.clone().unwrap_or_else(|| "off".into()),
                    "ADMIN_TOKEN" => hidden(self.admin_token.is_some()),
                    "ADMIN_SESSION_SECONDS" => self.admin_session_seconds.to_string(),
                    "ADMIN_HTTPS" => self.admin_https.to_string(),
                    "CONTRACTS" => self
                        .contracts
                        .iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(","),
                    "JWT_SECRET" => hidden(self.jwt_secret.is_some()),
                    "JWT_ALGORITHM" => self.jwt_algorithm.to_string(),
                    "JWT_PREVIOUS_SECRETS" => hidden(!self.jwt_previous_secrets.is_empty()),
                    "JWT_AUDIENCE" => opt(&self.jwt_audience),
                    "SUPABASE_JWT_SECRET" => hidden(self.supabase_jwt_secret.is_some()),
                    "SMS_PROVIDER" => self.sms.name().to_owned(),
                    "SMS_WEBHOOK_URL" => match &self.sms {
                        SmsProvider::Webhook { url } => url_for_log(url),
                        _ => "-".into(),
                    },
                    "SMS_TIMEOUT_SECONDS" => self.sms_timeout_seconds.to_string(),
                    "TWILIO_ACCOUNT_SID" => opt(&twilio.map(|t| t.account_sid.clone())),
                    "TWILIO_AUTH_TOKEN" => hidden(twilio.is_some()),
                    "TWILIO_FROM" => opt(&twilio.map(|t| t.from.clone())),
                    "TWILIO_BASE_URL" => opt(&twilio.map(|t| t.base_url.clone())),
                    "AFRICASTALKING_USERNAME" => opt(&africastalking.map(|a| a.username.clone())),
                    "AFRICASTALKING_API_KEY" => hidden(africastalking.is_some()),
                    "AFRICASTALKING_FROM" => opt(&africastalking.and_then(|a| a.from.clone())),
                    "AFRICASTALKING_BASE_URL" => opt(&africastalking.map(|a| a.base_url.clone())),
                    "OTP_RESEND_SECONDS" => self.otp_resend_seconds.to_string(),
                    "OTP_TTL_SECONDS" => self.otp_ttl_seconds.to_string(),
                    "OTP_MAX_ATTEMPTS" => self.otp_max_attempts.to_string(),
                    "OTP_MAX_SENDS_PER_HOUR" => self.otp_max_sends_per_hour.to_string(),
                    "OTP_MAX_FAILURES_PER_ADDRESS_PER_HOUR" => {
                        self.otp_max_failures_per_address_per_hour.to_string()
                    }
                    "REFRESH_REUSE_SECONDS" => self.refresh_reuse_seconds.to_string(),
                    "LOGIN_MAX_FAILURES" => self.login_max_failures.to_string(),
                    "LOGIN_MAX_FAILURES_ACCOUNT" => self.login_max_failures_account.to_string(),
                    "SMS_MAX_PER_ADDRESS_PER_HOUR" => self.sms_max_per_address_per_hour.to_string(),
                    "SMS_MAX_PER_HOUR" => self.sms_max_per_hour.to_string(),
                    "SMS_ALLOWED_COUNTRIES" => list(
                        &self
                            .sms_allowed_countries
                            .iter()
                            .map(u16::to_string)
                            .collect::<Vec<_>>(),
                    ),
                    "AUDIT_RETENTION_DAYS" => self.audit_retention_days.to_string(),
                    "TRUSTED_PROXY_HEADER" => opt(&self.trusted_proxy_header),
                    "CORS_ORIGINS" => list(&self.cors_origins),
                    "PHONE_STRICT" => self.phone_strict.to_string(),
                    "MAX_BODY_BYTES" => self.max_body_bytes.to_string(),
                    "HASH_WORKERS" => self.hash_workers.to_string(),
                    "HASH_QUEUE" => self.hash_queue.to_string(),
                    "HEADER_TIMEOUT_SECONDS" => self.header_timeout_seconds.to_string(),
                    "REQUEST_TIMEOUT_SECONDS" => self.request_timeout_seconds.to_string(),
                    "IDLE_TIMEOUT_SECONDS" => self.idle_timeout_seconds.to_string(),
                    "SHUTDOWN_SECONDS" => self.shutdown_seconds.to_string(),
                    "LOG_FORMAT" => match self.log_format {
                        LogFormat::Text => "text".into(),
                        LogFormat::Json => "json".into(),
                    },
                    lifetime => Contract::ALL
                        .into_iter()
                        .find_map(|c| {
                            let t = self.ttl(c);
                            let prefix = c.name().to_ascii_uppercase();
                            match lifetime.strip_prefix(prefix.as_str())? {
                                "_ACCESS_SECONDS" => Some(t.access.to_string()),
                                "_REFRESH_SECONDS" => Some(t.refresh.to_string()),
                                _ => None,
                            }
                        })
                        // A row of the table this match does not know: the
                        // unit test below catches it.
                        .unwrap_or_else(|| "?".to_owned()),
                };
                (format!("{PREFIX}{}", s.key), value)
            })
            .collect()
    }

    pub fn ttl(&self, c: Contract) -> TokenTtl {
        self.ttl.get(&c).copied().unwrap_or(TokenTtl {
            access: 300,
            refresh: 86_400,
        })
    }
}

fn normalise(key: &str) -> String {
    let k = key.to_lowercase();
    k.strip_prefix("accountd_").map(str::to_owned).unwrap_or(k)
}

fn number(
    take: &mut impl FnMut(&str) -> Option<String>,
    key: &str,
    default: i64,
) -> Result<i64, String> {
    match take(key) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            format!(
                "ACCOUNTD_{}: expected a whole number, got {v:?}",
                key.to_uppercase()
            )
        }),
    }
}

fn positive(
    take: &mut impl FnMut(&str) -> Option<String>,
    key: &str,
    default: i64,
) -> Result<i64, String> {
    let n = number(take, key, default)?;
    if n < 1 {
        return Err(format!(
            "ACCOUNTD_{}: must be at least 1",
            key.to_uppercase()
        ));
    }
    Ok(n)
}

fn non_negative(
    take: &mut impl FnMut(&str) -> Option<String>,
    key: &str,
    default: i64,
) -> Result<i64, String> {
    let n = number(take, key, default)?;
    if n < 0 {
        return Err(format!(
            "ACCOUNTD_{}: must not be negative",
            key.to_uppercase()
        ));
    }
    Ok(n)
}

fn boolean(
    take: &mut impl FnMut(&str) -> Option<String>,
    key: &str,
    default: bool,
) -> Result<bool, String> {
    match take(key).map(|v| v.trim().to_lowercase()).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(v) => Err(format!(
            "ACCOUNTD_{}: expected true or false, got {v:?}",
            key.to_uppercase()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn unknown_keys_are_errors_naming_them() {
        let e = Config::from_sources(&vars(&[("ACCOUNTD_OTP_TTL_SECOND", "30")])).unwrap_err();
        assert_eq!(
            e,
            "ACCOUNTD_OTP_TTL_SECOND: unknown setting (accountd serve --help lists the settings)"
        );
        // The harness's own variables, and other programs', are not ours.
        Config::from_sources(&vars(&[
            ("ACCOUNTD_TEST_BACKEND", "postgres"),
            ("ACCOUNTD", "x"),
            ("RUST_LOG", "warn"),
        ]))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accountd.toml");
        std::fs::write(&path, "listen = \"0.0.0.0:9\"\notp_ttl = 30\n").unwrap();
        let e = Config::from_sources(&vars(&[("ACCOUNTD_CONFIG", path.to_str().unwrap())]))
            .unwrap_err();
        assert!(
            e.ends_with("unknown key \"otp_ttl\" (accountd serve --help lists the settings)"),
            "{e}"
        );
    }

    #[test]
    fn every_setting_is_read_shown_and_documented() {
        // Each row's key is one from_sources takes (an unknown one errs)...
        let readme = include_str!("../README.md");
        let mut all = Vec::new();
        for s in settings::SETTINGS {
            assert!(settings::find(s.key).is_some());
            let name = format!("ACCOUNTD_{}", s.key);
            // ...that README names (lifetimes by their pattern)...
            let lifetime =
                s.key.ends_with("_ACCESS_SECONDS") || s.key.ends_with("_REFRESH_SECONDS");
            assert!(
                lifetime || readme.contains(&name),
                "{name} is not in README.md"
            );
            all.push(name);
        }
        // ...and that `accountd config` shows, in the table's order.
        let shown: Vec<String> = Config::from_sources(&[])
            .unwrap()
            .effective()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(shown, all);
        let values = Config::from_sources(&[]).unwrap().effective();
        assert!(values.iter().all(|(_, v)| v != "?"), "{values:?}");
        // Numeric defaults in the table are the defaults in force.
        for ((key, value), s) in values.iter().zip(settings::SETTINGS) {
            if s.default.parse::<i64>().is_ok() {
                assert_eq!(value, s.default, "{key}");
            }
        }
    }

    #[test]
    fn config_shows_secrets_only_as_set() {
        let secret = "s3cret-signing-key-of-thirty-two-bytes";
        let c = Config::from_sources(&vars(&[
            (
                "ACCOUNTD_DATABASE_URL",
                "postgres://app:hunter2@db/accounts",
            ),
            ("ACCOUNTD_JWT_SECRET", secret),
            ("ACCOUNTD_SMS_PROVIDER", "webhook"),
            (
                "ACCOUNTD_SMS_WEBHOOK_URL",
                "https://hooks.example/sms?token=abc123",
            ),
        ]))
        .unwrap();
        let shown: BTreeMap<String, String> = c.effective().into_iter().collect();
        assert_eq!(shown["ACCOUNTD_JWT_SECRET"], "(set, hidden)");
        assert_eq!(shown["ACCOUNTD_ADMIN_TOKEN"], "-");
        assert_eq!(
            shown["ACCOUNTD_DATABASE_URL"],
            "postgres://app:***@db/accounts"
        );
        assert_eq!(
            shown["ACCOUNTD_SMS_WEBHOOK_URL"],
            "https://hooks.example/sms?***"
        );
        let all = format!("{shown:?}");
        for leak in [secret, "hunter2", "abc123"] {
            assert!(!all.contains(leak), "{leak} in {all}");
        }
    }

    #[test]
    fn debug_output_hides_secrets_in_urls() {
        let c = Config::from_sources(&vars(&[
            (
                "ACCOUNTD_DATABASE_URL",
                "postgres://app:hunter2@db:5432/accounts",
            ),
            (
                "ACCOUNTD_JWT_SECRET",
                "s3cret-signing-key-of-thirty-two-bytes",
            ),
            ("ACCOUNTD_SUPABASE_JWT_SECRET", "gotrue-jwt-secret"),
            (
                "ACCOUNTD_ADMIN_TOKEN",
                "admin-bearer-token-of-32-bytes-at-least",
            ),
            ("ACCOUNTD_SMS_PROVIDER", "webhook"),
            (
                "ACCOUNTD_SMS_WEBHOOK_URL",
                "https://hooks.example/sms?token=abc123",
            ),
        ]))
        .unwrap();
        let shown = format!("{c:?}");
        assert_eq!(
            c.supabase_jwt_secret,
            Some(Secret::from("gotrue-jwt-secret"))
        );
        for secret in [
            "hunter2",
            "s3cret-signing-key",
            "gotrue-jwt-secret",
            "admin-bearer-token",
            "abc123",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            shown.contains("postgres://app:***@db:5432/accounts"),
            "{shown}"
        );
        assert!(shown.contains("https://hooks.example/sms?***"), "{shown}");
    }

    #[test]
    fn defaults_match_the_interface() {
        let c = Config::from_sources(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://accountd.db");
        assert_eq!(c.listen, "127.0.0.1:8000");
        assert_eq!(c.contracts, Contract::ALL.to_vec());
        assert_eq!(c.sms, SmsProvider::Console);
        assert_eq!(
            (
                c.otp_resend_seconds,
                c.otp_ttl_seconds,
                c.otp_max_attempts,
                c.otp_max_sends_per_hour
            ),
            (60, 300, 5, 5)
        );
        assert_eq!((c.refresh_reuse_seconds, c.login_max_failures), (10, 10));
        assert_eq!(c.hash_queue, 64 * c.hash_workers);
        assert_eq!(
            c.ttl(Contract::PixelGenius),
            TokenTtl {
                access: 300,
                refresh: 86_400
            }
        );
        assert_eq!(
            c.ttl(Contract::University),
            TokenTtl {
                access: 3600,
                refresh: 604_800
            }
        );
        assert_eq!(c.ttl(Contract::Delivery).access, 3600);
        assert_eq!(
            (
                c.header_timeout_seconds,
                c.request_timeout_seconds,
                c.idle_timeout_seconds,
                c.shutdown_seconds
            ),
            (10, 30, 60, 30)
        );
        assert_eq!((c.log_format, c.jwt_audience), (LogFormat::Text, None));
    }

    #[test]
    fn a_jwt_secret_shorter_than_32_bytes_is_refused_at_start() {
        let e = Config::from_sources(&vars(&[("ACCOUNTD_JWT_SECRET", "x")])).unwrap_err();
        assert_eq!(
            e,
            "ACCOUNTD_JWT_SECRET: must be at least 32 bytes long (got 1)"
        );
        let ok = "0123456789abcdef0123456789abcdef";
        let c = Config::from_sources(&vars(&[("ACCOUNTD_JWT_SECRET", ok)])).unwrap();
        assert_eq!(c.jwt_secret.as_deref(), Some(ok));
    }

    #[test]
    fn the_admin_settings_default_to_no_token_eight_hour_sign_ins_and_plain_http() {
        let c = Config::from_sources(&[]).unwrap();
        assert_eq!(
            (c.admin_token, c.admin_session_seconds, c.admin_https),
            (None, 28_800, false)
        );
        let e = Config::from_sources(&vars(&[("ACCOUNTD_ADMIN_TOKEN", "short")])).unwrap_err();
        assert_eq!(
            e,
            "ACCOUNTD_ADMIN_TOKEN: must be at least 32 bytes long (got 5)"
        );
        let c = Config::from_sources(&vars(&[
            ("ACCOUNTD_ADMIN_HTTPS", "true"),
            ("ACCOUNTD_ADMIN_SESSION_SECONDS", "600"),
        ]))
        .unwrap();
        assert_eq!((c.admin_session_seconds, c.admin_https), (600, true));
    }

    #[test]
    fn the_jwt_algorithm_is_hs256_unless_set_and_previous_secrets_are_a_comma_list() {
        let c = Config::from_sources(&[]).unwrap();
        assert_eq!(
            (c.jwt_algorithm, c.jwt_previous_secrets.len()),
            (Algorithm::Hs256, 0)
        );
        let a = "a-previous-secret-of-32-bytes-or-more";
        let b = "another-previous-secret-of-32-bytes";
        let c = Config::from_sources(&vars(&[
            ("ACCOUNTD_JWT_ALGORITHM", "rs256"),
            ("ACCOUNTD_JWT_PREVIOUS_SECRETS", &format!(" {a}, {b} ,")),
        ]))
        .unwrap();
        assert_eq!(c.jwt_algorithm, Algorithm::Rs256);
        assert_eq!(c.jwt_previous_secrets, [Secret::from(a), Secret::from(b)]);
        // Never shown.
        assert!(!format!("{c:?}").contains(a));
    }

    #[test]
    fn log_format_is_text_or_json() {
        let c = Config::from_sources(&vars(&[("ACCOUNTD_LOG_FORMAT", "JSON")])).unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
        let e = Config::from_sources(&vars(&[("ACCOUNTD_LOG_FORMAT", "xml")])).unwrap_err();
        assert!(e.contains("ACCOUNTD_LOG_FORMAT"), "{e}");
    }

    #[test]
    fn env_overrides_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9\"\nACCOUNTD_OTP_TTL_SECONDS = 30\ncontracts = [\"simple\"]\n",
        )
        .unwrap();
        let c = Config::from_sources(&vars(&[
            ("ACCOUNTD_CONFIG", path.to_str().unwrap()),
            ("ACCOUNTD_OTP_TTL_SECONDS", "40"),
            ("UNRELATED", "x"),
        ]))
        .unwrap();
        assert_eq!(c.listen, "0.0.0.0:9");
        assert_eq!(c.otp_ttl_seconds, 40);
        assert_eq!(c.contracts, vec![Contract::Simple]);
    }

    #[test]
    fn the_hash_queue_defaults_to_64_per_worker_and_can_be_set() {
        let c = Config::from_sources(&vars(&[("ACCOUNTD_HASH_WORKERS", "3")])).unwrap();
        assert_eq!((c.hash_workers, c.hash_queue), (3, 192));
        let c = Config::from_sources(&vars(&[("ACCOUNTD_HASH_QUEUE", "5")])).unwrap();
        assert_eq!(c.hash_queue, 5);
        let e = Config::from_sources(&vars(&[("ACCOUNTD_HASH_QUEUE", "0")])).unwrap_err();
        assert!(e.contains("ACCOUNTD_HASH_QUEUE"), "{e}");
    }

    #[test]
    fn bad_values_are_named_in_the_error() {
        let e = Config::from_sources(&vars(&[("ACCOUNTD_OTP_TTL_SECONDS", "soon")])).unwrap_err();
        assert!(e.contains("ACCOUNTD_OTP_TTL_SECONDS"), "{e}");
        let e = Config::from_sources(&vars(&[("ACCOUNTD_CONTRACTS", "simple,nope")])).unwrap_err();
        assert!(e.contains("nope"), "{e}");
        let e = Config::from_sources(&vars(&[("ACCOUNTD_SMS_PROVIDER", "webhook")])).unwrap_err();
        assert!(e.contains("ACCOUNTD_SMS_WEBHOOK_URL"), "{e}");
        let e = Config::from_sources(&vars(&[
            ("ACCOUNTD_SMS_PROVIDER", "twilio"),
            ("ACCOUNTD_TWILIO_ACCOUNT_SID", "AC1"),
        ]))
        .unwrap_err();
        assert!(e.contains("ACCOUNTD_TWILIO_AUTH_TOKEN"), "{e}");
        let e = Config::from_sources(&vars(&[("ACCOUNTD_SMS_PROVIDER", "africastalking")]))
            .unwrap_err();
        assert!(e.contains("ACCOUNTD_AFRICASTALKING_USERNAME"), "{e}");
    }

    #[test]
    fn sms_gateways_are_configured_from_env_with_the_providers_own_base_urls() {
        let c = Config::from_sources(&vars(&[
            ("ACCOUNTD_SMS_PROVIDER", "twilio"),
            ("ACCOUNTD_TWILIO_ACCOUNT_SID", "AC123"),
            ("ACCOUNTD_TWILIO_AUTH_TOKEN", "tw-secret-token"),
            ("ACCOUNTD_TWILIO_FROM", "+15005550006"),
        ]))
        .unwrap();
        assert_eq!(
            c.sms,
            SmsProvider::Twilio(TwilioConfig {
                account_sid: "AC123".into(),
                auth_token: Secret::from("tw-secret-token"),
                from: "+15005550006".into(),
                base_url: "https://api.twilio.com".into(),
            })
        );
        assert!(!format!("{c:?}").contains("tw-secret-token"), "{c:?}");
        let c = Config::from_sources(&vars(&[
            ("ACCOUNTD_SMS_PROVIDER", "africastalking"),
            ("ACCOUNTD_AFRICASTALKING_USERNAME", "sandbox"),
            ("ACCOUNTD_AFRICASTALKING_API_KEY", "at-secret-key"),
            (
                "ACCOUNTD_AFRICASTALKING_BASE_URL",
                "https://api.sandbox.africastalking.com",
            ),
        ]))
        .unwrap();
        assert_eq!(
            c.sms,
            SmsProvider::AfricasTalking(AfricasTalkingConfig {
                username: "sandbox".into(),
                api_key: Secret::from("at-secret-key"),
                from: None,
                base_url: "https://api.sandbox.africastalking.com".into(),
            })
        );
        assert!(!format!("{c:?}").contains("at-secret-key"), "{c:?}");
    }
}
