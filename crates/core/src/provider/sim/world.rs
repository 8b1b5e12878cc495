//! The simulated cloud's own state: a small SQLite file per demo account.
//!
//! It is the *provider's* truth, not Powerdeck's: kept apart from the
//! inventory store, shared by every process that talks to the fleet (the app,
//! `pdk`, a restarted process after a crash), and advanced lazily from the
//! wall clock, so a VM told to stop keeps stopping whether or not anyone is
//! watching.

use super::config::SimConfig;
use crate::model::{now_ms, Millis};
use crate::provider::{PowerAction, ProviderError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

pub const RUNNING: &str = "RUNNING";
pub const STOPPED: &str = "STOPPED";
pub const SUSPENDED: &str = "SUSPENDED";
pub const STARTING: &str = "STARTING";
pub const STOPPING: &str = "STOPPING";
pub const REBOOTING: &str = "REBOOTING";
pub const SUSPENDING: &str = "SUSPENDING";

/// How many feed entries are kept; a reader further behind must resync.
const FEED_RETENTION: i64 = 50_000;

const ROLES: [&str; 12] = ["web", "api", "db", "cache", "batch", "ci", "mq", "ldap", "log", "edge", "build", "report"];

#[derive(Debug, Clone, PartialEq)]
pub struct SimVm {
    pub idx: i64,
    pub id: String,
    pub name: String,
    pub region: String,
    pub host: String,
    pub raw: String,
    pub tools: &'static str,
}

pub struct World {
    conn: Mutex<Connection>,
    cfg: SimConfig,
    /// Signalled when this process changed the fleet, so its feed reader
    /// wakes at once instead of at its next look.
    news: tokio::sync::Notify,
}

fn sql_err(e: rusqlite::Error) -> ProviderError {
    ProviderError::Provider { code: "SimulatorStorage".into(), message: e.to_string(), retryable: true }
}

impl World {
    /// Open the fleet at `path`, creating and populating it from the seed if new.
    pub fn open(path: &Path, cfg: &SimConfig) -> Result<Self, ProviderError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ProviderError::Provider {
                code: "SimulatorStorage".into(),
                message: format!("cannot create {}: {e}", dir.display()),
                retryable: false,
            })?;
        }
        let mut conn = Connection::open(path).map_err(sql_err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(sql_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sql_err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS vms (
                idx INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
                region TEXT NOT NULL, host TEXT NOT NULL, raw TEXT NOT NULL,
                tools_installed INTEGER NOT NULL, stubborn INTEGER NOT NULL,
                pending_raw TEXT, pending_at INTEGER, pending_job TEXT);
             CREATE INDEX IF NOT EXISTS vms_pending ON vms(pending_at) WHERE pending_at IS NOT NULL;
             CREATE TABLE IF NOT EXISTS jobs (
                id TEXT PRIMARY KEY, vm_idx INTEGER NOT NULL, action TEXT NOT NULL,
                status TEXT NOT NULL, outcome TEXT NOT NULL, message TEXT);
             CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, idx INTEGER NOT NULL);",
        )
        .map_err(sql_err)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
        let populated: Option<i64> = tx.query_row("SELECT value FROM meta WHERE key='created'", [], |r| r.get(0)).optional().map_err(sql_err)?;
        if populated.is_none() {
            populate(&tx, cfg).map_err(sql_err)?;
        }
        tx.commit().map_err(sql_err)?;
        Ok(Self { conn: Mutex::new(conn), cfg: cfg.clone(), news: tokio::sync::Notify::new() })
    }

    /// Resolves when this process next changes the fleet (or at once, if it
    /// did since the last wait).
    pub async fn news(&self) {
        self.news.notified().await
    }

    /// `result` of a change to the fleet: on success, tell the feed reader.
    fn announce<T>(&self, result: Result<T, ProviderError>) -> Result<T, ProviderError> {
        if result.is_ok() {
            self.news.notify_one();
        }
        result
    }

    /// Run `f` in one write transaction after bringing the world up to now.
    fn with<T>(&self, f: impl FnOnce(&Transaction, &SimConfig, Millis) -> Result<T, ProviderError>) -> Result<T, ProviderError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
        let now = now_ms();
        advance(&tx, &self.cfg, now).map_err(sql_err)?;
        let out = f(&tx, &self.cfg, now)?;
        tx.commit().map_err(sql_err)?;
        Ok(out)
    }

    pub fn list(&self, after_idx: i64, limit: u32) -> Result<(Vec<SimVm>, Option<i64>), ProviderError> {
        self.with(|tx, _, _| {
            let mut stmt = tx.prepare_cached(&format!("{SELECT_VM} WHERE idx > ?1 ORDER BY idx LIMIT ?2")).map_err(sql_err)?;
            let vms: Vec<SimVm> = stmt.query_map(params![after_idx, limit], row_to_vm).map_err(sql_err)?.collect::<Result<_, _>>().map_err(sql_err)?;
            let last = vms.last().map(|v| v.idx);
            let more = match last {
                Some(l) => tx.query_row("SELECT EXISTS(SELECT 1 FROM vms WHERE idx > ?1)", [l], |r| r.get::<_, bool>(0)).map_err(sql_err)?,
                None => false,
            };
            Ok((vms, if more { last } else { None }))
        })
    }

    pub fn get_many(&self, ids: &[String]) -> Result<Vec<SimVm>, ProviderError> {
        self.with(|tx, _, _| {
            let mut stmt = tx.prepare_cached(&format!("{SELECT_VM} WHERE id = ?1")).map_err(sql_err)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(vm) = stmt.query_row([id], row_to_vm).optional().map_err(sql_err)? {
                    out.push(vm);
                }
            }
            Ok(out)
        })
    }

    /// Apply a power request the way a cloud would: check, accept, and
    /// schedule the transition. Returns the job id (if the action has one).
    pub fn submit(&self, id: &str, action: PowerAction) -> Result<(Option<String>, SimVm), ProviderError> {
        self.announce(self.with(|tx, cfg, now| {
            let vm: Option<(SimVm, bool, bool, bool)> = tx
                .query_row(&format!("{SELECT_VM_FULL} WHERE id = ?1"), [id], |r| {
                    Ok((row_to_vm(r)?, r.get::<_, bool>(6)?, r.get::<_, bool>(7)?, r.get::<_, Option<i64>>(8)?.is_some()))
                })
                .optional()
                .map_err(sql_err)?;
            let Some((vm, tools_installed, stubborn, busy)) = vm else {
                return Err(ProviderError::NotFound { what: format!("VM {id}") });
            };
            let refuse = |why: &str| Err(ProviderError::InvalidState { message: format!("{} is {}: {why}", vm.name, vm.raw.to_lowercase()) });
            let hard = matches!(action, PowerAction::PowerOff | PowerAction::Reset);
            if busy && !hard {
                return refuse("another change is in progress");
            }
            let (transitional, target, delay, has_job) = match action {
                PowerAction::Start if vm.raw == STOPPED || vm.raw == SUSPENDED => (STARTING, RUNNING, cfg.start_delay_ms, true),
                PowerAction::Start => return refuse("it cannot be started from this state"),
                PowerAction::ShutdownGuest | PowerAction::RebootGuest if vm.raw != RUNNING => return refuse("the guest is not running"),
                PowerAction::ShutdownGuest | PowerAction::RebootGuest if !tools_installed => {
                    return Err(ProviderError::InvalidState { message: format!("{}: guest tools are not installed, so the guest cannot be asked", vm.name) })
                }
                // A stubborn guest takes the request and does nothing with it.
                PowerAction::ShutdownGuest | PowerAction::RebootGuest if stubborn => return Ok((None, vm)),
                PowerAction::ShutdownGuest => (STOPPING, STOPPED, cfg.stop_delay_ms, false),
                PowerAction::RebootGuest => (REBOOTING, RUNNING, cfg.reboot_delay_ms, false),
                PowerAction::PowerOff if vm.raw == STOPPED => return refuse("it is already powered off"),
                PowerAction::PowerOff => (STOPPING, STOPPED, cfg.force_stop_delay_ms, true),
                PowerAction::Reset if vm.raw == RUNNING || vm.raw == REBOOTING => (REBOOTING, RUNNING, cfg.force_stop_delay_ms * 2, true),
                PowerAction::Reset => return refuse("only a running VM can be reset"),
                PowerAction::Suspend if vm.raw == RUNNING => (SUSPENDING, SUSPENDED, cfg.suspend_delay_ms, true),
                PowerAction::Suspend => return refuse("only a running VM can be suspended"),
                PowerAction::Hibernate | PowerAction::Deallocate => {
                    return Err(ProviderError::Unsupported { action: format!("{} a demo VM", action.as_str()) })
                }
            };
            let mut rng = event_rng(tx, cfg).map_err(sql_err)?;
            let roll: f64 = rng.random();
            if roll < cfg.failure_rate / 2.0 {
                return Err(ProviderError::Provider {
                    code: "InternalError".into(),
                    message: "simulated API failure; the request was not accepted".into(),
                    retryable: false,
                });
            }
            let fails_later = roll < cfg.failure_rate;
            let job = has_job.then(|| format!("job-{}-{}", vm.idx, now));
            let final_raw = if fails_later { vm.raw.as_str() } else { target };
            tx.execute(
                "UPDATE vms SET raw = ?2, pending_raw = ?3, pending_at = ?4, pending_job = ?5 WHERE idx = ?1",
                params![vm.idx, transitional, final_raw, now + delay as i64, job],
            )
            .map_err(sql_err)?;
            if let Some(j) = &job {
                let (outcome, message) = if fails_later { ("failed", Some("simulated host failure during the operation")) } else { ("succeeded", None) };
                tx.execute(
                    "INSERT INTO jobs (id, vm_idx, action, status, outcome, message) VALUES (?1, ?2, ?3, 'running', ?4, ?5)",
                    params![j, vm.idx, action.as_str(), outcome, message],
                )
                .map_err(sql_err)?;
            }
            record_change(tx, vm.idx).map_err(sql_err)?;
            let now_vm = SimVm { raw: transitional.to_string(), tools: tools_for(transitional, tools_installed), ..vm };
            Ok((job, now_vm))
        }))
    }

    /// `(status, message)` of a job; `None` if the job is unknown.
    pub fn job(&self, id: &str) -> Result<Option<(String, Option<String>)>, ProviderError> {
        Ok(self.jobs(&[id.to_string()])?.remove(id))
    }

    /// Several jobs' status and message at once; jobs not found are absent.
    pub fn jobs(&self, ids: &[String]) -> Result<HashMap<String, (String, Option<String>)>, ProviderError> {
        self.with(|tx, _, _| {
            let mut stmt = tx.prepare_cached("SELECT status, message FROM jobs WHERE id = ?1").map_err(sql_err)?;
            let mut out = HashMap::with_capacity(ids.len());
            for id in ids {
                if let Some(found) = stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(sql_err)? {
                    out.insert(id.clone(), found);
                }
            }
            Ok(out)
        })
    }

    /// VMs changed after feed position `seq`: `(vms, new_seq, gap)`. `gap` is
    /// true when entries after `seq` were already pruned.
    pub fn changes_since(&self, seq: i64, limit: u32) -> Result<(Vec<SimVm>, i64, bool), ProviderError> {
        self.with(|tx, _, _| {
            let oldest: Option<i64> = tx.query_row("SELECT MIN(seq) FROM changes", [], |r| r.get(0)).map_err(sql_err)?;
            let gap = matches!(oldest, Some(o) if o > seq + 1) && seq > 0;
            let mut stmt = tx.prepare_cached("SELECT seq, idx FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2").map_err(sql_err)?;
            let rows: Vec<(i64, i64)> =
                stmt.query_map(params![seq, limit], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sql_err)?.collect::<Result<_, _>>().map_err(sql_err)?;
            let new_seq = rows.last().map(|r| r.0).unwrap_or(seq);
            let mut idxs: Vec<i64> = rows.into_iter().map(|r| r.1).collect();
            idxs.sort_unstable();
            idxs.dedup();
            let mut get = tx.prepare_cached(&format!("{SELECT_VM} WHERE idx = ?1")).map_err(sql_err)?;
            let mut vms = Vec::with_capacity(idxs.len());
            for i in idxs {
                vms.push(get.query_row([i], row_to_vm).map_err(sql_err)?);
            }
            Ok((vms, new_seq, gap))
        })
    }

    pub fn latest_seq(&self) -> Result<i64, ProviderError> {
        self.with(|tx, _, _| tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| r.get(0)).map_err(sql_err))
    }

    /// When the next scheduled transition lands, so a feed reader can wake for it.
    pub fn next_due_at(&self) -> Result<Option<Millis>, ProviderError> {
        self.with(|tx, _, _| tx.query_row("SELECT MIN(pending_at) FROM vms WHERE pending_at IS NOT NULL", [], |r| r.get(0)).map_err(sql_err))
    }

    // ---- Controls: the chaos knobs a test or benchmark turns from outside. ----

    /// Make the whole fleet unreachable until `until`.
    pub fn set_outage_until(&self, until: Millis) -> Result<(), ProviderError> {
        self.with(|tx, _, _| set_meta(tx, "outage_until", until).map_err(sql_err))
    }

    /// Whether a feed reader at `seq` may have something new: a change
    /// recorded (here or by another process), a transition due, or drift to
    /// roll. Read-only, so an idle reader costs no write transaction (and no
    /// fsync) each time it looks.
    pub fn may_have_news(&self, seq: i64) -> Result<bool, ProviderError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let now = now_ms();
        // Both read one row of an index (cached statements: this runs once a
        // second per demo account).
        let one = |sql: &str| -> Result<Option<i64>, ProviderError> {
            let mut stmt = conn.prepare_cached(sql).map_err(sql_err)?;
            stmt.query_row([], |r| r.get(0)).optional().map_err(sql_err)
        };
        if one("SELECT seq FROM changes ORDER BY seq DESC LIMIT 1")?.is_some_and(|latest| latest > seq) {
            return Ok(true);
        }
        if one("SELECT pending_at FROM vms WHERE pending_at IS NOT NULL ORDER BY pending_at LIMIT 1")?.is_some_and(|t| t <= now) {
            return Ok(true);
        }
        // Drift is rolled for the time since the last advance: once a second is as often as it needs.
        Ok(self.cfg.drift_per_hour > 0.0 && now - get_meta(&conn, "last_advance").map_err(sql_err)? >= 1000)
    }

    pub fn outage_until(&self) -> Result<Millis, ProviderError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        get_meta(&conn, "outage_until").map_err(sql_err)
    }

    /// The next inventory page will carry a VM without an id.
    pub fn corrupt_next_page(&self) -> Result<(), ProviderError> {
        self.with(|tx, _, _| set_meta(tx, "malformed_next", 1).map_err(sql_err))
    }

    pub fn take_corruption(&self) -> Result<bool, ProviderError> {
        self.with(|tx, _, _| {
            let on = get_meta(tx, "malformed_next").map_err(sql_err)? == 1;
            if on {
                set_meta(tx, "malformed_next", 0).map_err(sql_err)?;
            }
            Ok(on)
        })
    }

    /// Change a VM's power state out of band, as another admin's tool would.
    pub fn set_raw(&self, id: &str, raw: &str) -> Result<(), ProviderError> {
        self.announce(self.with(|tx, _, _| {
            let idx: i64 = tx
                .query_row("SELECT idx FROM vms WHERE id = ?1", [id], |r| r.get(0))
                .optional()
                .map_err(sql_err)?
                .ok_or_else(|| ProviderError::NotFound { what: format!("VM {id}") })?;
            tx.execute("UPDATE vms SET raw = ?2, pending_raw = NULL, pending_at = NULL, pending_job = NULL WHERE idx = ?1", params![idx, raw])
                .map_err(sql_err)?;
            record_change(tx, idx).map_err(sql_err)
        }))
    }

    /// Flip up to `count` settled VMs (running ↔ stopped) at once, as a
    /// scheduler or another admin's bulk action would. Returns how many.
    pub fn flip(&self, count: u32) -> Result<usize, ProviderError> {
        self.announce(self.with(|tx, _, _| {
            let idxs: Vec<i64> = {
                let mut stmt =
                    tx.prepare("SELECT idx FROM vms WHERE pending_at IS NULL AND raw IN ('RUNNING', 'STOPPED') ORDER BY idx LIMIT ?1").map_err(sql_err)?;
                let rows = stmt.query_map([count], |r| r.get(0)).map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)?
            };
            for idx in &idxs {
                tx.execute("UPDATE vms SET raw = CASE raw WHEN 'RUNNING' THEN 'STOPPED' ELSE 'RUNNING' END WHERE idx = ?1", [idx]).map_err(sql_err)?;
                record_change(tx, *idx).map_err(sql_err)?;
            }
            Ok(idxs.len())
        }))
    }

    /// Mark guests as ignoring (or honouring) graceful requests.
    pub fn set_stubborn(&self, id: &str, stubborn: bool) -> Result<(), ProviderError> {
        self.with(|tx, _, _| {
            let n = tx.execute("UPDATE vms SET stubborn = ?2 WHERE id = ?1", params![id, stubborn]).map_err(sql_err)?;
            if n == 0 {
                return Err(ProviderError::NotFound { what: format!("VM {id}") });
            }
            Ok(())
        })
    }

    /// Delete a VM outright, as someone might in the provider's console.
    pub fn remove(&self, id: &str) -> Result<(), ProviderError> {
        self.with(|tx, _, _| {
            let n = tx.execute("DELETE FROM vms WHERE id = ?1", [id]).map_err(sql_err)?;
            if n == 0 {
                return Err(ProviderError::NotFound { what: format!("VM {id}") });
            }
            Ok(())
        })
    }

    /// Every VM's current raw state: the ground truth a chaos run samples.
    pub fn truth(&self) -> Result<Vec<(String, String)>, ProviderError> {
        self.with(|tx, _, _| {
            let mut stmt = tx.prepare_cached("SELECT id, raw FROM vms ORDER BY idx").map_err(sql_err)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sql_err)?.collect::<Result<_, _>>().map_err(sql_err)?;
            Ok(rows)
        })
    }
}

