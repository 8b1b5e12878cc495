//! Runbooks and their runs: the definitions, and each run's journal (its
//! approved plan, where it is, who runs it, every step with its batch).

use super::outbox::{self, Change};
use super::{Store, StoreError, StoreResult};
use crate::model::{now_ms, Initiator, Millis};
use crate::runbook::{Run, RunPhase, RunPlan, RunStep, Runbook, StepPhase};
use rusqlite::{params, OptionalExtension, Row, Transaction};

const ACTIVE: &str = "('running', 'rolling-back')";
const SELECT_RUN: &str = "SELECT r.id, r.runbook_id, r.name, r.plan, r.phase, r.step, r.rolling_back, r.initiator, r.requested_at, r.finished_at, r.cancel_requested, r.rollback_requested, r.summary, r.owner, r.owner_pid, COALESCE(l.heartbeat_at, 0) FROM runbook_runs r LEFT JOIN leases l ON l.owner = r.owner";

/// A run and who runs it.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub run: Run,
    pub owner: Option<String>,
    pub owner_pid: Option<i64>,
    pub heartbeat_at: Millis,
}

fn run_row(r: &Row) -> rusqlite::Result<(RunRecord, String, String)> {
    let initiator: String = r.get(7)?;
    Ok((
        RunRecord {
            run: Run {
                id: r.get(0)?,
                runbook_id: r.get(1)?,
                name: r.get(2)?,
                plan: RunPlan { runbook: String::new(), on_failure: Default::default(), steps: vec![] },
                phase: RunPhase::Failed,
                step: r.get::<_, i64>(5)? as usize,
                rolling_back: r.get(6)?,
                initiator: Initiator::parse(&initiator).unwrap_or_default(),
                requested_at: r.get(8)?,
                finished_at: r.get(9)?,
                cancel_requested: r.get(10)?,
                rollback_requested: r.get(11)?,
                summary: r.get(12)?,
                steps: vec![],
            },
            owner: r.get(13)?,
            owner_pid: r.get(14)?,
            heartbeat_at: r.get(15)?,
        },
        r.get(3)?,
        r.get(4)?,
    ))
}

