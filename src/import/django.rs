//! `accountd import django --from URL [--user-table T] [--phone-column C]
//! [--role-column C] [--dry-run]` (INTERFACE.md, "Import").
//!
//! The user table is read whatever its columns (a custom user model's
//! table has its own): AbstractUser's columns map to accountd's fields,
//! `--phone-column` and `--role-column` to the phone and role, and every
//! other column but `password`, `is_staff` and `is_superuser` goes into the
//! profile under its name. djangorestframework-simplejwt's `token_blacklist`
//! tables, when there, bring the live refresh tokens and blacklist entries:
//! with `ACCOUNTD_JWT_SECRET` = Django's `SIGNING_KEY`, a refresh token Django
//! issued keeps working and a blacklisted one stays refused.

use super::source::{quote, Column, Rows, Source, TableName};
use super::values::{self, Instant};
use super::{DjangoSummary, Failure, Mapped, UnknownHash};
use crate::domain::clock::UnixTime;
use crate::domain::import::{self, BlacklistEntry, ImportWrite, Incoming, OutstandingToken};
use crate::domain::origin::Origin;
use crate::domain::phone::Phone;
use crate::domain::ports::Store;
use crate::domain::user::UserId;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// What the command line gave.
#[derive(Debug, Clone)]
pub struct Options {
    pub from: String,
    pub user_table: String,
    pub phone_column: Option<String>,
    pub role_column: Option<String>,
    pub dry_run: bool,
}

/// AbstractUser's columns that become accountd's own fields.
const FIELDS: [&str; 9] = [
    "id",
    "password",
    "username",
    "email",
    "first_name",
    "last_name",
    "is_active",
    "date_joined",
    "last_login",
];
/// Columns that go nowhere: Django's admin flags (accountd's admin is its own).
const DROPPED: [&str; 2] = ["is_staff", "is_superuser"];

const OUTSTANDING: &str = "token_blacklist_outstandingtoken";
const BLACKLISTED: &str = "token_blacklist_blacklistedtoken";

/// What the Django database holds that an import reads.
struct Read {
    columns: Vec<Column>,
    users: Rows,
    /// jti, user_id, expires_at, created_at; None without simplejwt's tables.
    outstanding: Option<Rows>,
    /// jti, user_id, expires_at, blacklisted_at.
    blacklisted: Option<Rows>,
}

/// Import (or, with `dry_run`, only check) the Django database `o.from`
/// into `store`, at `now`.
pub async fn run(
    store: &dyn Store,
    o: &Options,
    now: UnixTime,
    origin: &Origin,
) -> Result<DjangoSummary, Failure> {
    let table = TableName::parse(&o.user_table);
    let read = read(&o.from, &table, o).await?;
    let mut mapped = map_users(&read, o, now);
    let existing = store.list_users().await?;
    let users = match import::plan_django(&existing, &mapped.incoming) {
        Ok(users) if mapped.bad.is_empty() => users,
        Ok(_) => return Err(Failure::Rows(mapped.bad)),
        Err(mut bad) => {
            mapped.bad.append(&mut bad);
            return Err(Failure::Rows(mapped.bad));
        }
    };
    // Tokens of users this import has (simplejwt keeps those of deleted
    // users with no user), and only live ones: an expired token can do
    // nothing, at Django or here.
    let known: HashSet<UserId> = users.iter().map(|u| u.id).collect();
    let refresh_tokens = tokens(
        read.outstanding.as_deref(),
        &known,
        now,
        |jti, user, exp, at| OutstandingToken {
            jti,
            user,
            issued_at: at.unwrap_or(now),
            expires_at: exp,
        },
    );
    let blacklisted = tokens(
        read.blacklisted.as_deref(),
        &known,
        now,
        |jti, user, exp, at| BlacklistEntry {
            jti,
            user,
            expires_at: exp,
            blacklisted_at: at.unwrap_or(now),
        },
    );
    let summary = DjangoSummary {
        users: mapped.incoming.len(),
        outstanding_tokens: refresh_tokens.len(),
        blacklisted_tokens: blacklisted.len(),
        without_password: mapped.without_password(),
        unknown_hash_formats: mapped.unknown,
    };
    if !o.dry_run {
        store
            .import(&ImportWrite {
                users,
                refresh_tokens,
                blacklisted,
                sessions: Vec::new(),
            })
            .await?;
        let counts = [
            ("users", summary.users),
            ("outstanding_tokens", summary.outstanding_tokens),
            ("blacklisted_tokens", summary.blacklisted_tokens),
            ("without_password", summary.without_password),
        ];
        super::audit(store, now, origin, "django", &counts).await;
    }
    Ok(summary)
}

