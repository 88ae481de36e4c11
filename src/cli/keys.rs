//! `accountd keys list` and `accountd keys rotate` (INTERFACE.md, "Signing
//! keys"): the signing keys kept in the database. Key material is never
//! printed.

use crate::app::key_policy;
use crate::config::Config;
use crate::domain::clock::{rfc3339, Clock, SystemClock};
use crate::domain::keys::{self, StoredKey};
use crate::store;
use clap::Subcommand;
use serde_json::{json, Value};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print every signing key (never its material) as a JSON array, newest first.
    List,
    /// Make a new key of ACCOUNTD_JWT_ALGORITHM current; the one before keeps
    /// verifying its tokens until the longest token lifetime has passed.
    Rotate,
}

/// A key as an operator sees it: its state now (a verifying key past its
/// time is retired, recorded yet or not).
fn render(k: &StoredKey, now: i64) -> Value {
    json!({
        "kid": k.kid,
        "algorithm": k.algorithm.as_str(),
        "state": k.state_at(now).as_str(),
        "created_at": rfc3339(k.created_at),
        // A verifying key: when it stops verifying.
        "retire_after": k.retire_after.filter(|_| k.retired_at_as_of(now).is_none()).map(rfc3339),
        "retired_at": k.retired_at_as_of(now).map(rfc3339),
    })
}

pub async fn run(config: &Config, command: KeysCommand) -> Result<Value, String> {
    let store = store::open(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let policy = key_policy(config);
    let now = SystemClock.now();
    let done = match command {
        KeysCommand::List => {
            if policy.env_secret.is_some() {
                eprintln!(
                    "accountd: note: ACCOUNTD_JWT_SECRET is set: tokens are signed with it, not with these keys"
                );
                store.signing_keys(false).await
            } else {
                // What the server would start with: an earlier version's
                // generated secret is shown as the key it becomes.
                match keys::ensure_current(store.as_ref(), &policy, now).await {
                    Ok(_) => store.signing_keys(false).await,
                    Err(e) => Err(e),
                }
            }
            .map(|all| Value::Array(all.iter().map(|k| render(k, now)).collect()))
        }
        KeysCommand::Rotate => keys::rotate(store.as_ref(), &policy, now).await.map(
            |r| json!({"current": render(&r.current, now), "previous": render(&r.previous, now)}),
        ),
    };
    store.close().await;
    done.map_err(|e| match e {
        crate::domain::Error::Conflict(text) | crate::domain::Error::Invalid(text) => text,
        other => other.to_string(),
    })
}
