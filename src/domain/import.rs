//! Imports from another system (INTERFACE.md, "Import"; issue 9): what an
//! import writes, and the rules that decide which accountd user each row of
//! the other system becomes, or why it cannot be imported.
//!
//! Reading the other system's database is `crate::import`'s business; it
//! hands over rows already in accountd's terms (`Incoming`). The plan is
//! made against every user accountd has, so that every row that cannot be
//! imported is named at once and nothing is written (all or nothing).
//!
//! Running an import again over the same data changes nothing: a row that
//! was imported before is matched (Django by id, Supabase by its UUID) and
//! written with the same values. A re-import fills and updates, never
//! clears: a field the other system leaves empty keeps accountd's value, a
//! hash accountd made (after a login with the old one) is never replaced by
//! an imported one, and `last_login` only moves forward.

use super::clock::UnixTime;
use super::password::{self, Stored};
use super::phone::Phone;
use super::user::{User, UserId};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// The profile key that keeps a Supabase user's UUID.
pub const SUPABASE_ID: &str = "supabase_id";

/// A user as the other system has it, in accountd's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// How an error names the row, e.g. `user id 5 ("bob")`.
    pub row: String,
    /// Django's id, kept; None: accountd gives one (Supabase).
    pub id: Option<UserId>,
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<Phone>,
    pub first_name: String,
    pub last_name: String,
    pub role: Option<String>,
    pub is_active: bool,
    pub date_joined: UnixTime,
    pub last_login: Option<UnixTime>,
    pub profile: Map<String, Value>,
    /// A hash in a format accountd verifies (see `imported_hash`).
    pub password_hash: Option<String>,
}

/// The hash to keep of a stored one, and the name of its format when it is
/// one accountd does not know: such a user is imported without a password
/// (INTERFACE.md, "Import"), as is one with none or an unusable one.
pub fn imported_hash(stored: Option<&str>) -> (Option<String>, Option<String>) {
    match stored.map(password::classify) {
        Some(Stored::Usable) => (stored.map(str::to_owned), None),
        Some(Stored::Unknown(format)) => (None, Some(format)),
        Some(Stored::NoPassword) | None => (None, None),
    }
}

/// A simplejwt outstanding refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutstandingToken {
    pub jti: String,
    pub user: UserId,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
}

/// A simplejwt blacklist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlacklistEntry {
    pub jti: String,
    pub user: UserId,
    pub expires_at: UnixTime,
    pub blacklisted_at: UnixTime,
}

/// A live Supabase (GoTrue) session and its live refresh tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedSession {
    /// GoTrue's session UUID: the `session_id` of its access tokens.
    pub id: String,
    pub user: UserId,
    /// What GoTrue puts in the user's access tokens as `aud` and `role`.
    pub aud: String,
    pub role: String,
    /// After this, neither its refresh token nor its access tokens work.
    pub expires_at: UnixTime,
    /// Hex SHA-256 of each refresh token string; the tokens are not kept.
    pub token_sha256: Vec<String>,
}

/// An imported session as it stands in accountd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedSessionState {
    pub id: String,
    pub user: UserId,
    pub aud: String,
    pub role: String,
    pub expires_at: UnixTime,
    pub ended_at: Option<UnixTime>,
    /// The accountd session its refresh token became, and when.
    pub session_id: Option<String>,
    pub converted_at: Option<UnixTime>,
}

/// Everything one import writes, in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportWrite {
    /// Written whole under their ids: inserted, or replacing the row.
    pub users: Vec<User>,
    pub refresh_tokens: Vec<OutstandingToken>,
    pub blacklisted: Vec<BlacklistEntry>,
    pub sessions: Vec<ImportedSession>,
}

/// Why rows cannot be imported: one line per bad row, naming it.
pub type BadRows = Vec<String>;

fn new_user(r: &Incoming, id: UserId) -> User {
    User {
        id,
        username: r.username.clone(),
        email: r.email.clone(),
        phone: r.phone.clone(),
        first_name: r.first_name.clone(),
        last_name: r.last_name.clone(),
        role: r.role.clone(),
        is_active: r.is_active,
        otp_enabled: false,
        is_staff: false,
        date_joined: r.date_joined,
        last_login: r.last_login,
        profile: r.profile.clone(),
        password_hash: r.password_hash.clone(),
        tokens_valid_after: None,
    }
}

