//! The one door for VM state. Every observation — from an operation's
//! tracking, a periodic sync, a change feed or a schedule — comes through
//! [`reconcile`]; it compares with the stored rows and, in one transaction,
//! writes what differs plus a history entry per state change, then publishes
//! one event. Nothing else writes a VM's state.

use crate::events::{Event, EventBus, VmChange};
use crate::model::{now_ms, Initiator, Millis, Observation, OpKind, PowerState, Source, ToolsStatus, Vm};
use crate::store::outbox::{self, Change, VmMoved};
use crate::store::{Store, StoreError};
use rusqlite::{params, OptionalExtension, Transaction};
use std::collections::{HashMap, HashSet};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReconcileError {
    #[error("the provider sent data Powerdeck cannot use: {0}; nothing was changed")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for ReconcileError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

pub struct Input<'a> {
    pub account_id: i64,
    pub observations: &'a [Observation],
    pub source: Source,
    /// Which stored VMs no longer exist at the provider.
    pub gone: Gone<'a>,
    /// Attribute changes to this just-finished operation: `(provider id, op id)`.
    pub closing: Option<(&'a str, i64)>,
}

/// How a batch says VMs have disappeared.
#[derive(Debug, Clone, Copy)]
pub enum Gone<'a> {
    /// It says nothing about VMs it does not mention.
    Nothing,
    /// The observations are the provider's complete inventory: every VM not
    /// in it is gone.
    Unlisted,
    /// The provider named these ids as removed (a change feed's `leave`).
    These(&'a [String]),
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// VM rows written (state, raw state, tools, name, location or staleness differed).
    pub rows_changed: usize,
    /// Of those, how many changed power state.
    pub state_changes: usize,
}

struct Stored {
    id: i64,
    name: String,
    state: String,
    raw_state: String,
    tools: Option<String>,
    location: Option<String>,
    facts: Option<String>,
    stale: bool,
    watched: bool,
    last_state_change_at: Millis,
}

/// What an unfinished operation does to how its VM is shown: a VM we asked
/// to change is shown as changing until the provider reports a different
/// state or the operation ends. Only once the provider accepted the request:
/// one not confirmed as sent changes nothing that can be seen.
struct InFlight {
    op_id: i64,
    kind: OpKind,
    previous: Option<PowerState>,
    /// Asked for by a schedule (the history says so).
    scheduled: bool,
}

/// The longest VM name stored; a longer one is cut with an ellipsis.
pub const MAX_NAME_CHARS: usize = 256;

pub fn reconcile(store: &Store, bus: &EventBus, input: Input) -> Result<Outcome, ReconcileError> {
    // Names and raw states are shown in terminals and in the window: they
    // are stored without escape sequences or control characters, whichever
    // provider sent them (a name that is nothing else keeps its id), and a
    // name longer than any screen shows is shortened, not refused.
    let cleaned: Vec<Observation>;
    let unfit = |o: &Observation| !crate::text::is_clean(&o.name) || !crate::text::is_clean(&o.raw_state) || o.name.len() > MAX_NAME_CHARS;
    let input = if input.observations.iter().any(unfit) {
        cleaned = input
            .observations
            .iter()
            .map(|o| {
                let name = crate::text::clean(&o.name);
                let name = if name.is_empty() { crate::text::clean(&o.provider_id) } else { name };
                let name =
                    if name.chars().count() > MAX_NAME_CHARS { format!("{}…", name.chars().take(MAX_NAME_CHARS - 1).collect::<String>()) } else { name };
                Observation { name, raw_state: crate::text::clean(&o.raw_state), ..o.clone() }
            })
            .collect();
        Input { observations: &cleaned, ..input }
    } else {
        input
    };
    // Validate everything first: a malformed batch changes nothing.
    let mut ids = HashSet::with_capacity(input.observations.len());
    for o in input.observations {
        o.validate().map_err(ReconcileError::Malformed)?;
        if !ids.insert(o.provider_id.as_str()) {
            return Err(ReconcileError::Malformed(format!("VM {} was listed twice", o.provider_id)));
        }
    }
    let now = now_ms();
    let (outcome, changes) = store.write(|tx| {
        let (outcome, changes) = apply(tx, &input, now).map_err(|e| match e {
            ReconcileError::Store(s) => s,
            ReconcileError::Malformed(m) => StoreError::Corrupt(m),
        })?;
        if matches!(input.gone, Gone::Unlisted) {
            // A complete listing: every VM of the account was seen now.
            crate::store::coverage::extend(tx, input.account_id, now)?;
        }
        if !changes.is_empty() {
            // Other processes learn of it from the outbox, in this same transaction.
            let vms = changes.iter().map(|c| VmMoved { id: c.vm.id, from: c.from, drift: c.drift, op: c.operation_id }).collect();
            outbox::append(tx, store.origin(), &Change::Vms { source: input.source, vms }, now)?;
        }
        Ok((outcome, changes))
    })?;
    if !changes.is_empty() {
        bus.publish(Event::VmsChanged { source: input.source, changes });
    }
    Ok(outcome)
}

fn apply(tx: &Transaction, input: &Input, now: Millis) -> Result<(Outcome, Vec<VmChange>), ReconcileError> {
    let account: String = tx
        .query_row("SELECT name FROM accounts WHERE id = ?1", [input.account_id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::Corrupt(format!("account {} no longer exists", input.account_id)))?;
    let in_flight = in_flight(tx, input.account_id)?;
    let mut out = Outcome::default();
    let mut changes = Vec::new();

    let mut get = tx.prepare_cached(
        "SELECT id, name, state, raw_state, tools, location, stale, watched, last_state_change_at, facts FROM vms WHERE account_id = ?1 AND provider_id = ?2",
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO vms (account_id, provider_id, name, state, raw_state, tools, location, stale, last_seen_at, last_state_change_at, facts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8, ?9)",
    )?;
    let mut update = tx.prepare_cached(
        "UPDATE vms SET name = ?2, state = ?3, raw_state = ?4, tools = ?5, location = ?6, stale = 0, last_seen_at = ?7, last_state_change_at = ?8, facts = ?9 WHERE id = ?1",
    )?;

    for obs in input.observations {
        let flight = in_flight.get(&obs.provider_id);
        let state = match flight {
            Some(f) if Some(obs.state) == f.previous && obs.state != f.kind.transitional() => f.kind.transitional(),
            _ => obs.state,
        };
        let (source, op_id) = match (flight, input.closing) {
            (Some(f), _) => (op_source(f.scheduled), Some(f.op_id)),
            (None, Some((pid, op))) if pid == obs.provider_id => {
                let initiator: Option<String> = tx.query_row("SELECT initiator FROM operations WHERE id = ?1", [op], |r| r.get(0)).optional()?.flatten();
                (op_source(initiator.as_deref() == Some(Initiator::Schedule.as_str())), Some(op))
            }
            _ => (input.source, None),
        };
        let tools = obs.tools.map(ToolsStatus::as_str);
        let stored: Option<Stored> = get
            .query_row(params![input.account_id, obs.provider_id], |r| {
                Ok(Stored {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    state: r.get(2)?,
                    raw_state: r.get(3)?,
                    tools: r.get(4)?,
                    location: r.get(5)?,
                    stale: r.get(6)?,
                    watched: r.get(7)?,
                    last_state_change_at: r.get(8)?,
                    facts: r.get(9)?,
                })
            })
            .optional()?;
        // A state-only read (EC2's DescribeInstanceStatus) carries no name:
        // keep the one we have, or show the id until a full listing names it.
        let name = match (&stored, obs.name.is_empty()) {
            (Some(s), true) => s.name.clone(),
            (None, true) => obs.provider_id.clone(),
            (_, false) => obs.name.clone(),
        };

        // Likewise facts: a reading without any keeps the stored ones.
        let facts = match (&stored, obs.facts.is_empty()) {
            (Some(s), true) => s.facts.clone(),
            (None, true) => None,
            (_, false) => Some(serde_json::to_string(&obs.facts).map_err(|e| ReconcileError::Malformed(e.to_string()))?),
        };

        let (vm_id, from, watched, changed_at) = match stored {
            None => {
                insert.execute(params![input.account_id, obs.provider_id, name, state.as_str(), obs.raw_state, tools, obs.location, now, facts])?;
                (tx.last_insert_rowid(), None, false, now)
            }
            Some(s) => {
                let unchanged = s.state == state.as_str()
                    && s.raw_state == obs.raw_state
                    && s.tools.as_deref() == tools
                    && s.name == name
                    && s.location == obs.location
                    && s.facts == facts
                    && !s.stale;
                if unchanged {
                    continue;
                }
                let from: PowerState = s.state.parse().map_err(|e: String| StoreError::Corrupt(e))?;
                let changed_at = if from != state { now } else { s.last_state_change_at };
                update.execute(params![s.id, name, state.as_str(), obs.raw_state, tools, obs.location, now, changed_at, facts])?;
                (s.id, Some(from), s.watched, changed_at)
            }
        };
        out.rows_changed += 1;
        if from != Some(state) {
            out.state_changes += 1;
            append_history(tx, vm_id, now, from, state, &obs.raw_state, source, op_id)?;
        }
        changes.push(VmChange {
            drift: from.is_some() && from != Some(state) && matches!(source, Source::Sync | Source::Feed),
            from,
            operation_id: op_id,
            vm: Vm {
                id: vm_id,
                account_id: input.account_id,
                account: account.clone(),
                provider_id: obs.provider_id.clone(),
                name,
                state,
                raw_state: obs.raw_state.clone(),
                tools: obs.tools,
                location: obs.location.clone(),
                facts: crate::store::vms::facts_from(facts),
                stale: false,
                watched,
                last_seen_at: now,
                last_state_change_at: changed_at,
            },
        });
    }
    drop((get, insert, update));

    let listed: HashSet<&str> = input.observations.iter().map(|o| o.provider_id.as_str()).collect();
    let is_gone = |pid: &str| match input.gone {
        Gone::Nothing => false,
        Gone::Unlisted => !listed.contains(pid),
        // A VM both removed and observed in one batch came back: trust the observation.
        Gone::These(ids) => ids.iter().any(|g| g == pid) && !listed.contains(pid),
    };
    if !matches!(input.gone, Gone::Nothing) {
        let gone = mark_missing(tx, input, &account, is_gone, now)?;
        out.rows_changed += gone.len();
        out.state_changes += gone.len();
        changes.extend(gone);
    }
    Ok((out, changes))
}

fn in_flight(tx: &Transaction, account_id: i64) -> Result<HashMap<String, InFlight>, ReconcileError> {
    let mut stmt = tx.prepare_cached(
        "SELECT v.provider_id, o.id, o.kind, o.previous_state, o.initiator FROM operations o JOIN vms v ON v.id = o.vm_id
         WHERE v.account_id = ?1 AND o.phase IN ('tracking', 'verifying')",
    )?;
    let rows = stmt.query_map([account_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?, r.get::<_, Option<String>>(4)?))
    })?;
    let mut map = HashMap::new();
    for row in rows {
        let (pid, op_id, kind, prev, initiator) = row?;
        let kind = OpKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("unknown operation kind '{kind}'")))?;
        let scheduled = initiator.as_deref() == Some(Initiator::Schedule.as_str());
        map.insert(pid, InFlight { op_id, kind, previous: prev.and_then(|p| p.parse().ok()), scheduled });
    }
    Ok(map)
}

