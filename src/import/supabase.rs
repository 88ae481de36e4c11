//! `accountd import supabase --from postgres://… [--schema auth] [--dry-run]`
//! (INTERFACE.md, "Import").
//!
//! Reads GoTrue's tables as its migrations (github.com/supabase/auth,
//! `migrations/`) make them: `users` (id uuid, aud, role, email,
//! encrypted_password, phone without `+`, raw_user_meta_data, created_at,
//! last_sign_in_at, banned_until, deleted_at), `sessions` (id, user_id,
//! not_after) and `refresh_tokens` (token, session_id, revoked). Columns added
//! by later migrations (banned_until, deleted_at, not_after, session_id) may
//! be missing in an older database and are then taken as empty.
//!
//! A GoTrue session is live when it has a refresh token that is not revoked
//! and its `not_after` (a time-box) has not passed; GoTrue's other session
//! limits are configuration, not data, and cannot be read. Sessions whose
//! refresh tokens GoTrue signs itself (`refresh_token_hmac_key`, an opt-in of
//! recent versions) keep no token rows and so are not brought along.

use super::source::{quote, Rows, Source, TableName};
use super::values;
use super::{Failure, Mapped, SupabaseSummary, UnknownHash};
use crate::domain::clock::UnixTime;
use crate::domain::import::{self, ImportWrite, ImportedSession, Incoming, SUPABASE_ID};
use crate::domain::origin::Origin;
use crate::domain::phone::Phone;
use crate::domain::ports::Store;
use crate::domain::supabase::token_sha256;
use crate::domain::user::UserId;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// What the command line gave.
#[derive(Debug, Clone)]
pub struct Options {
    pub from: String,
    pub schema: String,
    pub dry_run: bool,
    /// How long an imported session may wait for its refresh token to be
    /// used (delivery's refresh lifetime): GoTrue's refresh tokens do not
    /// expire by themselves.
    pub session_seconds: i64,
}

/// What GoTrue puts in access tokens when a user row has none.
const AUTHENTICATED: &str = "authenticated";

/// What GoTrue's database holds that an import reads.
struct Read {
    /// id, aud, role, email, encrypted_password, phone, raw_user_meta_data,
    /// created_at, last_sign_in_at, banned_until, deleted_at.
    users: Rows,
    /// session id, user id, not_after, token.
    tokens: Rows,
}

/// A source user's facts that its sessions need.
struct Facts {
    aud: String,
    role: String,
    active: bool,
}

pub async fn run(
    store: &dyn Store,
    o: &Options,
    now: UnixTime,
    origin: &Origin,
) -> Result<SupabaseSummary, Failure> {
    if !(o.from.starts_with("postgres:") || o.from.starts_with("postgresql:")) {
        return Err(Failure::Source(
            "--from: Supabase's database is PostgreSQL: give postgres://…".into(),
        ));
    }
    let read = read(o).await?;
    let (mapped, facts) = map_users(&read.users, now);
    let existing = store.list_users().await?;
    let next_id = store.next_user_id().await?;
    let users = match import::plan_supabase(&existing, &mapped.incoming, next_id) {
        Ok(users) if mapped.bad.is_empty() => users,
        Ok(_) => return Err(Failure::Rows(mapped.bad)),
        Err(bad) => return Err(Failure::Rows([mapped.bad, bad].concat())),
    };
    let ids: HashMap<&str, UserId> = users
        .iter()
        .filter_map(|u| Some((u.profile.get(SUPABASE_ID)?.as_str()?, u.id)))
        .collect();
    let sessions = sessions(&read.tokens, &ids, &facts, now, o.session_seconds);
    let summary = SupabaseSummary {
        users: mapped.incoming.len(),
        sessions: sessions.len(),
        without_password: mapped.without_password(),
        unknown_hash_formats: mapped.unknown,
    };
    if !o.dry_run {
        store
            .import(&ImportWrite {
                users,
                refresh_tokens: Vec::new(),
                blacklisted: Vec::new(),
                sessions,
            })
            .await?;
        let counts = [
            ("users", summary.users),
            ("sessions", summary.sessions),
            ("without_password", summary.without_password),
        ];
        super::audit(store, now, origin, "supabase", &counts).await;
    }
    Ok(summary)
}

