//! Wiring: configuration in, a bound listener and router out.

use crate::config::{Config, Contract};
use crate::domain::accounts::Policies;
use crate::domain::audit::EventSink;
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::keys::{self, KeyPolicy, Keys};
use crate::domain::limits::{Budget, Limits, HOUR};
use crate::domain::otp::{OtpKey, OtpPolicy};
use crate::domain::password::PasswordHasher;
use crate::domain::ports::{SmsSender, Store};
use crate::domain::secret::Secret;
use crate::domain::supabase::SupabaseVerifier;
use crate::domain::tokens::TokenSigner;
use crate::domain::Accounts;
use crate::http::{self, AppState};
use crate::metrics::{CountedEvents, CountedSms, Metrics};
use crate::{sms, store};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The part of the shutdown deadline kept for closing the store.
const CLOSE_STORE_WITHIN: Duration = Duration::from_secs(2);

/// The part kept for the runtime to stop (blocking tasks, e.g. a hash).
pub const RUNTIME_STOP_WITHIN: Duration = Duration::from_millis(500);

/// Replacements for the parts tests drive themselves.
#[derive(Default, Clone)]
pub struct Overrides {
    pub clock: Option<Arc<dyn Clock>>,
    pub sms: Option<Arc<dyn SmsSender>>,
    /// Where auth events go instead of the audit trail.
    pub events: Option<Arc<dyn EventSink>>,
    /// How often the signing keys are re-read, instead of every
    /// `keys::RELOAD_EVERY` (tests that count statements make it long).
    pub key_reload_every: Option<Duration>,
}

fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The server's key for codes and counters, generated once and kept in the
/// database so that every instance and the CLI share it.
pub async fn otp_key(store: &dyn Store) -> Result<OtpKey, String> {
    let key = store
        .secret_or_insert("otp_key", &random_secret())
        .await
        .map_err(|e| e.to_string())?;
    Ok(OtpKey::new(key.as_bytes()))
}

/// What signing keys a configuration asks for: a key that stops signing
/// keeps verifying for as long as any token lives (the longest lifetime of
/// any contract, mounted or not: tokens cross contracts) and a margin.
pub fn key_policy(config: &Config) -> KeyPolicy {
    let longest = Contract::ALL
        .into_iter()
        .map(|c| {
            let t = config.ttl(c);
            t.access.max(t.refresh)
        })
        .max()
        .unwrap_or(0);
    KeyPolicy {
        algorithm: config.jwt_algorithm,
        env_secret: config.jwt_secret.as_deref().map(Secret::from),
        previous_secrets: config.jwt_previous_secrets.clone(),
        overlap: longest + keys::OVERLAP_MARGIN,
    }
}

/// The core, built from configuration over an opened store.
pub async fn accounts(
    config: &Config,
    store: Arc<dyn Store>,
    overrides: Overrides,
    metrics: &Arc<Metrics>,
) -> Result<Accounts, String> {
    let clock = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
    // Kept in the database (or ACCOUNTD_JWT_SECRET), so tokens outlive
    // restarts and every instance on one database signs alike.
    let keys = Keys::load(store.as_ref(), key_policy(config), clock.now())
        .await
        .map_err(|e| format!("signing keys: {e}"))?;
    // The startup line (INTERFACE.md, "Observability"): what an operator
    // checks first, with no secret (the URL without its password).
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        database = %crate::config::url_for_log(&config.database_url),
        sms = config.sms.name(),
        signing_key = %keys.describe(),
        "accountd starting"
    );
    if config.sms == crate::config::SmsProvider::Console && overrides.sms.is_none() {
        tracing::warn!(
            "ACCOUNTD_SMS_PROVIDER=console: codes are written to this log, not sent; \
             for development only"
        );
    }
    let otp_key = otp_key(store.as_ref()).await?;
    let sms = match overrides.sms {
        Some(s) => s,
        None => sms::from_config(config)?,
    };
    let sms = Arc::new(CountedSms {
        inner: sms,
        provider: config.sms.name(),
        metrics: metrics.clone(),
    });
    let (workers, queue) = (config.hash_workers, config.hash_queue);
    // `new` waits for the dummy hash: off the runtime.
    let hasher = tokio::task::spawn_blocking(move || PasswordHasher::new(workers, queue))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let events = match overrides.events {
        Some(e) => e,
        None => crate::store::AuditWriter::start(store.clone()),
    };
    let events = Arc::new(CountedEvents {
        inner: events,
        metrics: metrics.clone(),
    });
    let accounts = Accounts::new(
        store,
        sms,
        clock,
        hasher,
        TokenSigner::with_keys(Arc::new(keys), config.jwt_audience.as_deref()),
        otp_key,
        Policies {
            otp: OtpPolicy {
                ttl_seconds: config.otp_ttl_seconds,
                resend_seconds: config.otp_resend_seconds,
                max_attempts: config.otp_max_attempts,
                max_sends_per_hour: config.otp_max_sends_per_hour,
            },
            limits: limits(config),
            refresh_reuse_seconds: config.refresh_reuse_seconds,
        },
    )
    .with_events(events);
    Ok(match &config.supabase_jwt_secret {
        Some(secret) => accounts.with_supabase(SupabaseVerifier::new(secret.expose().as_bytes())),
        None => accounts,
    })
}