/// A hash accountd made itself (argon2 PHC, after a login or set by an
/// operator): newer than anything the other system has.
fn made_here(hash: Option<&str>) -> bool {
    hash.is_some_and(|h| h.starts_with("$argon2"))
}

fn later(a: Option<UnixTime>, b: Option<UnixTime>) -> Option<UnixTime> {
    a.max(b)
}

fn merged_profile(old: &Map<String, Value>, new: &Map<String, Value>) -> Map<String, Value> {
    let mut p = old.clone();
    for (k, v) in new {
        p.insert(k.clone(), v.clone());
    }
    p
}

/// Django: each row keeps its id. A row whose id is a user accountd has is
/// the same account if the usernames agree (imported before: updated), and
/// a collision otherwise.
pub fn plan_django(existing: &[User], incoming: &[Incoming]) -> Result<Vec<User>, BadRows> {
    let by_id: HashMap<UserId, &User> = existing.iter().map(|u| (u.id, u)).collect();
    let mut problems: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut planned = Vec::with_capacity(incoming.len());
    for (i, r) in incoming.iter().enumerate() {
        let Some(id) = r.id else {
            problems.entry(i).or_default().push("it has no id".into());
            continue;
        };
        match by_id.get(&id) {
            None => planned.push((i, new_user(r, id))),
            Some(old) if old.username == r.username => {
                let password_hash = if made_here(old.password_hash.as_deref()) {
                    old.password_hash.clone()
                } else {
                    r.password_hash.clone().or(old.password_hash.clone())
                };
                planned.push((
                    i,
                    User {
                        email: r.email.clone().or(old.email.clone()),
                        phone: r.phone.clone().or(old.phone.clone()),
                        role: r.role.clone().or(old.role.clone()),
                        last_login: later(old.last_login, r.last_login),
                        profile: merged_profile(&old.profile, &r.profile),
                        password_hash,
                        otp_enabled: old.otp_enabled,
                        is_staff: old.is_staff,
                        tokens_valid_after: old.tokens_valid_after,
                        ..new_user(r, id)
                    },
                ))
            }
            Some(old) => problems.entry(i).or_default().push(format!(
                "id {} is another user in accountd ({})",
                id.0,
                describe(old)
            )),
        }
    }
    finish(existing, incoming, planned, problems)
}

