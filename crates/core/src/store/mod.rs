//! The local SQLite inventory: accounts, VMs, the operation journal, history
//! and settings. VM state is written only by [`crate::reconcile`]; this module
//! offers reads and the non-state writes.

mod accounts;
mod batches;
pub mod coverage;
mod groups;
mod history;
pub mod operations;
pub mod outbox;
pub mod report;
pub mod runbooks;
pub mod schedules;
mod schema;
pub(crate) mod vms;

pub use operations::{NewOperation, OpRecord, OpRequest};
pub use vms::VmFilter;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("the inventory database at {path} cannot be opened: {message}")]
    Open { path: PathBuf, message: String },
    /// The database is there but may not be written (a read-only folder,
    /// file or file system): it can still be opened to read.
    #[error("the inventory database at {path} cannot be written: {message}")]
    ReadOnly { path: PathBuf, message: String },
    /// The file is not a SQLite database, or its pages are damaged.
    #[error("the inventory database at {path} is damaged or is not Powerdeck's ({detail}); restore a backup of it, or move it away to start with an empty inventory")]
    Damaged { path: PathBuf, detail: String },
    #[error("the inventory database was written by a newer Powerdeck (schema {found}, this build knows {known}); upgrade Powerdeck")]
    TooNew { found: i64, known: i64 },
    #[error("inventory database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// `user_version` says an older schema than the tables hold (a file
    /// restored over, or a version set by hand): re-running the migrations
    /// would fail half-way or lose data, so nothing is changed.
    #[error("the inventory database says it is at schema {found} but already holds a later change ({message}): it was probably restored or edited by hand. Nothing was changed; restore a backup, or move the file away to start with an empty inventory")]
    SchemaMismatch { found: i64, message: String },
}

pub type StoreResult<T> = Result<T, StoreError>;

pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Names this handle (one per process) in the outbox, so each process
    /// publishes only what the others changed.
    origin: String,
    /// Something a person must be told about how the store was opened.
    notice: Option<String>,
    /// Opened to read only ([`Store::open_read_only`]): every write is refused.
    read_only: bool,
    /// Read without SQLite's shared memory (it could not be made): other
    /// readers open the file the same way.
    immutable: bool,
}

/// The database's write-ahead log, beside it.
fn wal_of(path: &Path) -> PathBuf {
    path.with_file_name(format!("{}-wal", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()))
}

/// SQLite's "file is not a database" and "database disk image is
/// malformed", with the path and what to do.
fn damaged(e: StoreError, path: &Path) -> StoreError {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match e {
        StoreError::Sql(rusqlite::Error::SqliteFailure(f, detail)) if matches!(f.code, NotADatabase | DatabaseCorrupt) => {
            StoreError::Damaged { path: path.to_path_buf(), detail: detail.unwrap_or_else(|| f.to_string()) }
        }
        other => other,
    }
}

/// A connection that only reads `path`. `immutable`: without locks or the
/// WAL's shared memory, for a file in a folder that may not be written.
pub(crate) fn reader(path: &Path, immutable: bool) -> rusqlite::Result<Connection> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = if immutable {
        let escaped = path.to_string_lossy().replace('%', "%25").replace('?', "%3f").replace('#', "%23");
        Connection::open_with_flags(format!("file:{escaped}?immutable=1"), flags)?
    } else {
        Connection::open_with_flags(path, flags)?
    };
    conn.busy_timeout(Duration::from_secs(15))?;
    // Opening is lazy: read once so a file that cannot be read fails here.
    conn.query_row("PRAGMA user_version", [], |_| Ok(()))?;
    Ok(conn)
}

