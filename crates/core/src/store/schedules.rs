//! Schedules and their firings. A firing is claimed by inserting its row:
//! the unique key (schedule, occurrence, purpose) lets exactly one process
//! win, whichever of the app and a daemon on the same data directory gets
//! there first. `checked_until` says up to when a schedule's occurrences
//! have been handled, so a restart knows what it missed.

use super::outbox::{self, Change};
use super::{Store, StoreError, StoreResult};
use crate::model::{now_ms, Initiator, Millis, OpKind};
use crate::schedule::{Edge, Firing, FiringStatus, Purpose, Schedule};
use rusqlite::{params, OptionalExtension, Row};

const SELECT_FIRING: &str = "SELECT f.id, f.schedule_id, s.name, f.occurrence, f.purpose, f.edge, f.status, f.late_ms, f.claimed_at, f.batch_id, f.run_id, f.note, f.owner, f.owner_pid, COALESCE(l.heartbeat_at, 0) FROM schedule_firings f JOIN schedules s ON s.id = f.schedule_id LEFT JOIN leases l ON l.owner = f.owner";

/// A schedule as stored: its definition and how far it has been handled.
#[derive(Debug, Clone)]
pub struct ScheduleRecord {
    pub schedule: Schedule,
    pub checked_until: Millis,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A firing and who holds its claim.
#[derive(Debug, Clone)]
pub struct FiringRecord {
    pub firing: Firing,
    pub owner: Option<String>,
    pub owner_pid: Option<i64>,
    pub heartbeat_at: Millis,
}

/// A new firing to claim.
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    pub schedule_id: i64,
    pub occurrence: Millis,
    pub purpose: Purpose,
    pub edge: Edge,
    pub status: FiringStatus,
    pub late_ms: i64,
    pub note: Option<&'a str>,
}

fn schedule_row(r: &Row) -> rusqlite::Result<(i64, String, bool, Millis, Millis, Millis)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

fn firing_row(r: &Row) -> rusqlite::Result<FiringRecord> {
    let purpose: String = r.get(4)?;
    let edge: String = r.get(5)?;
    let status: String = r.get(6)?;
    Ok(FiringRecord {
        firing: Firing {
            id: r.get(0)?,
            schedule_id: r.get(1)?,
            schedule: r.get(2)?,
            occurrence: r.get(3)?,
            purpose: Purpose::parse(&purpose).unwrap_or(Purpose::Scheduled),
            edge: Edge::parse(&edge).unwrap_or(Edge::Run),
            // A status this build does not know reads as a failure to look at, not a success.
            status: FiringStatus::parse(&status).unwrap_or(FiringStatus::Failed),
            late_ms: r.get(7)?,
            claimed_at: r.get(8)?,
            batch_id: r.get(9)?,
            run_id: r.get(10)?,
            note: r.get(11)?,
        },
        owner: r.get(12)?,
        owner_pid: r.get(13)?,
        heartbeat_at: r.get(14)?,
    })
}