async fn read(url: &str, table: &TableName, o: &Options) -> Result<Read, Failure> {
    let mut source = Source::open(url).await?;
    let columns = source.columns(table).await?.ok_or_else(|| {
        Failure::Source(format!(
            "the Django database has no table {table} (a custom user model's table: give --user-table)"
        ))
    })?;
    for (flag, name) in [
        ("--phone-column", &o.phone_column),
        ("--role-column", &o.role_column),
    ] {
        if let Some(name) = name {
            if !columns.iter().any(|c| &c.name == name) {
                return Err(Failure::Source(format!(
                    "{flag}: table {table} has no column {name:?}"
                )));
            }
        }
    }
    if !columns.iter().any(|c| c.name == "id") || !columns.iter().any(|c| c.name == "password") {
        return Err(Failure::Source(format!(
            "table {table} has no id or no password column: is it a Django user table?"
        )));
    }
    let select: Vec<String> = columns.iter().map(|c| source.text_of(c)).collect();
    let users = source
        .rows(format!(
            "SELECT {} FROM {} ORDER BY {}",
            select.join(", "),
            table.sql(),
            quote("id")
        ))
        .await?;
    let outstanding = table.sibling(OUTSTANDING);
    let blacklisted = table.sibling(BLACKLISTED);
    let has_tokens = source.columns(&outstanding).await?.is_some();
    let has_blacklist = has_tokens && source.columns(&blacklisted).await?.is_some();
    // Instants as `text_of` reads them, per database.
    let time = |c: &str| {
        if source.is_sqlite() {
            c.to_owned()
        } else {
            format!("(EXTRACT(EPOCH FROM {c}))::text")
        }
    };
    let id = |c: &str| {
        if source.is_sqlite() {
            c.to_owned()
        } else {
            format!("({c})::text")
        }
    };
    let outstanding_sql = format!(
        "SELECT o.jti, {}, {}, {} FROM {} o",
        id("o.user_id"),
        time("o.expires_at"),
        time("o.created_at"),
        outstanding.sql()
    );
    let blacklisted_sql = format!(
        "SELECT o.jti, {}, {}, {} FROM {} b JOIN {} o ON o.id = b.token_id",
        id("o.user_id"),
        time("o.expires_at"),
        time("b.blacklisted_at"),
        blacklisted.sql(),
        outstanding.sql()
    );
    let outstanding = match has_tokens {
        true => Some(source.rows(outstanding_sql).await?),
        false => None,
    };
    let blacklisted = match has_blacklist {
        true => Some(source.rows(blacklisted_sql).await?),
        false => None,
    };
    Ok(Read {
        columns,
        users,
        outstanding,
        blacklisted,
    })
}

/// Token rows (jti, user id, expiry, another instant) of known users that
/// have not expired, as `make` builds them from (jti, user, expiry, instant).
/// simplejwt's `expires_at` is the token's `exp` claim.
fn tokens<T>(
    rows: Option<&[Vec<Option<String>>]>,
    known: &HashSet<UserId>,
    now: UnixTime,
    make: impl Fn(String, UserId, UnixTime, Option<UnixTime>) -> T,
) -> Vec<T> {
    let at = |c: &Option<String>| c.as_deref().and_then(values::instant).map(|i| i.seconds);
    rows.unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let jti = r.first()?.clone()?;
            let user = UserId(r.get(1)?.as_deref()?.trim().parse().ok()?);
            let expires = at(r.get(2)?)?;
            let other = at(r.get(3)?);
            (known.contains(&user) && expires > now).then(|| make(jti, user, expires, other))
        })
        .collect()
}