/// The history source of a change an operation made: a schedule's own, so
/// the history says who did it.
fn op_source(scheduled: bool) -> Source {
    if scheduled {
        Source::Schedule
    } else {
        Source::Operation
    }
}

#[allow(clippy::too_many_arguments)]
fn append_history(
    tx: &Transaction,
    vm_id: i64,
    at: Millis,
    from: Option<PowerState>,
    to: PowerState,
    raw: &str,
    source: Source,
    op: Option<i64>,
) -> Result<(), ReconcileError> {
    tx.prepare_cached("INSERT INTO history (vm_id, at, from_state, to_state, raw_state, source, operation_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
        .execute(params![vm_id, at, from.map(|f| f.as_str()), to.as_str(), raw, source.as_str(), op])?;
    Ok(())
}

const NOT_LISTED: &str = "(not listed by the provider)";

fn mark_missing(tx: &Transaction, input: &Input, account: &str, is_gone: impl Fn(&str) -> bool, now: Millis) -> Result<Vec<VmChange>, ReconcileError> {
    struct Candidate {
        id: i64,
        pid: String,
        name: String,
        state: String,
        tools: Option<String>,
        location: Option<String>,
        facts: Option<String>,
        watched: bool,
    }
    let mut stmt =
        tx.prepare_cached("SELECT id, provider_id, name, state, tools, location, facts, watched FROM vms WHERE account_id = ?1 AND state != 'missing'")?;
    let candidates: Vec<Candidate> = stmt
        .query_map([input.account_id], |r| {
            Ok(Candidate {
                id: r.get(0)?,
                pid: r.get(1)?,
                name: r.get(2)?,
                state: r.get(3)?,
                tools: r.get(4)?,
                location: r.get(5)?,
                facts: r.get(6)?,
                watched: r.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut changes = Vec::new();
    for c in candidates.into_iter().filter(|c| is_gone(&c.pid)) {
        let from: PowerState = c.state.parse().map_err(|e: String| StoreError::Corrupt(e))?;
        tx.execute(
            "UPDATE vms SET state = 'missing', raw_state = ?2, stale = 0, last_seen_at = ?3, last_state_change_at = ?3 WHERE id = ?1",
            params![c.id, NOT_LISTED, now],
        )?;
        append_history(tx, c.id, now, Some(from), PowerState::Missing, NOT_LISTED, input.source, None)?;
        changes.push(VmChange {
            drift: true,
            from: Some(from),
            operation_id: None,
            vm: Vm {
                id: c.id,
                account_id: input.account_id,
                account: account.to_string(),
                provider_id: c.pid,
                name: c.name,
                state: PowerState::Missing,
                raw_state: NOT_LISTED.into(),
                tools: c.tools.as_deref().and_then(ToolsStatus::parse),
                location: c.location,
                facts: crate::store::vms::facts_from(c.facts),
                stale: false,
                watched: c.watched,
                last_seen_at: now,
                last_state_change_at: now,
            },
        });
    }
    Ok(changes)
}

/// The provider could not be reached: keep every VM's last state but mark it
/// stale, with the last time the provider answered. Returns how many VMs
/// turned stale.
pub fn mark_stale(store: &Store, bus: &EventBus, account_id: i64, reason: &str) -> Result<usize, ReconcileError> {
    let (count, account, last) = store.write(|tx| {
        let (account, last): (String, Option<Millis>) =
            tx.query_row("SELECT name, last_contact_at FROM accounts WHERE id = ?1", [account_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let n = tx.execute(
            "UPDATE vms SET stale = 1, last_seen_at = MAX(last_seen_at, COALESCE(?2, 0)) WHERE account_id = ?1 AND stale = 0 AND state != 'missing'",
            params![account_id, last],
        )?;
        if n > 0 {
            outbox::append(tx, store.origin(), &Change::Stale { account_id, count: n, last_seen_at: last, reason: reason.to_string() }, now_ms())?;
        }
        Ok((n, account, last))
    })?;
    if count > 0 {
        bus.publish(Event::VmsStale { account_id, account, count, last_seen_at: last, reason: reason.to_string() });
    }
    Ok(count)
}
