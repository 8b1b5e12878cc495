//! Batches: operations asked for together (a bulk action, a runbook step),
//! so their outcome is summed up once, by whichever process sees the last
//! of them end.

use super::outbox::{self, Change};
use super::{Store, StoreResult};
use crate::model::{now_ms, Batch, BatchOutcome, Initiator, Millis, OpKind};
use rusqlite::{params, OptionalExtension, Row};

const SELECT: &str = "SELECT id, label, kind, initiator, run_id, created_at, finished_at FROM batches";

fn row(r: &Row) -> rusqlite::Result<Batch> {
    let kind: String = r.get(2)?;
    let initiator: String = r.get(3)?;
    Ok(Batch {
        id: r.get(0)?,
        label: r.get(1)?,
        kind: OpKind::parse(&kind).unwrap_or(OpKind::Start),
        initiator: Initiator::parse(&initiator).unwrap_or_default(),
        run_id: r.get(4)?,
        created_at: r.get(5)?,
        finished_at: r.get(6)?,
    })
}

impl Store {
    pub fn create_batch(&self, label: &str, kind: OpKind, initiator: Initiator, run_id: Option<i64>) -> StoreResult<Batch> {
        let now = now_ms();
        let id = self.write(|tx| {
            tx.execute(
                "INSERT INTO batches (label, kind, initiator, run_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![label, kind.as_str(), initiator.as_str(), run_id, now],
            )?;
            Ok(tx.last_insert_rowid())
        })?;
        Ok(Batch { id, label: label.into(), kind, initiator, run_id, created_at: now, finished_at: None })
    }

    pub fn batch(&self, id: i64) -> StoreResult<Option<Batch>> {
        self.read(|c| Ok(c.query_row(&format!("{SELECT} WHERE id = ?1"), [id], row).optional()?))
    }

    /// Every operation of the batch is journalled: from now on, the last one
    /// to end settles it.
    pub fn seal_batch(&self, id: i64) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("UPDATE batches SET sealed = 1 WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    /// If the batch is sealed, unsettled and none of its operations is still
    /// in flight: mark it finished and return its outcome (exactly once, in
    /// whichever process gets here first).
    pub fn settle_batch(&self, id: i64) -> StoreResult<Option<BatchOutcome>> {
        let now = now_ms();
        let settled = self.write(|tx| {
            let n = tx.execute(
                "UPDATE batches SET finished_at = ?2, announced = 1 WHERE id = ?1 AND sealed = 1 AND announced = 0
                 AND NOT EXISTS (SELECT 1 FROM operations WHERE batch_id = ?1 AND phase IN ('submitted', 'tracking', 'verifying'))",
                params![id, now],
            )?;
            if n == 1 {
                outbox::append(tx, &self.origin, &Change::Batch { id }, now)?;
            }
            Ok(n == 1)
        })?;
        if settled {
            self.batch_outcome(id)
        } else {
            Ok(None)
        }
    }

    /// How a batch's operations ended so far.
    pub fn batch_outcome(&self, id: i64) -> StoreResult<Option<BatchOutcome>> {
        let Some(batch) = self.batch(id)? else { return Ok(None) };
        let rows: Vec<(String, String, Option<String>)> = self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT v.name, o.phase, o.error FROM operations o JOIN vms v ON v.id = o.vm_id WHERE o.batch_id = ?1 ORDER BY o.id")?;
            let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        let succeeded = rows.iter().filter(|(_, p, _)| p == "succeeded").count();
        let failures: Vec<(String, String)> = rows
            .iter()
            .filter(|(_, p, _)| matches!(p.as_str(), "failed" | "timed-out" | "cancelled"))
            .map(|(n, p, e)| (n.clone(), e.clone().unwrap_or_else(|| p.clone())))
            .collect();
        Ok(Some(BatchOutcome { batch, succeeded, failed: failures.len(), failures }))
    }

    /// Batches of a runbook run, and of bulk actions since `since`.
    pub fn recent_batches(&self, since: Millis) -> StoreResult<Vec<Batch>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("{SELECT} WHERE created_at >= ?1 ORDER BY id DESC"))?;
            let rows = stmt.query_map([since], row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }
}