impl Store {
    pub fn runbooks(&self) -> StoreResult<Vec<Runbook>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id, definition FROM runbooks ORDER BY name")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows.into_iter().filter_map(|(id, d)| serde_json::from_str::<Runbook>(&d).ok().map(|rb| Runbook { id, ..rb })).collect())
        })
    }

    pub fn runbook(&self, name: &str) -> StoreResult<Option<Runbook>> {
        let found: Option<(i64, String)> =
            self.read(|c| Ok(c.query_row("SELECT id, definition FROM runbooks WHERE name = ?1", [name], |r| Ok((r.get(0)?, r.get(1)?))).optional()?))?;
        found
            .map(|(id, d)| serde_json::from_str::<Runbook>(&d).map(|rb| Runbook { id, ..rb }).map_err(|e| StoreError::Corrupt(format!("runbook {name}: {e}"))))
            .transpose()
    }

    /// Insert a runbook, or replace the one with its name (`replace`).
    /// `None` if the name is taken and `replace` is off.
    pub fn save_runbook(&self, rb: &Runbook, replace: bool) -> StoreResult<Option<Runbook>> {
        let now = now_ms();
        let def = serde_json::to_string(&Runbook { id: 0, ..rb.clone() }).expect("a runbook serializes");
        let written = self.write(|tx| {
            let sql = if replace {
                "INSERT INTO runbooks (name, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT(name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at"
            } else {
                "INSERT INTO runbooks (name, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) ON CONFLICT(name) DO NOTHING"
            };
            Ok(tx.execute(sql, params![rb.name, def, now])? == 1)
        })?;
        if written {
            self.runbook(&rb.name)
        } else {
            Ok(None)
        }
    }

    pub fn remove_runbook(&self, name: &str) -> StoreResult<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM runbooks WHERE name = ?1", [name])? == 1))
    }

    /// Journal a new run of an approved plan, owned by `owner`.
    /// Journal a run; `firing`: the schedule firing that started it, linked
    /// in the same transaction.
    pub fn insert_run(&self, runbook_id: Option<i64>, plan: &RunPlan, initiator: Initiator, owner: &str, pid: i64, firing: Option<i64>) -> StoreResult<Run> {
        let now = now_ms();
        let plan_json = serde_json::to_string(plan).expect("a plan serializes");
        let id = self.write(|tx| {
            tx.execute(
                "INSERT INTO runbook_runs (runbook_id, name, plan, phase, step, initiator, owner, owner_pid, requested_at) VALUES (?1, ?2, ?3, 'running', 0, ?4, ?5, ?6, ?7)",
                params![runbook_id, plan.runbook, plan_json, initiator.as_str(), owner, pid, now],
            )?;
            let id = tx.last_insert_rowid();
            if let Some(f) = firing {
                tx.execute("UPDATE schedule_firings SET run_id = ?2 WHERE id = ?1", params![f, id])?;
            }
            outbox::append(tx, &self.origin, &Change::Run { id }, now)?;
            Ok(id)
        })?;
        Ok(self.run(id)?.expect("just inserted").run)
    }

    pub fn run(&self, id: i64) -> StoreResult<Option<RunRecord>> {
        let found = self.read(|c| Ok(c.query_row(&format!("{SELECT_RUN} WHERE r.id = ?1"), [id], run_row).optional()?))?;
        found.map(|f| self.finish_run(f)).transpose()
    }

    /// Runs still under way (all owners).
    pub fn active_runs(&self) -> StoreResult<Vec<RunRecord>> {
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("{SELECT_RUN} WHERE r.phase IN {ACTIVE} ORDER BY r.id"))?;
            let rows = stmt.query_map([], run_row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        rows.into_iter().map(|r| self.finish_run(r)).collect()
    }

    /// Recent runs, newest first.
    pub fn recent_runs(&self, limit: u32) -> StoreResult<Vec<Run>> {
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("{SELECT_RUN} ORDER BY r.id DESC LIMIT ?1"))?;
            let rows = stmt.query_map([limit], run_row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        rows.into_iter().map(|r| self.finish_run(r).map(|r| r.run)).collect()
    }

    fn finish_run(&self, (mut rec, plan, phase): (RunRecord, String, String)) -> StoreResult<RunRecord> {
        rec.run.plan = serde_json::from_str(&plan).map_err(|e| StoreError::Corrupt(format!("run #{}: plan: {e}", rec.run.id)))?;
        rec.run.phase = RunPhase::parse(&phase).ok_or_else(|| StoreError::Corrupt(format!("run #{}: phase '{phase}'", rec.run.id)))?;
        rec.run.steps = self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT step, rollback, batch_id, phase, started_at, finished_at FROM run_steps WHERE run_id = ?1 ORDER BY started_at, step")?;
            let rows = stmt
                .query_map([rec.run.id], |r| {
                    let phase: String = r.get(3)?;
                    Ok(RunStep {
                        step: r.get::<_, i64>(0)? as usize,
                        rollback: r.get(1)?,
                        batch_id: r.get(2)?,
                        phase: StepPhase::parse(&phase).unwrap_or(StepPhase::Failed),
                        started_at: r.get(4)?,
                        finished_at: r.get(5)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        Ok(rec)
    }

    /// Change a run I own: its phase, step, direction and summary, and one
    /// of its steps. Returns false if it is not mine (any more) or ended.
    pub fn update_run(&self, run: &Run, owner: &str, step: Option<&RunStep>) -> StoreResult<bool> {
        let now = now_ms();
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE runbook_runs SET phase = ?3, step = ?4, rolling_back = ?5, summary = ?6, finished_at = ?7
                 WHERE id = ?1 AND owner = ?2 AND phase NOT IN ('succeeded', 'failed', 'cancelled', 'rolled-back')",
                params![run.id, owner, run.phase.as_str(), run.step as i64, run.rolling_back, run.summary, run.finished_at],
            )?;
            if n == 1 {
                if let Some(s) = step {
                    save_step(tx, run.id, s)?;
                }
                outbox::append(tx, &self.origin, &Change::Run { id: run.id }, now)?;
            }
            Ok(n == 1)
        })
    }

    /// Take over a run whose runner is gone (compare-and-set on the owner).
    pub fn adopt_run(&self, id: i64, previous: Option<&str>, owner: &str, pid: i64) -> StoreResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                &format!("UPDATE runbook_runs SET owner = ?3, owner_pid = ?4 WHERE id = ?1 AND owner IS ?2 AND phase IN {ACTIVE}"),
                params![id, previous, owner, pid],
            )? == 1)
        })
    }

    /// Ask a run to stop starting new steps, or (awaiting a decision) to
    /// roll back. Whoever runs it acts at its next look.
    pub fn request_on_run(&self, id: i64, rollback: bool) -> StoreResult<bool> {
        let now = now_ms();
        self.write(|tx| {
            let n = if rollback {
                tx.execute(
                    "UPDATE runbook_runs SET rollback_requested = 1, phase = 'rolling-back', rolling_back = 1 WHERE id = ?1 AND phase = 'awaiting-decision'",
                    [id],
                )?
            } else {
                tx.execute("UPDATE runbook_runs SET cancel_requested = 1 WHERE id = ?1 AND phase IN ('running', 'rolling-back', 'awaiting-decision')", [id])?
            };
            if n == 1 {
                outbox::append(tx, &self.origin, &Change::Run { id }, now)?;
            }
            Ok(n == 1)
        })
    }

    /// End a run that awaits a decision, leaving everything as it is.
    pub fn end_awaiting_run(&self, id: i64, summary: &str) -> StoreResult<bool> {
        let now = now_ms();
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE runbook_runs SET phase = 'failed', finished_at = ?2, summary = ?3 WHERE id = ?1 AND phase = 'awaiting-decision'",
                params![id, now, summary],
            )?;
            if n == 1 {
                outbox::append(tx, &self.origin, &Change::Run { id }, now)?;
            }
            Ok(n == 1)
        })
    }
}

fn save_step(tx: &Transaction, run_id: i64, s: &RunStep) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO run_steps (run_id, step, rollback, batch_id, phase, started_at, finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(run_id, step, rollback) DO UPDATE SET batch_id = excluded.batch_id, phase = excluded.phase, finished_at = excluded.finished_at",
        params![run_id, s.step as i64, s.rollback, s.batch_id, s.phase.as_str(), s.started_at, s.finished_at],
    )?;
    Ok(())
}
