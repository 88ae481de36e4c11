//! `accountd backup PATH` (INTERFACE.md, "Administration"): a consistent
//! copy of a SQLite database while the server keeps serving it.
//!
//! `VACUUM INTO` reads the database in one read transaction, so the copy is
//! the database as of one instant, WAL included, whatever the server writes
//! meanwhile; it takes no lock a writer waits for. The copy holds the
//! signing secret and the code key: it is created readable by its owner
//! only, before SQLite writes a byte into it. PostgreSQL has its own tool.

use super::sqlite::path_of;
use std::path::{Path, PathBuf};

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub path: PathBuf,
    pub bytes: u64,
    /// Users in the copy, read back from it.
    pub users: i64,
}

/// Copy the database `url` names to `to`, a file that must not exist yet.
pub async fn backup(url: &str, to: &Path) -> Result<Backup, String> {
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        return Err(
            "backup copies SQLite databases; for PostgreSQL use pg_dump (e.g. pg_dump -Fc -f accountd.dump \"$ACCOUNTD_DATABASE_URL\")"
                .into(),
        );
    }
    let from = path_of(url).map_err(|e| e.to_string())?;
    let to = to.to_owned();
    tokio::task::spawn_blocking(move || copy(&from, &to))
        .await
        .map_err(|e| format!("backup: {e}"))?
}

fn copy(from: &Path, to: &Path) -> Result<Backup, String> {
    use rusqlite::{Connection, OpenFlags};
    use std::os::unix::fs::OpenOptionsExt;
    if !from.is_file() {
        return Err(format!("backup: no database at {}", from.display()));
    }
    // Empty, 0600, and ours: VACUUM INTO writes into an empty file as it finds it.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                format!("backup: {} already exists; give a new file", to.display())
            }
            _ => format!("backup: cannot create {}: {e}", to.display()),
        })?;
    let written = (|| -> rusqlite::Result<i64> {
        // Never create the source: a wrong path must not become an empty database.
        let conn = Connection::open_with_flags(
            from,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(super::db::STATEMENT_TIMEOUT)?;
        conn.execute("VACUUM INTO ?1", [to.to_string_lossy().as_ref()])?;
        drop(conn);
        let copy = Connection::open_with_flags(to, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        copy.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
    })();
    let users = match written {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(to);
            return Err(format!("backup of {} failed: {e}", from.display()));
        }
    };
    let bytes = std::fs::metadata(to)
        .map_err(|e| format!("backup: {}: {e}", to.display()))?
        .len();
    Ok(Backup {
        path: to.to_owned(),
        bytes,
        users,
    })
}