const SELECT_VM: &str = "SELECT idx, id, name, region, host, raw, tools_installed FROM vms";
const SELECT_VM_FULL: &str = "SELECT idx, id, name, region, host, raw, tools_installed, stubborn, pending_at FROM vms";

fn row_to_vm(r: &rusqlite::Row) -> rusqlite::Result<SimVm> {
    let raw: String = r.get(5)?;
    let installed: bool = r.get(6)?;
    Ok(SimVm { idx: r.get(0)?, id: r.get(1)?, name: r.get(2)?, region: r.get(3)?, host: r.get(4)?, tools: tools_for(&raw, installed), raw })
}

fn tools_for(raw: &str, installed: bool) -> &'static str {
    match (installed, raw) {
        (false, _) => "not-installed",
        (true, RUNNING) => "running",
        _ => "not-running",
    }
}

fn get_meta(conn: &Connection, key: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional().map(|v| v.unwrap_or(0))
}

fn set_meta(conn: &Connection, key: &str, value: i64) -> rusqlite::Result<()> {
    conn.execute("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", params![key, value]).map(|_| ())
}

fn record_change(tx: &Transaction, idx: i64) -> rusqlite::Result<()> {
    tx.execute("INSERT INTO changes (idx) VALUES (?1)", [idx])?;
    let seq = tx.last_insert_rowid();
    if seq % 1000 == 0 {
        tx.execute("DELETE FROM changes WHERE seq <= ?1", [seq - FEED_RETENTION])?;
    }
    Ok(())
}