impl Store {
    /// Every schedule. One whose definition this build cannot read (written
    /// by a newer version) is left out with a warning in the log, rather
    /// than stopping the others.
    pub fn schedules(&self) -> StoreResult<Vec<ScheduleRecord>> {
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id, definition, enabled, checked_until, created_at, updated_at FROM schedules ORDER BY name")?;
            let rows = stmt.query_map([], schedule_row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        Ok(rows.into_iter().filter_map(|r| finish_schedule(r).map_err(|e| tracing::warn!("{e}")).ok()).collect())
    }

    pub fn schedule(&self, name: &str) -> StoreResult<Option<ScheduleRecord>> {
        let row = self.read(|c| {
            Ok(c.query_row("SELECT id, definition, enabled, checked_until, created_at, updated_at FROM schedules WHERE name = ?1", [name], schedule_row)
                .optional()?)
        })?;
        row.map(finish_schedule).transpose()
    }

    /// Insert a schedule; `None` if the name is taken. Occurrences before
    /// now are not its business.
    pub fn insert_schedule(&self, s: &Schedule, now: Millis) -> StoreResult<Option<i64>> {
        let json = serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.write(|tx| {
            let n = tx.execute(
                "INSERT INTO schedules (name, definition, enabled, checked_until, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4, ?4) ON CONFLICT(name) DO NOTHING",
                params![s.name, json, s.enabled, now],
            )?;
            if n == 0 {
                return Ok(None);
            }
            let id = tx.last_insert_rowid();
            outbox::append(tx, &self.origin, &Change::Schedules, now)?;
            Ok(Some(id))
        })
    }

    /// Replace a schedule's definition (found by id, so it can be renamed).
    /// A schedule switched on starts from now: what came due while it was
    /// off was not missed, it was not wanted.
    pub fn update_schedule(&self, s: &Schedule, now: Millis) -> StoreResult<bool> {
        let json = serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE schedules SET name = ?2, definition = ?3, enabled = ?4, updated_at = ?5,
                   checked_until = CASE WHEN enabled = 0 AND ?4 = 1 THEN ?5 ELSE checked_until END
                 WHERE id = ?1",
                params![s.id, s.name, json, s.enabled, now],
            )?;
            if n == 1 {
                outbox::append(tx, &self.origin, &Change::Schedules, now)?;
            }
            Ok(n == 1)
        })
    }

    pub fn remove_schedule(&self, name: &str) -> StoreResult<bool> {
        let now = now_ms();
        self.write(|tx| {
            let n = tx.execute("DELETE FROM schedules WHERE name = ?1", [name])?;
            if n == 1 {
                outbox::append(tx, &self.origin, &Change::Schedules, now)?;
            }
            Ok(n == 1)
        })
    }

    /// Every occurrence up to `until` has been handled (never moves back).
    pub fn mark_checked(&self, schedule_id: i64, until: Millis) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("UPDATE schedules SET checked_until = MAX(checked_until, ?2) WHERE id = ?1", params![schedule_id, until])?;
            Ok(())
        })
    }

    /// Start every enabled schedule afresh from `now` (after "pause all").
    pub fn mark_all_checked(&self, now: Millis) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("UPDATE schedules SET checked_until = MAX(checked_until, ?1)", [now])?;
            outbox::append(tx, &self.origin, &Change::Schedules, now)?;
            Ok(())
        })
    }

    /// A scheduler pass while paused: what came due is passed over (quietly:
    /// other processes need not hear of it).
    pub fn pass_over_until(&self, now: Millis) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("UPDATE schedules SET checked_until = MAX(checked_until, ?1)", [now])?;
            Ok(())
        })
    }

    /// Claim a firing. `None`: another process (or an earlier pass) already has it.
    pub fn claim_firing(&self, c: &Claim, owner: &str, pid: i64, now: Millis) -> StoreResult<Option<Firing>> {
        let id = self.write(|tx| {
            let n = tx.execute(
                "INSERT INTO schedule_firings (schedule_id, occurrence, purpose, edge, status, late_ms, owner, owner_pid, claimed_at, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT(schedule_id, occurrence, purpose) DO NOTHING",
                params![c.schedule_id, c.occurrence, c.purpose.as_str(), c.edge.as_str(), c.status.as_str(), c.late_ms, owner, pid, now, c.note],
            )?;
            if n == 0 {
                return Ok(None);
            }
            let id = tx.last_insert_rowid();
            outbox::append(tx, &self.origin, &Change::Firing { id }, now)?;
            Ok(Some(id))
        })?;
        match id {
            Some(id) => Ok(self.firing(id)?.map(|f| f.firing)),
            None => Ok(None),
        }
    }

    /// A claimed firing's operations begin: its batch is created and linked
    /// in one transaction, so an adopter knows what was already asked for.
    pub fn begin_firing_batch(&self, firing_id: i64, label: &str, kind: OpKind) -> StoreResult<i64> {
        let now = now_ms();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO batches (label, kind, initiator, run_id, created_at) VALUES (?1, ?2, ?3, NULL, ?4)",
                params![label, kind.as_str(), Initiator::Schedule.as_str(), now],
            )?;
            let batch = tx.last_insert_rowid();
            tx.execute("UPDATE schedule_firings SET batch_id = ?2 WHERE id = ?1", params![firing_id, batch])?;
            Ok(batch)
        })
    }

    /// Record what became of a firing.
    pub fn finish_firing(&self, id: i64, status: FiringStatus, run_id: Option<i64>, note: Option<&str>) -> StoreResult<()> {
        let now = now_ms();
        self.write(|tx| {
            tx.execute(
                "UPDATE schedule_firings SET status = ?2, run_id = COALESCE(?3, run_id), note = COALESCE(?4, note) WHERE id = ?1",
                params![id, status.as_str(), run_id, note],
            )?;
            outbox::append(tx, &self.origin, &Change::Firing { id }, now)?;
            Ok(())
        })
    }

    pub fn firing(&self, id: i64) -> StoreResult<Option<FiringRecord>> {
        self.read(|c| Ok(c.query_row(&format!("{SELECT_FIRING} WHERE f.id = ?1"), [id], firing_row).optional()?))
    }

    /// A schedule's firings (or every schedule's), newest first.
    pub fn firings(&self, schedule_id: Option<i64>, limit: u32) -> StoreResult<Vec<Firing>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached(&format!("{SELECT_FIRING} WHERE (?1 IS NULL OR f.schedule_id = ?1) ORDER BY f.occurrence DESC, f.id DESC LIMIT ?2"))?;
            let rows = stmt.query_map(params![schedule_id, limit], |r| firing_row(r).map(|f| f.firing))?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// Firings claimed but not yet started (any owner): a process that died
    /// between claiming and starting leaves one behind for adoption.
    pub fn claimed_firings(&self) -> StoreResult<Vec<FiringRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("{SELECT_FIRING} WHERE f.status = 'claimed' ORDER BY f.id"))?;
            let rows = stmt.query_map([], firing_row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// Take over a claimed firing whose owner is gone (compare-and-set on the owner).
    pub fn adopt_firing(&self, id: i64, previous: Option<&str>, owner: &str, pid: i64) -> StoreResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE schedule_firings SET owner = ?3, owner_pid = ?4 WHERE id = ?1 AND status = 'claimed' AND owner IS ?2",
                params![id, previous, owner, pid],
            )? == 1)
        })
    }

    /// Operations already journalled for a firing's batch, by VM id.
    pub fn batch_vm_ids(&self, batch_id: i64) -> StoreResult<Vec<i64>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT vm_id FROM operations WHERE batch_id = ?1")?;
            let rows = stmt.query_map([batch_id], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    pub fn schedules_paused(&self) -> StoreResult<bool> {
        Ok(self.setting("schedules_paused")?.as_deref() == Some("1"))
    }

    pub fn set_schedules_paused(&self, paused: bool) -> StoreResult<()> {
        let now = now_ms();
        self.set_setting("schedules_paused", if paused { "1" } else { "0" })?;
        if !paused {
            // What came due while paused was not wanted: not missed.
            self.mark_all_checked(now)?;
        } else {
            self.write(|tx| {
                outbox::append(tx, &self.origin, &Change::Schedules, now)?;
                Ok(())
            })?;
        }
        Ok(())
    }
}

fn finish_schedule((id, json, enabled, checked_until, created_at, updated_at): (i64, String, bool, Millis, Millis, Millis)) -> StoreResult<ScheduleRecord> {
    let schedule: Schedule =
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(format!("schedule #{id} cannot be read by this version of Powerdeck: {e}")))?;
    Ok(ScheduleRecord { schedule: Schedule { id, enabled, ..schedule }, checked_until, created_at, updated_at })
}