/// Supabase: each row is matched with a user accountd has by its UUID
/// (imported before), then by phone, then by email, and updated; a row
/// that matches none becomes a new user with the next free id.
pub fn plan_supabase(
    existing: &[User],
    incoming: &[Incoming],
    mut next_id: i64,
) -> Result<Vec<User>, BadRows> {
    let uuid_of = |p: &Map<String, Value>| {
        p.get(SUPABASE_ID)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let mut by_uuid = HashMap::new();
    let mut by_phone = HashMap::new();
    let mut by_email = HashMap::new();
    for u in existing {
        if let Some(uuid) = uuid_of(&u.profile) {
            by_uuid.insert(uuid, u);
        }
        if let Some(p) = &u.phone {
            by_phone.insert(p.as_str().to_owned(), u);
        }
        if let Some(e) = &u.email {
            by_email.insert(e.clone(), u);
        }
    }
    let mut problems: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut planned = Vec::with_capacity(incoming.len());
    let mut claimed: HashMap<UserId, usize> = HashMap::new();
    for (i, r) in incoming.iter().enumerate() {
        let uuid = uuid_of(&r.profile);
        let by_phone = r
            .phone
            .as_ref()
            .and_then(|p| by_phone.get(p.as_str()).copied());
        let by_email = r.email.as_ref().and_then(|e| by_email.get(e).copied());
        let found = match uuid.as_ref().and_then(|u| by_uuid.get(u).copied()) {
            Some(u) => Some(u),
            None => match (by_phone, by_email) {
                (Some(a), Some(b)) if a.id != b.id => {
                    problems.entry(i).or_default().push(format!(
                        "its phone is {} and its email is {} in accountd",
                        describe(a),
                        describe(b)
                    ));
                    continue;
                }
                (a, b) => a.or(b),
            },
        };
        let Some(old) = found else {
            planned.push((i, new_user(r, UserId(next_id))));
            next_id += 1;
            continue;
        };
        if let Some(other) = uuid_of(&old.profile).filter(|o| Some(o) != uuid.as_ref()) {
            problems.entry(i).or_default().push(format!(
                "it matches {}, who was imported from Supabase user {other}",
                describe(old)
            ));
            continue;
        }
        if let Some(first) = claimed.insert(old.id, i) {
            problems.entry(i).or_default().push(format!(
                "it matches {}, as {} does",
                describe(old),
                incoming[first].row
            ));
            continue;
        }
        planned.push((
            i,
            User {
                phone: old.phone.clone().or(r.phone.clone()),
                email: old.email.clone().or(r.email.clone()),
                password_hash: old.password_hash.clone().or(r.password_hash.clone()),
                profile: merged_profile(&old.profile, &r.profile),
                date_joined: old.date_joined.min(r.date_joined),
                last_login: later(old.last_login, r.last_login),
                is_active: old.is_active && r.is_active,
                ..old.clone()
            },
        ));
    }
    finish(existing, incoming, planned, problems)
}

/// A user as an error names it: its id and first name for it.
fn describe(u: &User) -> String {
    let name = u
        .username
        .as_deref()
        .or(u.phone.as_ref().map(Phone::as_str))
        .or(u.email.as_deref());
    match name {
        Some(n) => format!("user {} ({n:?})", u.id.0),
        None => format!("user {}", u.id.0),
    }
}

/// Check that no two users share a username, email or phone once the plan
/// is applied, then hand back the plan, or one line per bad row.
fn finish(
    existing: &[User],
    incoming: &[Incoming],
    planned: Vec<(usize, User)>,
    mut problems: BTreeMap<usize, Vec<String>>,
) -> Result<Vec<User>, BadRows> {
    // The users as they will be: existing ones, replaced by planned ones.
    let mut after: BTreeMap<UserId, (&User, Option<usize>)> =
        existing.iter().map(|u| (u.id, (u, None))).collect();
    for (i, u) in &planned {
        after.insert(u.id, (u, Some(*i)));
    }
    type Field = fn(&User) -> Option<&str>;
    let fields: [(&str, Field); 3] = [
        ("username", |u| u.username.as_deref()),
        ("email", |u| u.email.as_deref()),
        ("phone", |u| u.phone.as_ref().map(Phone::as_str)),
    ];
    for (field, get) in fields {
        let mut holders: HashMap<&str, Vec<(&User, Option<usize>)>> = HashMap::new();
        for (u, row) in after.values() {
            if let Some(v) = get(u) {
                holders.entry(v).or_default().push((u, *row));
            }
        }
        for (value, all) in holders.into_iter().filter(|(_, all)| all.len() > 1) {
            for (u, row) in &all {
                let Some(i) = row else { continue };
                let others: Vec<String> = all
                    .iter()
                    .filter(|(o, _)| o.id != u.id)
                    .map(|(o, orow)| match orow {
                        Some(j) => incoming[*j].row.clone(),
                        None => format!("{} in accountd", describe(o)),
                    })
                    .collect();
                problems.entry(*i).or_default().push(format!(
                    "its {field} {value:?} is also that of {}",
                    others.join(" and ")
                ));
            }
        }
    }
    if problems.is_empty() {
        return Ok(planned.into_iter().map(|(_, u)| u).collect());
    }
    Err(problems
        .into_iter()
        .map(|(i, mut p)| {
            p.sort();
            format!("{}: {}", incoming[i].row, p.join("; "))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming(
        row: &str,
        id: Option<i64>,
        username: Option<&str>,
        email: Option<&str>,
    ) -> Incoming {
        Incoming {
            row: row.into(),
            id: id.map(UserId),
            username: username.map(Into::into),
            email: email.map(Into::into),
            phone: None,
            first_name: String::new(),
            last_name: String::new(),
            role: None,
            is_active: true,
            date_joined: 100,
            last_login: None,
            profile: Map::new(),
            password_hash: None,
        }
    }

    fn user(id: i64, username: Option<&str>, email: Option<&str>) -> User {
        new_user(&incoming("", None, username, email), UserId(id))
    }

    #[test]
    fn django_rows_keep_their_ids_and_a_second_run_writes_the_same_users() {
        let rows = [
            incoming("a", Some(3), Some("ann"), Some("ann@x.org")),
            incoming("b", Some(9), Some("bob"), None),
        ];
        let first = plan_django(&[], &rows).unwrap();
        assert_eq!(first.iter().map(|u| u.id.0).collect::<Vec<_>>(), [3, 9]);
        assert_eq!(plan_django(&first, &rows).unwrap(), first);
    }

    #[test]
    fn a_re_import_keeps_accountds_own_hash_and_the_later_login() {
        let mut row = incoming("a", Some(3), Some("ann"), None);
        row.password_hash = Some("pbkdf2_sha256$1$s$h".into());
        row.last_login = Some(50);
        let mut old = user(3, Some("ann"), Some("kept@x.org"));
        old.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$xx$yy".into());
        old.last_login = Some(70);
        let planned = plan_django(&[old.clone()], &[row]).unwrap();
        assert_eq!(planned[0].password_hash, old.password_hash);
        assert_eq!(planned[0].last_login, Some(70));
        assert_eq!(planned[0].email.as_deref(), Some("kept@x.org"));
    }

    #[test]
    fn django_collisions_name_every_bad_row_once() {
        let existing = [user(1, Some("alice"), None), user(2, Some("carol"), None)];
        let rows = [
            incoming("user id 1 (\"bob\")", Some(1), Some("bob"), None),
            incoming(
                "user id 5 (\"carol\")",
                Some(5),
                Some("carol"),
                Some("d@x.org"),
            ),
            incoming("user id 6 (\"dan\")", Some(6), Some("dan"), Some("d@x.org")),
        ];
        let bad = plan_django(&existing, &rows).unwrap_err();
        assert_eq!(
            bad,
            [
                "user id 1 (\"bob\"): id 1 is another user in accountd (user 1 (\"alice\"))",
                "user id 5 (\"carol\"): its email \"d@x.org\" is also that of user id 6 (\"dan\"); \
                 its username \"carol\" is also that of user 2 (\"carol\") in accountd",
                "user id 6 (\"dan\"): its email \"d@x.org\" is also that of user id 5 (\"carol\")",
            ]
        );
    }

    #[test]
    fn supabase_rows_match_by_uuid_then_phone_then_email_and_new_ones_get_the_next_ids() {
        let phone = Phone::parse("+255712345678").unwrap();
        let mut by_phone = user(4, None, None);
        by_phone.phone = Some(phone.clone());
        let by_email = user(5, None, Some("e@x.org"));
        let mut rows = [
            incoming("u1", None, None, None),
            incoming("u2", None, None, Some("e@x.org")),
            incoming("u3", None, None, None),
        ];
        rows[0].phone = Some(phone);
        rows[0].password_hash = Some("$2a$10$x".into());
        for (i, r) in rows.iter_mut().enumerate() {
            r.profile
                .insert(SUPABASE_ID.into(), format!("uuid-{i}").into());
        }
        let planned = plan_supabase(&[by_phone, by_email], &rows, 7).unwrap();
        assert_eq!(
            planned.iter().map(|u| u.id.0).collect::<Vec<_>>(),
            [4, 5, 7]
        );
        assert_eq!(planned[0].password_hash.as_deref(), Some("$2a$10$x"));
        assert_eq!(planned[0].profile[SUPABASE_ID], "uuid-0");
        // A second run finds each by its UUID and changes nothing.
        let again = plan_supabase(&planned, &rows, 8).unwrap();
        assert_eq!(again, planned);
    }

    #[test]
    fn a_supabase_row_whose_phone_and_email_are_two_users_is_bad() {
        let phone = Phone::parse("+255712345678").unwrap();
        let mut a = user(4, None, None);
        a.phone = Some(phone.clone());
        let b = user(5, None, Some("e@x.org"));
        let mut row = incoming("u1", None, None, Some("e@x.org"));
        row.phone = Some(phone);
        let bad = plan_supabase(&[a, b], &[row], 6).unwrap_err();
        assert_eq!(
            bad,
            ["u1: its phone is user 4 (\"+255712345678\") and its email is user 5 (\"e@x.org\") in accountd"]
        );
    }

    #[test]
    fn unknown_formats_are_dropped_and_named_unusable_ones_dropped_silently() {
        assert_eq!(imported_hash(Some("md5$a$b")), (None, Some("md5".into())));
        assert_eq!(imported_hash(Some("!x")), (None, None));
        assert_eq!(imported_hash(None), (None, None));
        let gotrue = "$2a$10$JMXy91HHKNt5j/DLDr3lGuo3iv8N2yiAH/ntvamgzzHJTu6otKxFq";
        assert_eq!(imported_hash(Some(gotrue)), (Some(gotrue.into()), None));
    }
}