impl Store {
    /// Open (creating if needed) the database file and bring its schema up to date.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let open_err = |message: String| StoreError::Open { path: path.to_path_buf(), message };
        if let Some(dir) = path.parent() {
            private_dir(dir).map_err(|e| open_err(io_reason(&e, "the folder")))?;
        }
        // A file that exists but holds nothing (nor has a write-ahead log
        // with something in it) was truncated, or never written: SQLite
        // would silently make a new database of it. Do so, but say it.
        let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
        let wal = wal_of(path);
        let emptied = len(path) == Some(0) && len(&wal).unwrap_or(0) == 0;
        private_file(path).map_err(|e| open_err(io_reason(&e, "the database file")))?;
        // SQLite alone says "unable to open database file" or "attempt to
        // write a readonly database"; find the reason first.
        writable(path).map_err(|e| {
            let message = io_reason(&e, "the folder or the database file");
            match e.kind() {
                std::io::ErrorKind::PermissionDenied
                | std::io::ErrorKind::ReadOnlyFilesystem
                | std::io::ErrorKind::StorageFull
                | std::io::ErrorKind::QuotaExceeded
                    if len(path).is_some_and(|n| n > 0) =>
                {
                    StoreError::ReadOnly { path: path.to_path_buf(), message }
                }
                _ => open_err(message),
            }
        })?;
        let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        let mut store = Self::init(conn, path.to_path_buf()).map_err(|e| damaged(e, path))?;
        if emptied {
            let text = format!(
                "the inventory database at {} was empty (0 bytes: truncated, or never written), so it was started anew; accounts, operations and history kept in it before are gone",
                path.display()
            );
            tracing::warn!("{text}");
            store.notice = Some(text);
        }
        Ok(store)
    }

    /// Open an existing database to read only, where it may not be written
    /// (see [`StoreError::ReadOnly`]): nothing is migrated or created, and
    /// every write is refused with the reason.
    pub fn open_read_only(path: &Path) -> StoreResult<Self> {
        let open_err = |message: String| StoreError::Open { path: path.to_path_buf(), message };
        // Try a shared read first; a WAL database whose -shm file cannot be
        // made (the folder may not be written) is read as immutable.
        let (conn, immutable) = match reader(path, false) {
            Ok(c) => (c, false),
            // The shared memory file cannot be made or grown: a folder that
            // may not be written, or a full disk (SQLite: "disk I/O error").
            Err(rusqlite::Error::SqliteFailure(f, _))
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::DiskFull
                ) =>
            {
                (reader(path, true).map_err(|e| damaged(StoreError::Sql(e), path))?, true)
            }
            Err(e) => return Err(damaged(StoreError::Sql(e), path)),
        };
        // Read as immutable, SQLite does not look at the write-ahead log:
        // changes still only there (another process writes it) are not seen.
        let wal = wal_of(path);
        let notice = (immutable && std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0))
            .then(|| format!("the inventory database at {} is read without its write-ahead log, which may hold the latest changes", path.display()));
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let (found, known): (i64, i64) = (conn.query_row("PRAGMA user_version", [], |r| r.get(0))?, schema::MIGRATIONS.len() as i64);
        if found > known {
            return Err(StoreError::TooNew { found, known });
        }
        if found < known {
            return Err(open_err(format!("it needs an upgrade (schema {found} to {known}), which a read-only database cannot take")));
        }
        Ok(Self { conn: Mutex::new(conn), path: path.to_path_buf(), origin: uuid::Uuid::new_v4().to_string(), notice, read_only: true, immutable })
    }

    /// Whether this handle was opened to read only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Whether reads go without SQLite's shared memory (see [`reader`]).
    pub(crate) fn is_immutable(&self) -> bool {
        self.immutable
    }

    /// What a person must be told about how the store was opened (a
    /// database found empty and started anew), if anything.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// A private in-memory store, for tests and benchmarks.
    pub fn in_memory() -> StoreResult<Self> {
        Self::init(Connection::open_in_memory()?, PathBuf::from(":memory:"))
    }

    fn init(mut conn: Connection, path: PathBuf) -> StoreResult<Self> {
        // Several processes (the app, pdk) share the file: wait for locks
        // rather than failing, and let readers run beside the writer.
        conn.busy_timeout(Duration::from_secs(15))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        Ok(Self { conn: Mutex::new(conn), path, origin: uuid::Uuid::new_v4().to_string(), notice: None, read_only: false, immutable: false })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This handle's name in the outbox.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn)
    }

    /// One write transaction; `IMMEDIATE` so that concurrent writers in other
    /// processes queue up instead of failing half-way.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Transaction) -> StoreResult<T>) -> StoreResult<T> {
        if self.read_only {
            return Err(StoreError::ReadOnly { path: self.path.clone(), message: "it was opened to read only (its folder or file may not be written)".into() });
        }
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Rows inserted, updated or deleted through this handle since it was
    /// opened. Lets tests and benchmarks prove that "nothing changed" wrote nothing.
    pub fn rows_written(&self) -> u64 {
        self.conn.lock().unwrap_or_else(|p| p.into_inner()).total_changes()
    }

    pub fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        use rusqlite::OptionalExtension;
        self.read(|c| Ok(c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional()?))
    }

    pub fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value])?;
            Ok(())
        })
    }
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let known = schema::MIGRATIONS.len() as i64;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > known {
        return Err(StoreError::TooNew { found: current, known });
    }
    for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(current as usize) {
        // A table, index or column that already exists means the version
        // lies; the transaction is dropped, so nothing at all changes.
        tx.execute_batch(sql).map_err(|e| match e.to_string() {
            m if m.contains("duplicate column name") || m.contains("already exists") => StoreError::SchemaMismatch { found: current, message: m },
            _ => StoreError::from(e),
        })?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

/// The rows a query could read. One that cannot be read (a value of the
/// wrong type written by hand or by an old bug) is skipped with a warning
/// rather than hiding every other row of the list.
/// A new data directory is readable by its owner only: it holds endpoints,
/// user names and key ids (never secrets, but nothing for other users).
/// An existing one is left as its owner set it.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// An I/O failure in words a person can act on (not "os error 20").
pub(crate) fn io_reason(e: &std::io::Error, what: &str) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::PermissionDenied => format!("permission denied: you may not write to {what}"),
        K::ReadOnlyFilesystem => format!("{what} is on a read-only file system"),
        K::NotADirectory => "a file is in the way: part of the path is a file, not a folder".into(),
        K::IsADirectory => "a folder is in the way: the database's path is a folder".into(),
        K::StorageFull => "the disk is full".into(),
        K::QuotaExceeded => "your disk quota is used up".into(),
        K::NotFound => format!("{what} does not exist"),
        _ => e.to_string(),
    }
}

