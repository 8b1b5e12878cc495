use super::{readable, Store, StoreResult};
use crate::model::{now_ms, Account, Millis};
use crate::secrets::SecretRef;
use rusqlite::{params, OptionalExtension, Row};

/// Contact timestamps are coarse on purpose: refreshing them at most this
/// often keeps "nothing changed" syncs from writing anything.
const CONTACT_RESOLUTION_MS: Millis = 60_000;

const SELECT: &str = "SELECT id, name, kind, config, secret_ref, is_demo, created_at, last_contact_at FROM accounts";

fn row_to_account(r: &Row) -> rusqlite::Result<(Account, String, Option<String>)> {
    Ok((
        Account {
            id: r.get(0)?,
            name: r.get(1)?,
            kind: r.get(2)?,
            config: serde_json::Value::Null,
            secret: None,
            is_demo: r.get(5)?,
            created_at: r.get(6)?,
            last_contact_at: r.get(7)?,
        },
        r.get(3)?,
        r.get(4)?,
    ))
}

/// An account whose stored settings cannot be read is still listed (so it
/// can be seen, fixed or removed); building its provider then fails with a
/// sentence naming it, and the other accounts are unaffected.
fn finish((mut a, config, secret): (Account, String, Option<String>)) -> StoreResult<Account> {
    a.config = serde_json::from_str(&config).unwrap_or_else(|e| {
        tracing::warn!(account = %a.name, error = %e, "the account's stored settings are unreadable");
        serde_json::Value::Null
    });
    a.secret = secret.and_then(|s| {
        serde_json::from_str::<SecretRef>(&s).map_err(|e| tracing::warn!(account = %a.name, error = %e, "the account's secret reference is unreadable")).ok()
    });
    Ok(a)
}

impl Store {
    pub fn accounts(&self) -> StoreResult<Vec<Account>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("{SELECT} ORDER BY name"))?;
            let rows = readable(stmt.query_map([], row_to_account)?, "account");
            rows.into_iter().map(finish).collect()
        })
    }

    pub fn account_by_name(&self, name: &str) -> StoreResult<Option<Account>> {
        self.read(|c| c.query_row(&format!("{SELECT} WHERE name = ?1"), [name], row_to_account).optional()?.map(finish).transpose())
    }

    pub fn account(&self, id: i64) -> StoreResult<Option<Account>> {
        self.read(|c| c.query_row(&format!("{SELECT} WHERE id = ?1"), [id], row_to_account).optional()?.map(finish).transpose())
    }

    /// Insert an account; `None` if the name is taken.
    pub fn insert_account(
        &self,
        name: &str,
        kind: &str,
        config: &serde_json::Value,
        secret: Option<&SecretRef>,
        is_demo: bool,
    ) -> StoreResult<Option<Account>> {
        let secret_json = secret.map(|s| serde_json::to_string(s).expect("SecretRef serializes"));
        let id = self.write(|tx| {
            let n = tx.execute(
                "INSERT INTO accounts (name, kind, config, secret_ref, is_demo, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO NOTHING",
                params![name, kind, config.to_string(), secret_json, is_demo, now_ms()],
            )?;
            Ok((n == 1).then(|| tx.last_insert_rowid()))
        })?;
        match id {
            Some(id) => self.account(id),
            None => Ok(None),
        }
    }

    /// Replace an account's settings (never its secret reference).
    pub fn update_account_config(&self, id: i64, config: &serde_json::Value) -> StoreResult<bool> {
        self.write(|tx| Ok(tx.execute("UPDATE accounts SET config = ?2 WHERE id = ?1", params![id, config.to_string()])? == 1))
    }

    /// Remove an account with its VMs, history and operations.
    pub fn remove_account(&self, id: i64) -> StoreResult<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM accounts WHERE id = ?1", [id])? == 1))
    }

    /// Record that the provider answered. Coarse (see [`CONTACT_RESOLUTION_MS`]).
    pub fn touch_contact(&self, account_id: i64, at: Millis) -> StoreResult<()> {
        // Checked with a read first: this runs on every provider answer, and
        // almost always there is nothing to write, so no write lock is taken.
        let last: Option<Millis> =
            self.read(|c| Ok(c.query_row("SELECT last_contact_at FROM accounts WHERE id = ?1", [account_id], |r| r.get(0)).optional()?.flatten()))?;
        if last.is_some_and(|l| l >= at - CONTACT_RESOLUTION_MS) {
            return Ok(());
        }
        self.write(|tx| {
            tx.execute(
                "UPDATE accounts SET last_contact_at = ?2 WHERE id = ?1 AND (last_contact_at IS NULL OR last_contact_at < ?2 - ?3)",
                params![account_id, at, CONTACT_RESOLUTION_MS],
            )?;
            Ok(())
        })
    }
}