/// The abuse limits of a configuration (INTERFACE.md, "Abuse limits").
pub fn limits(config: &Config) -> Limits {
    Limits {
        login_per_name: Budget {
            max: config.login_max_failures_account,
            window: HOUR,
        },
        sms_per_client: Budget::per_hour_or_none(config.sms_max_per_address_per_hour),
        sms_global: Budget::per_hour_or_none(config.sms_max_per_hour),
        sms_countries: config.sms_allowed_countries.clone(),
        guesses_per_client: Budget::per_hour_or_none(config.otp_max_failures_per_address_per_hour),
        ..Limits::new(config.login_max_failures)
    }
}

/// A server ready to run: listener bound, router built.
pub struct App {
    listener: TcpListener,
    admin: Option<TcpListener>,
    state: AppState,
    key_reload_every: Duration,
}

impl App {
    pub async fn build(config: Config, overrides: Overrides) -> Result<App, String> {
        let store = store::open(&config.database_url)
            .await
            .map_err(|e| e.to_string())?;
        let key_reload_every = overrides.key_reload_every.unwrap_or(keys::RELOAD_EVERY);
        let metrics = Arc::new(Metrics::new());
        let accounts = accounts(&config, store, overrides, &metrics).await?;
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let admin =
            match &config.admin_listen {
                Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                    format!("cannot listen on {addr} (ACCOUNTD_ADMIN_LISTEN): {e}")
                })?),
                None => None,
            };
        Ok(App {
            listener,
            admin,
            state: AppState {
                accounts: Arc::new(accounts),
                config: Arc::new(config),
                metrics,
            },
            key_reload_every,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The admin listener's address, unless it is off.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until `shutdown` resolves; requests in flight are drained for
    /// at most `ACCOUNTD_SHUTDOWN_SECONDS`, less the moment kept for closing
    /// the store, so the whole stop fits in that deadline.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let accounts = self.state.accounts.clone();
        let store = accounts.store().clone();
        let events = accounts.events().clone();
        let retention_days = self.state.config.audit_retention_days;
        let pruner = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(600));
            loop {
                every.tick().await;
                match accounts.store().prune(accounts.now()).await {
                    Ok(n) if n > 0 => tracing::info!(removed = n, "pruned expired rows"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "prune failed"),
                }
                let kept_from = accounts.now() - retention_days * 86_400;
                match accounts.store().prune_audit(kept_from).await {
                    Ok(n) if n > 0 => tracing::info!(removed = n, "pruned old audit records"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "audit prune failed"),
                }
            }
        });
        // A rotation made by another instance or the CLI signs here too
        // within this long (a token it signed verifies here at once: `domain/keys/`).
        let reloader = {
            let accounts = self.state.accounts.clone();
            let every = self.key_reload_every;
            tokio::spawn(async move {
                let mut ticks =
                    tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    if let Err(e) = accounts.reload_keys().await {
                        tracing::warn!(error = %e, "signing keys not reloaded");
                    }
                }
            })
        };
        let config = self.state.config.clone();
        let stop_within = Duration::from_secs(config.shutdown_seconds);
        let close_within = CLOSE_STORE_WITHIN.min(stop_within / 4);
        let limits = http::server::Limits {
            header: Duration::from_secs(config.header_timeout_seconds),
            idle: Duration::from_secs(config.idle_timeout_seconds),
            // What is left after closing the store and the runtime (main.rs).
            drain: stop_within
                .saturating_sub(close_within)
                .saturating_sub(RUNTIME_STOP_WITHIN.min(stop_within / 4)),
        };
        // One stop signal for both listeners.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let until = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let admin = self.admin.map(|listener| {
            let router = http::admin_listener::router(self.state.clone());
            tokio::spawn(http::serve(
                listener,
                router,
                limits,
                until(stopped.clone()),
            ))
        });
        let router = http::router(self.state);
        let result = http::serve(self.listener, router, limits, until(stopped)).await;
        if let Some(admin) = admin {
            match admin.await {
                Ok(Err(e)) => tracing::warn!(error = %e, "admin listener failed"),
                Err(e) => tracing::warn!(error = %e, "admin listener stopped"),
                Ok(Ok(())) => {}
            }
        }
        pruner.abort();
        reloader.abort();
        events.flush().await;
        // Checkpoints SQLite's WAL into the file: a copy taken after a clean
        // stop is the whole database. Bounded: a store that hangs must not
        // hold the process past its shutdown deadline.
        if tokio::time::timeout(close_within, store.close())
            .await
            .is_err()
        {
            tracing::warn!("the store did not close in time");
        }
        result
    }
}