/// A cell of a row by column name.
struct RowView<'a> {
    columns: &'a [Column],
    cells: &'a [Option<String>],
}

impl RowView<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        let i = self.columns.iter().position(|c| c.name == name)?;
        self.cells.get(i)?.as_deref()
    }
}

fn map_users(read: &Read, o: &Options, now: UnixTime) -> Mapped {
    // Each decimal column's places, from all of its values (see values.rs).
    let scales: Vec<usize> = (0..read.columns.len())
        .map(|i| {
            values::decimal_scale(
                read.users
                    .iter()
                    .filter_map(|r| r.get(i).and_then(|c| c.as_deref())),
            )
        })
        .collect();
    let mut mapped = Mapped {
        incoming: Vec::with_capacity(read.users.len()),
        bad: Vec::new(),
        unknown: Vec::new(),
    };
    for cells in &read.users {
        let row = RowView {
            columns: &read.columns,
            cells,
        };
        match map_user(&row, &scales, o, now) {
            Ok((incoming, unknown)) => {
                if let Some(format) = unknown {
                    mapped.unknown.push(UnknownHash {
                        source_id: incoming.id.map_or(Value::Null, |id| id.0.into()),
                        format,
                    });
                }
                mapped.incoming.push(incoming);
            }
            Err(line) => mapped.bad.push(line),
        }
    }
    mapped
}

/// One user row in accountd's terms, and the name of its hash's format
/// when accountd does not know it; or the line that names the bad row.
fn map_user(
    row: &RowView<'_>,
    scales: &[usize],
    o: &Options,
    now: UnixTime,
) -> Result<(Incoming, Option<String>), String> {
    let text = |name: &str| row.get(name).map(str::to_owned);
    // Django's `email = ''` (and any blank in a unique column) is no value.
    let non_blank = |name: &str| text(name).filter(|v| !v.trim().is_empty());
    let id_text = row.get("id").unwrap_or_default();
    let label = match row.get("username") {
        Some(u) => format!("user id {id_text} ({u:?})"),
        None => format!("user id {id_text}"),
    };
    let bad = |why: String| format!("{label}: {why}");
    let id: i64 = id_text
        .trim()
        .parse()
        .map_err(|_| bad("its id is not an integer".into()))?;
    let instant = |name: &str| -> Result<Option<Instant>, String> {
        match row.get(name) {
            None => Ok(None),
            Some(t) => values::instant(t)
                .map(Some)
                .ok_or_else(|| bad(format!("its {name} {t:?} is not a date and time"))),
        }
    };
    let phone = match o.phone_column.as_deref().and_then(|c| row.get(c)) {
        None => None,
        Some(raw) => e164(raw).map_err(bad)?,
    };
    let role = o
        .role_column
        .as_deref()
        .and_then(|c| row.get(c))
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    let (password_hash, unknown) = import::imported_hash(row.get("password"));
    let mut profile = Map::new();
    for (i, column) in row.columns.iter().enumerate() {
        let name = column.name.as_str();
        let mapped = FIELDS.contains(&name)
            || DROPPED.contains(&name)
            || Some(name) == o.phone_column.as_deref()
            || Some(name) == o.role_column.as_deref();
        if mapped {
            continue;
        }
        // NULL columns are left out: every contract shows an absent
        // attribute as null anyway.
        if let Some(t) = row.cells.get(i).and_then(|c| c.as_deref()) {
            let scale = scales.get(i).copied().unwrap_or(0);
            profile.insert(name.to_owned(), values::profile_value(column, t, scale));
        }
    }
    let is_active = match row.get("is_active") {
        None => true,
        Some(t) => values::boolean(t)
            .ok_or_else(|| bad(format!("its is_active {t:?} is not a boolean")))?,
    };
    let incoming = Incoming {
        row: label.clone(),
        id: Some(UserId(id)),
        username: non_blank("username"),
        email: non_blank("email").map(|e| e.trim().to_owned()),
        phone,
        first_name: text("first_name").unwrap_or_default(),
        last_name: text("last_name").unwrap_or_default(),
        role,
        is_active,
        date_joined: instant("date_joined")?.map_or(now, |i| i.seconds),
        last_login: instant("last_login")?.map(|i| i.seconds),
        profile,
        password_hash,
    };
    Ok((incoming, unknown))
}