/// A fresh generator for the next random event, derived from the seed and a
/// persisted counter, so a seeded fleet replays the same sequence of events.
fn event_rng(tx: &Transaction, cfg: &SimConfig) -> rusqlite::Result<ChaCha8Rng> {
    let n = get_meta(tx, "events")? + 1;
    set_meta(tx, "events", n)?;
    Ok(ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n as u64))
}

fn populate(tx: &Transaction, cfg: &SimConfig) -> rusqlite::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut per_role = [0u32; ROLES.len()];
    let mut stmt = tx.prepare("INSERT INTO vms (idx, id, name, region, host, raw, tools_installed, stubborn) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?;
    for idx in 1..=i64::from(cfg.size) {
        let role = rng.random_range(0..ROLES.len());
        per_role[role] += 1;
        let region = &cfg.regions[rng.random_range(0..cfg.regions.len())];
        let host = format!("{region}-host{:02}", rng.random_range(1..=8));
        let roll: f64 = rng.random();
        let raw = if roll < 0.75 {
            RUNNING
        } else if roll < 0.95 {
            STOPPED
        } else {
            SUSPENDED
        };
        let tools_installed = rng.random::<f64>() >= 0.05;
        let stubborn = rng.random::<f64>() < cfg.stubborn_rate;
        let name = format!("{}-{:03}", ROLES[role], per_role[role]);
        stmt.execute(params![idx, format!("vm-{:06}", idx), name, region, host, raw, tools_installed, stubborn])?;
    }
    let now = now_ms();
    set_meta(tx, "created", now)?;
    set_meta(tx, "last_advance", now)?;
    Ok(())
}