async fn read(o: &Options) -> Result<Read, Failure> {
    let mut source = Source::open(&o.from).await?;
    let table = |name: &str| TableName {
        schema: Some(o.schema.clone()),
        name: name.to_owned(),
    };
    let users_table = table("users");
    let columns = source.columns(&users_table).await?.ok_or_else(|| {
        Failure::Source(format!(
            "the database has no table {users_table}: is it Supabase's, and is its auth schema {:?}? (--schema)",
            o.schema
        ))
    })?;
    let has = |cs: &[super::source::Column], name: &str| cs.iter().any(|c| c.name == name);
    for required in ["id", "email", "encrypted_password", "phone"] {
        if !has(&columns, required) {
            return Err(Failure::Source(format!(
                "table {users_table} has no column {required}: is it GoTrue's?"
            )));
        }
    }
    // Text of a column the database may lack (added by a later migration).
    let maybe = |cs: &[super::source::Column], expr: String, name: &str| {
        if has(cs, name) {
            expr
        } else {
            "NULL::text".to_owned()
        }
    };
    let epoch = |c: &str| format!("(EXTRACT(EPOCH FROM {}))::text", quote(c));
    let users = source
        .rows(format!(
            "SELECT id::text, {}, {}, email::text, encrypted_password::text, phone::text, {},
                 {}, {}, {}, {}
             FROM {} ORDER BY created_at NULLS FIRST, id",
            maybe(&columns, "aud::text".into(), "aud"),
            maybe(&columns, "role::text".into(), "role"),
            maybe(
                &columns,
                "raw_user_meta_data::text".into(),
                "raw_user_meta_data"
            ),
            maybe(&columns, epoch("created_at"), "created_at"),
            maybe(&columns, epoch("last_sign_in_at"), "last_sign_in_at"),
            maybe(&columns, epoch("banned_until"), "banned_until"),
            maybe(&columns, epoch("deleted_at"), "deleted_at"),
            users_table.sql(),
        ))
        .await?;
    let (sessions_table, tokens_table) = (table("sessions"), table("refresh_tokens"));
    let session_columns = source.columns(&sessions_table).await?;
    let token_columns = source.columns(&tokens_table).await?;
    let tokens = match (session_columns, token_columns) {
        (Some(s), Some(t)) if has(&t, "session_id") && has(&t, "token") => {
            source
                .rows(format!(
                    "SELECT s.id::text, s.user_id::text, {}, r.token::text
                     FROM {} r JOIN {} s ON s.id = r.session_id
                     WHERE r.revoked IS NOT TRUE AND r.token IS NOT NULL AND r.token <> ''",
                    maybe(
                        &s,
                        "(EXTRACT(EPOCH FROM s.not_after))::text".into(),
                        "not_after"
                    ),
                    tokens_table.sql(),
                    sessions_table.sql(),
                ))
                .await?
        }
        // A GoTrue from before sessions (2022): no session for an access
        // token to name, nothing to bring along.
        _ => Vec::new(),
    };
    Ok(Read { users, tokens })
}

