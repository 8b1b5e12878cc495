//! When Powerdeck was watching: the stretches during which an account's
//! complete inventory was being listed. The hours report counts time
//! outside them as unknown (see `crate::hours`).

use super::{Store, StoreResult};
use crate::hours::Coverage;
use crate::model::Millis;
use rusqlite::{params, Transaction};
use std::collections::HashMap;

/// Two complete listings this close together are one stretch of watching:
/// three times the default full-sync interval (5 min), so a sync that is a
/// little late, or one failed call retried, leaves no gap.
pub const SLACK_MS: Millis = 15 * 60_000;

/// A stretch is extended at most once a minute, so an unchanged re-sync
/// writes nothing (the report counts a recent stretch up to now anyway).
const RESOLUTION_MS: Millis = 60_000;

/// A complete listing of the account succeeded at `now` (inside the
/// transaction that recorded what it found).
pub(crate) fn extend(tx: &Transaction, account_id: i64, now: Millis) -> rusqlite::Result<()> {
    use rusqlite::OptionalExtension;
    let latest: Option<(i64, Millis)> = tx
        .query_row("SELECT id, to_ms FROM coverage WHERE account_id = ?1 ORDER BY to_ms DESC LIMIT 1", [account_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match latest {
        Some((_, to)) if to >= now - RESOLUTION_MS => {}
        Some((id, to)) if to >= now - SLACK_MS => {
            tx.execute("UPDATE coverage SET to_ms = ?2 WHERE id = ?1", params![id, now])?;
        }
        _ => {
            tx.execute("INSERT INTO coverage (account_id, from_ms, to_ms) VALUES (?1, ?2, ?2)", params![account_id, now])?;
        }
    }
    Ok(())
}

impl Store {
    /// Every account's coverage up to `now`. A stretch whose last listing
    /// is recent (within the slack) still runs: the next listing is due,
    /// not missed.
    pub fn coverage(&self, now: Millis) -> StoreResult<HashMap<i64, Coverage>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT account_id, from_ms, to_ms FROM coverage")?;
            let mut spans: HashMap<i64, Vec<(Millis, Millis)>> = HashMap::new();
            for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Millis>(1)?, r.get::<_, Millis>(2)?)))? {
                let (account, from, to) = row?;
                let to = if to < now && now - to <= SLACK_MS { now } else { to };
                spans.entry(account).or_default().push((from, to));
            }
            Ok(spans.into_iter().map(|(a, s)| (a, Coverage::new(s))).collect())
        })
    }
}
