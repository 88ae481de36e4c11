//! The other system's database, read only: a Django SQLite file (through
//! rusqlite, opened read-only) or a PostgreSQL database (sqlx), inside one
//! read-only transaction so that users and tokens are read at one instant.
//!
//! Every value is read as text (or NULL) with the column's kind beside it;
//! `values.rs` says what the text means. Statements that differ between the
//! two databases are written by the callers, per backend.

use super::Failure;
use crate::config::url_for_log;
use sqlx::{Connection, PgConnection, Row};
use std::path::PathBuf;

/// What a column holds, from its declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int,
    Float,
    Decimal,
    Date,
    /// A date and time (read as UTC).
    Instant,
    Json,
    Text,
}

impl Kind {
    /// SQLite's declared types, as Django's SQLite backend writes them
    /// (`bool`, `datetime`, `date`, `decimal`, `real`, `integer`, `varchar(150)`, …).
    fn of_sqlite(declared: &str) -> Kind {
        let t = declared.to_ascii_lowercase();
        if t == "bool" || t == "boolean" {
            Kind::Bool
        } else if t.starts_with("datetime") || t.starts_with("timestamp") {
            Kind::Instant
        } else if t == "date" {
            Kind::Date
        } else if t.starts_with("decimal") || t.starts_with("numeric") {
            Kind::Decimal
        } else if t.starts_with("real") || t.starts_with("double") || t.starts_with("float") {
            Kind::Float
        } else if t.contains("int") {
            Kind::Int
        } else {
            Kind::Text
        }
    }

    /// PostgreSQL's `information_schema.columns.data_type`.
    fn of_postgres(data_type: &str) -> Kind {
        match data_type {
            "boolean" => Kind::Bool,
            "smallint" | "integer" | "bigint" => Kind::Int,
            "real" | "double precision" => Kind::Float,
            "numeric" => Kind::Decimal,
            "date" => Kind::Date,
            t if t.starts_with("timestamp") => Kind::Instant,
            "json" | "jsonb" => Kind::Json,
            _ => Kind::Text,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
}

/// Rows of text cells.
pub type Rows = Vec<Vec<Option<String>>>;

/// A table, `schema.table` or `table` (PostgreSQL: the current schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    pub schema: Option<String>,
    pub name: String,
}

impl TableName {
    pub fn parse(s: &str) -> TableName {
        match s.split_once('.') {
            Some((schema, name)) => TableName {
                schema: Some(schema.to_owned()),
                name: name.to_owned(),
            },
            None => TableName {
                schema: None,
                name: s.to_owned(),
            },
        }
    }

    /// Another table beside this one (same schema).
    pub fn sibling(&self, name: &str) -> TableName {
        TableName {
            schema: self.schema.clone(),
            name: name.to_owned(),
        }
    }