/// Bring the world from its last advance up to `now`: land due transitions,
/// then let out-of-band changes happen at the configured rate.
fn advance(tx: &Transaction, cfg: &SimConfig, now: Millis) -> rusqlite::Result<()> {
    let last = get_meta(tx, "last_advance")?;
    if now <= last {
        return Ok(());
    }
    let due: Vec<(i64, String, Option<String>)> = {
        let mut stmt =
            tx.prepare_cached("SELECT idx, pending_raw, pending_job FROM vms WHERE pending_at IS NOT NULL AND pending_at <= ?1 ORDER BY pending_at")?;
        let rows = stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (idx, raw, job) in due {
        tx.execute("UPDATE vms SET raw = ?2, pending_raw = NULL, pending_at = NULL, pending_job = NULL WHERE idx = ?1", params![idx, raw])?;
        if let Some(j) = job {
            tx.execute("UPDATE jobs SET status = outcome WHERE id = ?1", [j])?;
        }
        record_change(tx, idx)?;
    }

    let expected = cfg.drift_per_hour * f64::from(cfg.size) * (now - last) as f64 / 3_600_000.0;
    if expected > 0.0 {
        let mut rng = event_rng(tx, cfg)?;
        let whole = expected.floor();
        let count = (whole as u64 + u64::from(rng.random::<f64>() < expected - whole)).min(u64::from(cfg.size));
        for _ in 0..count {
            let idx = rng.random_range(1..=i64::from(cfg.size));
            let row: Option<(String, Option<i64>)> =
                tx.query_row("SELECT raw, pending_at FROM vms WHERE idx = ?1", [idx], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
            let Some((raw, None)) = row else { continue };
            let (now_raw, then_raw, delay) = match raw.as_str() {
                RUNNING => (STOPPING, STOPPED, cfg.stop_delay_ms),
                STOPPED | SUSPENDED => (STARTING, RUNNING, cfg.start_delay_ms),
                _ => continue,
            };
            tx.execute("UPDATE vms SET raw = ?2, pending_raw = ?3, pending_at = ?4 WHERE idx = ?1", params![idx, now_raw, then_raw, now + delay as i64])?;
            record_change(tx, idx)?;
        }
    }
    set_meta(tx, "last_advance", now)
}