/// A phone as E.164: spaces, dashes, dots and brackets are dropped; it must
/// then be `+`, a country code and the number. A number written without its
/// country code cannot be told (INTERFACE.md: stored as E.164).
fn e164(raw: &str) -> Result<Option<Phone>, String> {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    if compact.is_empty() {
        return Ok(None);
    }
    Phone::parse(&compact).map(Some).map_err(|_| {
        format!("its phone {raw:?} is not in E.164 format (+, country code and number)")
    })
}

#[cfg(test)]
mod tests {
    use super::super::source::Kind;
    use super::*;

    #[test]
    fn phones_lose_their_separators_but_must_carry_a_country_code() {
        assert_eq!(
            e164("+1 (202) 555-0101").unwrap().unwrap().as_str(),
            "+12025550101"
        );
        assert_eq!(e164("  ").unwrap(), None);
        assert!(e164("0712 345 678").unwrap_err().contains("E.164"));
    }

    #[test]
    fn a_user_row_maps_its_fields_and_keeps_the_rest_in_the_profile() {
        let columns: Vec<Column> = [
            ("id", Kind::Int),
            ("password", Kind::Text),
            ("last_login", Kind::Instant),
            ("is_superuser", Kind::Bool),
            ("username", Kind::Text),
            ("email", Kind::Text),
            ("is_active", Kind::Bool),
            ("date_joined", Kind::Instant),
            ("phone_number", Kind::Text),
            ("user_type", Kind::Text),
            ("date_of_birth", Kind::Date),
            ("gpa", Kind::Decimal),
            ("nickname", Kind::Text),
        ]
        .into_iter()
        .map(|(name, kind)| Column {
            name: name.into(),
            kind,
        })
        .collect();
        let cells: Vec<Option<String>> = [
            Some("7"),
            Some("md5$salt$hash"),
            None,
            Some("1"),
            Some("ann"),
            Some(""),
            Some("0"),
            Some("2026-11-30 00:22:01.756670"),
            Some("+12025550101"),
            Some("student"),
            Some("2000-01-15"),
            Some("4"),
            None,
        ]
        .into_iter()
        .map(|c| c.map(str::to_owned))
        .collect();
        let o = Options {
            from: String::new(),
            user_table: "accounts_user".into(),
            phone_column: Some("phone_number".into()),
            role_column: Some("user_type".into()),
            dry_run: false,
        };
        let row = RowView {
            columns: &columns,
            cells: &cells,
        };
        let scales = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0];
        let (u, unknown) = map_user(&row, &scales, &o, 5).unwrap();
        assert_eq!(unknown.as_deref(), Some("md5"));
        assert_eq!(u.id, Some(UserId(7)));
        assert_eq!(u.row, "user id 7 (\"ann\")");
        assert_eq!(
            (u.username.as_deref(), u.email.as_deref()),
            (Some("ann"), None)
        );
        assert_eq!(u.phone.as_ref().map(Phone::as_str), Some("+12025550101"));
        assert_eq!(u.role.as_deref(), Some("student"));
        assert!(!u.is_active);
        assert_eq!((u.date_joined, u.last_login), (1_795_998_121, None));
        assert_eq!(u.password_hash, None);
        assert_eq!(
            Value::Object(u.profile),
            serde_json::json!({"date_of_birth": "2000-01-15", "gpa": "4.00"})
        );
    }
}