fn map_users(rows: &Rows, now: UnixTime) -> (Mapped, HashMap<String, Facts>) {
    let mut mapped = Mapped {
        incoming: Vec::with_capacity(rows.len()),
        bad: Vec::new(),
        unknown: Vec::new(),
    };
    let mut facts = HashMap::new();
    for r in rows {
        let cell = |i: usize| r.get(i).and_then(|c| c.as_deref());
        let Some(uuid) = cell(0) else { continue };
        let label = format!("user {uuid}");
        let at = |i: usize| cell(i).and_then(values::instant).map(|t| t.seconds);
        // GoTrue's soft delete replaces email and phone by hashes of
        // themselves: not the user's any more.
        let deleted = cell(10).is_some();
        let banned = at(9).is_some_and(|until| until > now);
        let non_blank = |i: usize| cell(i).map(str::trim).filter(|v| !v.is_empty());
        let phone = match non_blank(5).filter(|_| !deleted) {
            None => None,
            Some(raw) => match Phone::parse(&format!("+{}", raw.trim_start_matches('+'))) {
                Ok(p) => Some(p),
                Err(_) => {
                    mapped.bad.push(format!(
                        "{label}: its phone {raw:?} is not a number with its country code"
                    ));
                    continue;
                }
            },
        };
        let mut profile = match cell(6).map(serde_json::from_str::<Value>) {
            Some(Ok(Value::Object(m))) => m,
            _ => Map::new(),
        };
        profile.insert(SUPABASE_ID.into(), uuid.into());
        let (password_hash, unknown) = import::imported_hash(cell(4));
        if let Some(format) = unknown {
            mapped.unknown.push(UnknownHash {
                source_id: uuid.into(),
                format,
            });
        }
        let active = !(deleted || banned);
        facts.insert(
            uuid.to_owned(),
            Facts {
                aud: non_blank(1).unwrap_or(AUTHENTICATED).to_owned(),
                role: non_blank(2).unwrap_or(AUTHENTICATED).to_owned(),
                active,
            },
        );
        mapped.incoming.push(Incoming {
            row: label,
            id: None,
            username: None,
            email: non_blank(3).filter(|_| !deleted).map(str::to_owned),
            phone,
            first_name: String::new(),
            last_name: String::new(),
            role: None,
            is_active: active,
            date_joined: at(7).unwrap_or(now),
            last_login: at(8),
            profile,
            password_hash,
        });
    }
    (mapped, facts)
}