/// Whether the database and its folder take writes (SQLite needs both, for
/// its write-ahead log): open the file for writing and write a probe file
/// next to it, as large as a few WAL pages, so that a full disk is found
/// here and named (SQLite would say "disk I/O error").
fn writable(path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new().write(true).open(path)?;
    let probe = path.with_file_name(format!(".powerdeck-probe-{}", std::process::id()));
    let written = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&probe).and_then(|mut f| f.write_all(&[0u8; 64 * 1024]));
    let _ = std::fs::remove_file(&probe);
    written
}

/// A new database file is created 0600 before SQLite opens it (SQLite gives
/// its -wal and -shm files the database's permissions).
fn private_file(path: &Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    match o.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

pub(crate) fn readable<T, E: std::fmt::Display>(rows: impl Iterator<Item = Result<T, E>>, what: &str) -> Vec<T> {
    rows.filter_map(|r| r.map_err(|e| tracing::warn!(error = %e, "skipped an unreadable {what} row")).ok()).collect()
}

/// Parse a stored enum, turning garbage into a clear error instead of a panic.
pub(crate) fn parse_col<T>(value: &str, what: &str, parse: impl Fn(&str) -> Option<T>) -> StoreResult<T> {
    parse(value).ok_or_else(|| StoreError::Corrupt(format!("unknown {what} '{value}'")))
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn a_new_data_directory_and_database_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("fresh").join("powerdeck.sqlite");
        let store = super::Store::open(&path).unwrap();
        store.set_setting("probe", "1").unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(mode(&path), 0o600);
        let wal = path.with_file_name("powerdeck.sqlite-wal");
        assert!(wal.exists() && mode(&wal) == 0o600, "the write-ahead log too");
    }

    use super::*;

    #[test]
    fn a_file_that_is_no_database_or_is_damaged_says_so_with_its_path_and_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("powerdeck.sqlite");
        let junk: Vec<u8> = (0..50_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for body in [junk.clone(), [b"SQLite format 3\0".as_slice(), &junk[..8000]].concat()] {
            std::fs::write(&path, &body).unwrap();
            let err = Store::open(&path).err().expect("refused");
            assert!(matches!(err, StoreError::Damaged { .. }), "{err:?}");
            let text = err.to_string();
            assert!(text.contains(&path.display().to_string()) && text.contains("restore a backup") && text.contains("not a database"), "{text}");
            assert_eq!(std::fs::read(&path).unwrap(), body, "the damaged file is left as it was");
        }
    }

    #[test]
    fn a_store_opened_to_read_reads_and_refuses_every_write_saying_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("powerdeck.sqlite");
        Store::open(&path).unwrap().set_setting("k", "v").unwrap();
        for immutable in [false, true] {
            let store = Store::open_read_only(&path).unwrap();
            assert!(store.is_read_only());
            assert_eq!(store.setting("k").unwrap().as_deref(), Some("v"));
            let err = store.set_setting("k", "w").unwrap_err();
            assert!(matches!(err, StoreError::ReadOnly { .. }) && err.to_string().contains("opened to read only"), "{err}");
            assert!(reader(&path, immutable).is_ok());
        }
        // A database that needs an upgrade cannot take it read-only.
        rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 1).unwrap();
        let err = Store::open_read_only(&path).err().expect("refused").to_string();
        assert!(err.contains("needs an upgrade"), "{err}");
    }

    #[test]
    fn a_data_directory_that_is_a_file_says_so_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data");
        std::fs::write(&file, "not a folder").unwrap();
        let err = Store::open(&file.join("powerdeck.sqlite")).err().expect("a file cannot hold the database");
        let text = err.to_string();
        assert!(text.contains(&file.display().to_string()) && text.contains("a file is in the way"), "{text}");
        assert!(!text.contains("os error"), "{text}");
    }

    #[test]
    fn io_failures_read_as_what_to_fix() {
        use std::io::{Error, ErrorKind};
        let said = |kind: ErrorKind| io_reason(&Error::from(kind), "the folder");
        assert_eq!(said(ErrorKind::PermissionDenied), "permission denied: you may not write to the folder");
        assert_eq!(said(ErrorKind::ReadOnlyFilesystem), "the folder is on a read-only file system");
        assert_eq!(said(ErrorKind::StorageFull), "the disk is full");
    }

    #[test]
    fn migrations_apply_once_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pd.sqlite");
        drop(Store::open(&path).unwrap());
        drop(Store::open(&path).unwrap()); // idempotent
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Store::open(&path).err().expect("newer schema must be refused");
        assert!(err.to_string().contains("newer Powerdeck"), "{err}");
    }

    #[test]
    fn a_database_truncated_to_nothing_is_started_anew_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pd.sqlite");
        let fresh = Store::open(&path).unwrap();
        assert_eq!(fresh.notice(), None, "a new database is nothing to report");
        fresh.set_setting("k", "v").unwrap();
        drop(fresh);
        assert_eq!(Store::open(&path).unwrap().notice(), None, "nor is reopening one");
        std::fs::write(&path, b"").unwrap();
        let _ = std::fs::remove_file(path.with_file_name("pd.sqlite-wal"));
        let again = Store::open(&path).unwrap();
        let notice = again.notice().expect("an emptied database is reported");
        assert!(notice.contains("0 bytes") && notice.contains("gone") && notice.contains("pd.sqlite"), "{notice}");
        assert_eq!(again.setting("k").unwrap(), None);
    }

    #[test]
    fn a_version_older_than_the_tables_changes_nothing_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pd.sqlite");
        let store = Store::open(&path).unwrap();
        store.set_setting("kept", "yes").unwrap();
        drop(store);
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        drop(conn);
        let err = Store::open(&path).err().expect("a lying version is refused");
        assert!(matches!(err, StoreError::SchemaMismatch { found: 1, .. }), "{err}");
        assert!(err.to_string().contains("Nothing was changed"), "{err}");
        let conn = Connection::open(&path).unwrap();
        let kept: String = conn.query_row("SELECT value FROM settings WHERE key = 'kept'", [], |r| r.get(0)).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!((kept.as_str(), version), ("yes", 1), "the data and the version are as they were");
    }
}
