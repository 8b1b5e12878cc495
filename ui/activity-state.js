// The Activity table's rows, as plain data: loaded from the store once, then
// kept up to date from the engine's events (an operation moves on, a VM
// changes outside Powerdeck), so an open Activity view never queries the
// store again for each event batch.
//
// Who did it: today the window can tell its own operations (journalled by
// Powerdeck, whichever front end asked) from changes made outside Powerdeck
// (drift). The engine does not record yet which front end asked; when it
// does, `initiator` carries it.

import { ACTION_LABELS, TERMINAL } from "./state.js";

/** @typedef {import("./types").Operation} Operation */
/** @typedef {import("./types").Drift} Drift */
/** @typedef {import("./types").Activity} Activity */
/** @typedef {import("./types").EngineEvent} EngineEvent */

export const INITIATOR_POWERDECK = "Powerdeck";
export const INITIATOR_DRIFT = "outside (drift)";
export const INITIATOR_SCHEDULE = "Schedule";
export const INITIATOR_RUNBOOK = "Runbook";

/** Who asked, as the table says it: a schedule or a runbook by name of its kind, anyone else is Powerdeck. @param {Operation} op */
function initiatorOf(op) {
  if (op.initiator === "schedule") return INITIATOR_SCHEDULE;
  if (op.initiator === "runbook") return INITIATOR_RUNBOOK;
  return INITIATOR_POWERDECK;
}
/** The table keeps this many rows, newest first. */
export const KEEP = 1000;

/**
 * @typedef {object} Entry
 * @property {string} key
 * @property {number} at
 * @property {number} vmId
 * @property {string} vm
 * @property {string} account
 * @property {string} action
 * @property {string} initiator
 * @property {"succeeded" | "failed" | "timed out" | "cancelled" | "in flight" | "observed"} result
 * @property {string} detail
 * @property {number | null} durationMs  null while in flight, or for drift
 */

/** @typedef {{ loaded: boolean, entries: Map<string, Entry> }} ActivityState */

/** @returns {ActivityState} */
export function createActivity() {
  return { loaded: false, entries: new Map() };
}

/** @param {Operation} op @returns {Entry} */
export function fromOperation(op) {
  // Every phase that ends an operation (the served vocabulary) reads as what it is; the rest are in flight.
  const result = TERMINAL.has(op.phase) ? /** @type {Entry["result"]} */ (op.phase.replace("-", " ")) : "in flight";
  const detail = [op.shutdown_method ?? "", op.error ?? ""].filter(Boolean).join(" · ");
  return {
    key: `op:${op.id}`,
    at: op.requested_at,
    vmId: op.vm_id,
    vm: op.vm_name,
    account: op.account,
    action: ACTION_LABELS[op.kind],
    initiator: initiatorOf(op),
    result,
    detail,
    durationMs: op.finished_at === null ? null : op.finished_at - op.requested_at,
  };
}

/**
 * @param {{ vmId: number, vm: string, account: string, at: number, from: string | null, to: string, raw: string, source: string }} d
 * @returns {Entry}
 */
function driftEntry(d) {
  return {
    key: `drift:${d.vmId}:${d.at}:${d.to}`,
    at: d.at,
    vmId: d.vmId,
    vm: d.vm,
    account: d.account,
    action: `${d.from ?? "?"} → ${d.to}`,
    initiator: INITIATOR_DRIFT,
    result: "observed",
    detail: `${d.raw}, seen by ${d.source}`,
    durationMs: null,
  };
}

/** @param {Drift} d */
export function fromDrift(d) {
  return driftEntry({ vmId: d.entry.vm_id, vm: d.vm, account: d.account, at: d.entry.at, from: d.entry.from_state, to: d.entry.to_state, raw: d.entry.raw_state, source: d.entry.source });
}

/** @param {ActivityState} a */
function trim(a) {
  if (a.entries.size <= KEEP) return;
  const oldest = [...a.entries.values()].sort((x, y) => x.at - y.at).slice(0, a.entries.size - KEEP);
  for (const e of oldest) a.entries.delete(e.key);
}

/** @param {ActivityState} a @param {Activity} activity */
export function loadActivity(a, activity) {
  for (const op of activity.operations) a.entries.set(`op:${op.id}`, fromOperation(op));
  for (const d of activity.drift) {
    const e = fromDrift(d);
    a.entries.set(e.key, e);
  }
  a.loaded = true;
  trim(a);
}

/**
 * Apply an event batch; true if the table changed. Before the first load
 * there is nothing to update (the load brings it all).
 * @param {ActivityState} a @param {EngineEvent[]} events
 */
export function applyActivityEvents(a, events) {
  if (!a.loaded) return false;
  let changed = false;
  for (const ev of events) {
    if (ev.type === "operation") {
      a.entries.set(`op:${ev.op.id}`, fromOperation(ev.op));
      changed = true;
    } else if (ev.type === "vms-changed") {
      for (const c of ev.changes) {
        if (!c.drift) continue;
        const e = driftEntry({ vmId: c.vm.id, vm: c.vm.name, account: c.vm.account, at: c.vm.last_state_change_at, from: c.from, to: c.vm.state, raw: c.vm.raw_state, source: ev.source });
        a.entries.set(e.key, e);
        changed = true;
      }
    }
  }
  if (changed) trim(a);
  return changed;
}

/**
 * @typedef {object} ActivityFilter
 * @property {string} vm        part of a VM's name
 * @property {string} result    a result, or "" for all
 * @property {string} initiator an initiator, or "" for all
 */

/** Newest first. @param {ActivityState} a @param {ActivityFilter} f @returns {Entry[]} */
export function listActivity(a, f) {
  const q = f.vm.trim().toLowerCase();
  return [...a.entries.values()]
    .filter((e) => (!q || e.vm.toLowerCase().includes(q)) && (!f.result || e.result === f.result) && (!f.initiator || e.initiator === f.initiator))
    .sort((x, y) => y.at - x.at || (x.key < y.key ? 1 : -1));
}

/** How many are in flight (the table's own count). @param {ActivityState} a */
export function inFlightCount(a) {
  let n = 0;
  for (const e of a.entries.values()) if (e.result === "in flight") n++;
  return n;
}