    /// Quoted for SQL.
    pub fn sql(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote(s), quote(&self.name)),
            None => quote(&self.name),
        }
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// An identifier quoted for either database.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

pub enum Source {
    Sqlite(Option<rusqlite::Connection>),
    Postgres(PgConnection),
}

fn unreadable(url: &str, e: impl std::fmt::Display) -> Failure {
    Failure::Source(format!(
        "cannot read the source database {}: {e}",
        url_for_log(url)
    ))
}

impl Source {
    /// Open `url` read-only and start one read-only transaction.
    pub async fn open(url: &str) -> Result<Source, Failure> {
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = PathBuf::from(rest.split('?').next().unwrap_or_default());
            let shown = url.to_owned();
            let conn = tokio::task::spawn_blocking(move || {
                // Read-only and never created: a wrong path is an error, not
                // an empty database.
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = rusqlite::Connection::open_with_flags(&path, flags)?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                // A deferred transaction: its snapshot is taken at the first read.
                conn.execute_batch("BEGIN")?;
                // Opening is lazy: read once, so a file that is not a
                // database fails here.
                conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
                    r.get::<_, i64>(0)
                })?;
                Ok::<_, rusqlite::Error>(conn)
            })
            .await
            .map_err(|e| unreadable(&shown, e))?
            .map_err(|e| unreadable(&shown, e))?;
            return Ok(Source::Sqlite(Some(conn)));
        }
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = async {
                let mut conn = PgConnection::connect(url).await?;
                sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .execute(&mut conn)
                    .await?;
                Ok::<_, sqlx::Error>(conn)
            };
            // A source that does not answer is an error, not a hang.
            let conn = tokio::time::timeout(std::time::Duration::from_secs(10), connect)
                .await
                .map_err(|_| unreadable(url, "no answer within 10 s"))?
                .map_err(|e| unreadable(url, e))?;
            return Ok(Source::Postgres(conn));
        }
        Err(Failure::Source(format!(
            "--from {}: give sqlite://PATH or postgres://…",
            url_for_log(url)
        )))
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Source::Sqlite(_))
    }

    /// Run `f` on the SQLite connection, off the runtime.
    async fn sqlite<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, Failure> {
        let Source::Sqlite(slot) = self else {
            return Err(Failure::Source("not a SQLite source".into()));
        };
        let conn = slot
            .take()
            .ok_or_else(|| Failure::Source("the source connection was lost".into()))?;
        let (conn, out) = tokio::task::spawn_blocking(move || {
            let out = f(&conn);
            (conn, out)
        })
        .await
        .map_err(|e| Failure::Source(e.to_string()))?;
        *slot = Some(conn);
        out.map_err(|e| Failure::Source(format!("reading the source database: {e}")))
    }

    /// The columns of `table`, in order; None if there is no such table.
    pub async fn columns(&mut self, table: &TableName) -> Result<Option<Vec<Column>>, Failure> {
        let columns = match self {
            Source::Sqlite(_) => {
                let sql = match &table.schema {
                    Some(s) => format!("PRAGMA {}.table_info({})", quote(s), quote(&table.name)),
                    None => format!("PRAGMA table_info({})", quote(&table.name)),
                };
                self.sqlite(move |c| {
                    let mut stmt = c.prepare(&sql)?;
                    let rows = stmt.query_map([], |r| {
                        Ok(Column {
                            name: r.get(1)?,
                            kind: Kind::of_sqlite(&r.get::<_, String>(2)?),
                        })
                    })?;
                    rows.collect::<rusqlite::Result<Vec<_>>>()
                })
                .await?
            }
            Source::Postgres(conn) => sqlx::query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns
                 WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2
                 ORDER BY ordinal_position",
            )
            .bind(&table.schema)
            .bind(&table.name)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| Failure::Source(format!("reading the source database: {e}")))?
            .into_iter()
            .map(|r| Column {
                name: r.get(0),
                kind: Kind::of_postgres(&r.get::<String, _>(1)),
            })
            .collect(),
        };
        Ok((!columns.is_empty()).then_some(columns))
    }

    /// The expression that reads `column` as text in a SELECT: instants as
    /// Unix seconds (PostgreSQL) or as stored (SQLite: Django's
    /// `YYYY-MM-DD HH:MM:SS[.ffffff]`), dates as `YYYY-MM-DD`.
    pub fn text_of(&self, column: &Column) -> String {
        let q = quote(&column.name);
        match (self, column.kind) {
            (Source::Sqlite(_), _) => q,
            (Source::Postgres(_), Kind::Instant) => format!("(EXTRACT(EPOCH FROM {q}))::text"),
            (Source::Postgres(_), Kind::Date) => format!("to_char({q}, 'YYYY-MM-DD')"),
            (Source::Postgres(_), _) => format!("({q})::text"),
        }
    }

    /// Every row `sql` answers, each column as text or NULL.
    pub async fn rows(&mut self, sql: String) -> Result<Rows, Failure> {
        match self {
            Source::Sqlite(_) => {
                self.sqlite(move |c| {
                    let mut stmt = c.prepare(&sql)?;
                    let width = stmt.column_count();
                    let mut rows = stmt.query([])?;
                    let mut out = Vec::new();
                    while let Some(row) = rows.next()? {
                        let mut cells = Vec::with_capacity(width);
                        for i in 0..width {
                            cells.push(sqlite_text(row.get_ref(i)?));
                        }
                        out.push(cells);
                    }
                    Ok(out)
                })
                .await
            }
            Source::Postgres(conn) => {
                let rows = sqlx::query(&sql)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| Failure::Source(format!("reading the source database: {e}")))?;
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.try_get::<Option<String>, _>(i))
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .collect::<Result<Rows, _>>()
                    .map_err(|e| Failure::Source(format!("reading the source database: {e}")))
            }
        }
    }
}

/// A SQLite value as text: numbers in their shortest form (`4`, `2.5`).
fn sqlite_text(v: rusqlite::types::ValueRef<'_>) -> Option<String> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn django_column_types_are_told_apart_on_both_databases() {
        for (declared, kind) in [
            ("bool", Kind::Bool),
            ("datetime", Kind::Instant),
            ("date", Kind::Date),
            ("decimal", Kind::Decimal),
            ("real", Kind::Float),
            ("integer", Kind::Int),
            ("bigint", Kind::Int),
            ("integer unsigned", Kind::Int),
            ("varchar(150)", Kind::Text),
            ("char(32)", Kind::Text),
            ("text", Kind::Text),
        ] {
            assert_eq!(Kind::of_sqlite(declared), kind, "{declared}");
        }
        for (data_type, kind) in [
            ("boolean", Kind::Bool),
            ("timestamp with time zone", Kind::Instant),
            ("timestamp without time zone", Kind::Instant),
            ("date", Kind::Date),
            ("numeric", Kind::Decimal),
            ("double precision", Kind::Float),
            ("bigint", Kind::Int),
            ("jsonb", Kind::Json),
            ("character varying", Kind::Text),
            ("uuid", Kind::Text),
        ] {
            assert_eq!(Kind::of_postgres(data_type), kind, "{data_type}");
        }
    }

    #[test]
    fn names_are_quoted_and_may_carry_a_schema() {
        assert_eq!(TableName::parse("accounts_user").sql(), "\"accounts_user\"");
        let t = TableName::parse("auth.users");
        assert_eq!(t.sql(), "\"auth\".\"users\"");
        assert_eq!(t.sibling("sessions").to_string(), "auth.sessions");
        assert_eq!(quote("we\"ird"), "\"we\"\"ird\"");
    }
}