/// The live sessions of active imported users, with their tokens' hashes.
fn sessions(
    tokens: &Rows,
    ids: &HashMap<&str, UserId>,
    facts: &HashMap<String, Facts>,
    now: UnixTime,
    session_seconds: i64,
) -> Vec<ImportedSession> {
    let mut by_id: BTreeMap<String, ImportedSession> = BTreeMap::new();
    for r in tokens {
        let cell = |i: usize| r.get(i).and_then(|c| c.as_deref());
        let (Some(sid), Some(uuid), Some(token)) = (cell(0), cell(1), cell(3)) else {
            continue;
        };
        let (Some(&user), Some(f)) = (ids.get(uuid), facts.get(uuid)) else {
            continue;
        };
        let not_after = cell(2).and_then(values::instant).map(|t| t.seconds);
        let expires_at = match not_after {
            Some(t) => t.min(now + session_seconds),
            None => now + session_seconds,
        };
        if !f.active || expires_at <= now {
            continue;
        }
        by_id
            .entry(sid.to_owned())
            .or_insert_with(|| ImportedSession {
                id: sid.to_owned(),
                user,
                aud: f.aud.clone(),
                role: f.role.clone(),
                expires_at,
                token_sha256: Vec::new(),
            })
            .token_sha256
            .push(token_sha256(token));
    }
    by_id.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[Option<&str>]) -> Vec<Option<String>> {
        cells.iter().map(|c| c.map(str::to_owned)).collect()
    }

    #[test]
    fn gotrue_users_become_accountd_users_with_their_uuid_in_the_profile() {
        let rows = vec![
            row(&[
                Some("u-1"),
                Some("authenticated"),
                Some("authenticated"),
                Some(""),
                Some("$2a$10$JMXy91HHKNt5j/DLDr3lGuo3iv8N2yiAH/ntvamgzzHJTu6otKxFq"),
                Some("255712345678"),
                Some(r#"{"shop": "Mama Pima"}"#),
                Some("1700000000.5"),
                None,
                Some("1600000000"),
                None,
            ]),
            // Banned until later, and a hash of a format accountd does not know.
            row(&[
                Some("u-2"),
                None,
                None,
                Some("b@x.org"),
                Some("$fbscrypt$v=1$x$y"),
                None,
                None,
                None,
                Some("1700000100"),
                Some("9999999999"),
                None,
            ]),
            // Deleted: GoTrue replaced email and phone by hashes.
            row(&[
                Some("u-3"),
                None,
                None,
                Some("aGFzaA@x"),
                None,
                Some("aGFzaGhhc2hoYXN"),
                Some("{}"),
                None,
                None,
                None,
                Some("1700000200"),
            ]),
            row(&[
                Some("u-4"),
                None,
                None,
                None,
                None,
                Some("12ab"),
                None,
                None,
                None,
                None,
                None,
            ]),
        ];
        let (mapped, facts) = map_users(&rows, 1_800_000_000);
        assert_eq!(
            mapped.bad,
            ["user u-4: its phone \"12ab\" is not a number with its country code"]
        );
        assert_eq!(
            mapped.unknown,
            [UnknownHash {
                source_id: "u-2".into(),
                format: "fbscrypt".into()
            }]
        );
        let [a, b, c] = &mapped.incoming[..] else {
            panic!("{:?}", mapped.incoming)
        };
        assert_eq!(a.phone.as_ref().map(Phone::as_str), Some("+255712345678"));
        assert_eq!(a.email, None);
        assert!(a.password_hash.is_some() && a.is_active);
        assert_eq!(
            Value::Object(a.profile.clone()),
            serde_json::json!({"shop": "Mama Pima", "supabase_id": "u-1"})
        );
        assert_eq!((a.date_joined, a.last_login), (1_700_000_000, None));
        assert!(!b.is_active && b.password_hash.is_none());
        assert_eq!(b.email.as_deref(), Some("b@x.org"));
        assert_eq!((c.email.as_deref(), c.phone.as_ref()), (None, None));
        assert!(!c.is_active);
        assert_eq!(facts["u-2"].aud, "authenticated");
        assert_eq!(mapped.without_password(), 2);
    }

    #[test]
    fn live_sessions_are_grouped_bounded_and_kept_as_hashes() {
        let ids: HashMap<&str, UserId> = [("u-1", UserId(4)), ("u-2", UserId(5))].into();
        let facts: HashMap<String, Facts> = [
            (
                "u-1".to_owned(),
                Facts {
                    aud: "authenticated".into(),
                    role: "authenticated".into(),
                    active: true,
                },
            ),
            (
                "u-2".to_owned(),
                Facts {
                    aud: "authenticated".into(),
                    role: "authenticated".into(),
                    active: false,
                },
            ),
        ]
        .into();
        let tokens = vec![
            row(&[Some("s-1"), Some("u-1"), None, Some("aaaaaaaaaaaa")]),
            row(&[Some("s-1"), Some("u-1"), None, Some("bbbbbbbbbbbb")]),
            row(&[
                Some("s-2"),
                Some("u-1"),
                Some("1000050"),
                Some("cccccccccccc"),
            ]),
            row(&[Some("s-3"), Some("u-1"), Some("999"), Some("dddddddddddd")]),
            row(&[Some("s-4"), Some("u-2"), None, Some("eeeeeeeeeeee")]),
            row(&[Some("s-5"), Some("u-9"), None, Some("ffffffffffff")]),
        ];
        let got = sessions(&tokens, &ids, &facts, 1_000_000, 100);
        assert_eq!(
            got.iter()
                .map(|s| (s.id.as_str(), s.expires_at))
                .collect::<Vec<_>>(),
            [("s-1", 1_000_100), ("s-2", 1_000_050)]
        );
        assert_eq!(
            got[0].token_sha256,
            [token_sha256("aaaaaaaaaaaa"), token_sha256("bbbbbbbbbbbb")]
        );
        assert_eq!(got[0].user, UserId(4));
    }
}
