// The window's view of the inventory, as plain data and pure functions: no
// DOM, no IPC, so `node --test` checks it (tests/ui/). It applies what the
// engine sends and answers what a row shows, in which order, and what a
// selection may do. It never decides a VM's state: that is the engine's.
//
// Costs are kept proportional to what changed, never to the fleet: an event
// batch touches the VMs it names (a changed row moves to its place by binary
// search), the counts in the header are kept up to date as VMs change, and
// the operations in flight have their own map. Only a new filter or sort
// looks at every VM.

/** @typedef {import("./types").Vm} Vm */
/** @typedef {import("./types").Operation} Operation */
/** @typedef {import("./types").OpKind} OpKind */
/** @typedef {import("./types").AccountInfo} AccountInfo */
/** @typedef {import("./types").Inventory} Inventory */
/** @typedef {import("./types").EngineEvent} EngineEvent */
/** @typedef {import("./types").PowerState} PowerState */

import { errorText } from "./error-text.js";
import { Fleet } from "./fleet.js";
import { agoChangesIn, count as grouped, untilNextStep } from "./format.js";
import { ACTIONS, ACTION_LABELS, BROKEN, DESTRUCTIVE, FALLBACK, GONE, HARD, HEALTH_LABELS, OFF, TARGETS, TERMINAL, TRANSITIONAL } from "./vocabulary.js";

// The backend's words, for the modules that take them from here.
export { ACTIONS, ACTION_LABELS, DESTRUCTIVE, TERMINAL, TRANSITIONAL };
/** Past its deadline by this much, an operation's row stops spinning and says so. */
export const LATE_AFTER_MS = 5000;
/** Above this many VMs, a confirmation asks to type the count. */
export const TYPE_COUNT_OVER = 10;


/**
 * How each sortable column reads a VM.
 * @type {Record<string, (vm: Vm) => string | number>}
 */
export const SORT_KEYS = {
  name: (vm) => vm.name,
  account: (vm) => vm.account,
  state: (vm) => vm.state,
  raw_state: (vm) => vm.raw_state,
  tools: (vm) => vm.tools ?? "",
  last_state_change_at: (vm) => vm.last_state_change_at,
  location: (vm) => vm.location ?? "",
  provider_id: (vm) => vm.provider_id,
};

/**
 * @typedef {object} View
 * @property {string} query   lower-cased search text
 * @property {string} state   a power state, or "" for all
 * @property {string} account an account id, or "" for all
 * @property {string} kind    a provider kind, or "" for all
 * @property {{ key: string, dir: 1 | -1 }} sort
 */

/**
 * @typedef {object} State
 * @property {Fleet} vms                      the inventory, in columns
 * @property {Map<number, AccountInfo>} accounts
 * @property {Map<number, Operation>} ops       VM id → its latest operation (in flight, or ended with something to say)
 * @property {Map<number, Operation>} inFlight  VM id → operation not yet ended
 * @property {{ stale: number, states: Map<string, number> }} counts
 * @property {View} view
 * @property {number[]} shown   VM ids that pass the filter, in sort order
 * @property {Set<number>} selected
 * @property {boolean} loaded
 */

/** @returns {State} */
export function createState() {
  return {
    vms: new Fleet(),
    accounts: new Map(),
    ops: new Map(),
    inFlight: new Map(),
    counts: { stale: 0, states: new Map() },
    view: { query: "", state: "", account: "", kind: "", sort: { key: "name", dir: 1 } },
    shown: [],
    selected: new Set(),
    loaded: false,
  };
}

// ---------- filter and sort ----------

/** @param {State} s @param {Vm} vm */
export function matches(s, vm) {
  const v = s.view;
  if (v.state && vm.state !== v.state) return false;
  if (v.account && String(vm.account_id) !== v.account) return false;
  if (v.kind && s.accounts.get(vm.account_id)?.kind !== v.kind) return false;
  const q = v.query;
  if (!q) return true;
  if (vm.name.toLowerCase().includes(q) || vm.provider_id.toLowerCase().includes(q) || vm.account.toLowerCase().includes(q) || (vm.location || "").toLowerCase().includes(q)) return true;
  for (const v of Object.values(vm.facts)) if (v?.toLowerCase().includes(q)) return true; // an IP, a UUID…
  return false;
}

/** The sort's order on two VMs' keys, their ids breaking ties. @param {string | number} x @param {string | number} y @param {number} a @param {number} b */
function order(x, y, a, b) {
  return x < y ? -1 : x > y ? 1 : a - b;
}

/** @param {State} s @returns {(a: Vm, b: Vm) => number} */
export function comparator(s) {
  const { key, dir } = s.view.sort;
  const get = SORT_KEYS[key] ?? SORT_KEYS.name;
  return (a, b) => order(get(a), get(b), a.id, b.id) * dir;
}

/**
 * Filter and sort the whole fleet: only when the filter or sort changes, or
 * on a (re)load. It reads the rows in place and sorts their keys: no object
 * is made per VM.
 * @param {State} s
 */
export function recompute(s) {
  const f = s.vms, cur = f.cursor();
  const get = SORT_KEYS[s.view.sort.key] ?? SORT_KEYS.name, dir = s.view.sort.dir;
  /** @type {number[]} */
  const ids = [];
  /** @type {(string | number)[]} */
  const keys = [];
  for (let row = 0; row < f.size; row++) {
    const vm = cur.to(row);
    if (!matches(s, vm)) continue;
    ids.push(vm.id);
    keys.push(get(vm));
  }
  /** @param {number} i @param {number} j */
  const cmp = (i, j) => order(keys[i], keys[j], ids[i], ids[j]) * dir;
  // The shell sends the inventory in the default order: checking is cheaper than sorting.
  let sorted = true;
  for (let i = 1; i < ids.length && sorted; i++) sorted = cmp(i - 1, i) <= 0;
  if (sorted) s.shown = ids;
  else s.shown = ids.map((_, i) => i).sort(cmp).map((i) => ids[i]);
}

/**
 * @param {State} s
 * @param {Partial<Omit<View, "sort">>} patch
 */
export function setFilter(s, patch) {
  Object.assign(s.view, patch);
  s.view.query = s.view.query.trim().toLowerCase();
  recompute(s);
}

/** A first click on "Last change" shows the newest first; a second click reverses. @param {State} s @param {string} key */
export function setSort(s, key) {
  const cur = s.view.sort;
  s.view.sort = cur.key === key ? { key, dir: cur.dir === 1 ? -1 : 1 } : { key, dir: key === "last_state_change_at" ? -1 : 1 };
  recompute(s);
}

/** @param {State} s @param {string} key @returns {"ascending" | "descending" | "none"} */
export function ariaSort(s, key) {
  if (s.view.sort.key !== key) return "none";
  return s.view.sort.dir === 1 ? "ascending" : "descending";
}

/**
 * First index in `shown` whose VM does not sort before `vm`.
 * @param {State} s @param {Vm} vm @param {(a: Vm, b: Vm) => number} cmp
 */
function lowerBound(s, vm, cmp) {
  const cur = s.vms.cursor();
  let lo = 0, hi = s.shown.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const other = /** @type {Vm} */ (cur.toId(s.shown[mid]));
    if (cmp(other, vm) < 0) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** Where a VM is in `shown`, or -1 (binary search: no scan). @param {State} s @param {number} id */
export function indexOf(s, id) {
  const vm = s.vms.get(id);
  if (!vm) return -1;
  const i = lowerBound(s, vm, comparator(s));
  return s.shown[i] === id ? i : -1;
}

// ---------- loading and events ----------

/** @param {State} s @param {Vm} vm @param {1 | -1} d */
function count(s, vm, d) {
  if (vm.stale) s.counts.stale += d;
  s.counts.states.set(vm.state, (s.counts.states.get(vm.state) ?? 0) + d);
}

/**
 * The whole inventory, at start and after a resync. Operations that were in
 * flight here but are no longer in flight there ended meanwhile: they stop
 * spinning now (the VM's verified state shows how it went).
 * @param {State} s @param {Inventory} inv
 */
export function loadInventory(s, inv) {
  s.vms = inv.vms;
  s.counts = { stale: 0, states: new Map() };
  const cur = s.vms.cursor();
  for (let row = 0; row < s.vms.size; row++) count(s, cur.to(row), 1);
  s.accounts = new Map(inv.accounts.map((a) => [a.id, a]));
  s.inFlight = new Map(inv.operations.map((op) => [op.vm_id, op]));
  for (const [vmId, op] of s.ops) {
    if (!s.vms.has(vmId) || (!TERMINAL.has(op.phase) && !s.inFlight.has(vmId))) s.ops.delete(vmId);
  }
  for (const op of inv.operations) s.ops.set(op.vm_id, op);
  for (const id of s.selected) if (!s.vms.has(id)) s.selected.delete(id);
  recompute(s);
  s.loaded = true;
}

/** Above this many moved rows in one batch, one merge beats one binary search each. */
const MERGE_OVER = 32;

/**
 * @typedef {object} Applied
 * @property {Set<number>} changed  VMs whose row may show something new
 * @property {boolean} reordered    `shown` changed (rows moved, came or went)
 * @property {boolean} statesChanged a power state appeared or disappeared
 * @property {string[]} messages    things to tell the admin (account errors)
 * @property {boolean} healthChanged an account broke or recovered
 */

/**
 * Apply one batch of engine events.
 * @param {State} s @param {EngineEvent[]} events @returns {Applied}
 */
export function applyEvents(s, events) {
  /** @type {Applied} */
  const out = { changed: new Set(), reordered: false, statesChanged: false, messages: [], healthChanged: false };
  const statesBefore = s.counts.states.size;
  /** @type {Map<number, Vm>} the last word on each VM in this batch */
  const latest = new Map();
  for (const ev of events) {
    switch (ev.type) {
      case "vms-changed":
        for (const c of ev.changes) latest.set(c.vm.id, c.vm);
        break;
      case "vms-stale":
        // Applied after the changes below would be wrong if a change in the
        // same batch came later; the engine sends stale marks on their own.
        flushChanges(s, latest, out);
        for (const id of s.vms.markStale(ev.account_id, ev.last_seen_at ?? null)) {
          s.counts.stale++;
          out.changed.add(id);
        }
        break;
      case "operation":
        if (noteOperation(s, ev.op)) out.changed.add(ev.op.vm_id);
        break;
      case "account-health": {
        const a = s.accounts.get(ev.account_id);
        if (a) s.accounts.set(ev.account_id, { ...a, health: ev.health });
        out.healthChanged = true;
        break;
      }
      case "account-error":
        // A broken account has its banner; a toast would say it twice.
        if (!isBroken(s.accounts.get(ev.account_id)?.health)) out.messages.push(`${ev.account}: ${ev.message}`);
        break;
    }
  }
  flushChanges(s, latest, out);
  for (const [st, n] of s.counts.states) if (n === 0) s.counts.states.delete(st);
  out.statesChanged = s.counts.states.size !== statesBefore || out.statesChanged;
  return out;
}

/**
 * Store changed VMs and move each row whose place changed.
 * @param {State} s @param {Map<number, Vm>} latest @param {Applied} out
 */
function flushChanges(s, latest, out) {
  if (latest.size === 0) return;
  const cmp = comparator(s);
  const key = SORT_KEYS[s.view.sort.key] ?? SORT_KEYS.name;
  /** @type {{ prev: Vm | undefined, vm: Vm, was: boolean, is: boolean }[]} */
  const moves = [];
  for (const [id, vm] of latest) {
    const prev = s.vms.get(id);
    const was = prev !== undefined && matches(s, prev);
    const is = matches(s, vm);
    if (!prev) {
      out.statesChanged ||= !s.counts.states.has(vm.state);
    } else {
      count(s, prev, -1);
      if (prev.state !== vm.state && !s.counts.states.has(vm.state)) out.statesChanged = true;
    }
    count(s, vm, 1);
    out.changed.add(id);
    if (was !== is || (is && prev !== undefined && key(prev) !== key(vm))) moves.push({ prev, vm, was, is });
    else s.vms.set(id, vm);
  }
  latest.clear();
  if (moves.length === 0) return;
  out.reordered = true;
  if (moves.length <= MERGE_OVER) {
    // Each move: out at the old place (found with the old values, which the
    // map still holds), in at the new one.
    for (const m of moves) {
      if (m.was && m.prev) {
        const at = lowerBound(s, m.prev, cmp);
        if (s.shown[at] === m.vm.id) s.shown.splice(at, 1);
      }
      s.vms.set(m.vm.id, m.vm);
      if (m.is) s.shown.splice(lowerBound(s, m.vm, cmp), 0, m.vm.id);
    }
    return;
  }
  // Many moves (a burst while sorted by state): one pass that drops the
  // movers and merges them back in at their places.
  const gone = new Set();
  for (const m of moves) {
    s.vms.set(m.vm.id, m.vm);
    if (m.was) gone.add(m.vm.id);
  }
  const incoming = moves.filter((m) => m.is).map((m) => m.vm).sort(cmp);
  /** @type {number[]} */
  const merged = [];
  const cur = s.vms.cursor();
  let j = 0;
  for (const id of s.shown) {
    if (gone.has(id)) continue;
    const vm = /** @type {Vm} */ (cur.toId(id));
    while (j < incoming.length && cmp(incoming[j], vm) < 0) merged.push(incoming[j++].id);
    merged.push(id);
  }
  while (j < incoming.length) merged.push(incoming[j++].id);
  s.shown = merged;
}

// ---------- what a row shows ----------

/** @param {State} s @param {Vm} vm */
export function activeOp(s, vm) {
  return s.inFlight.get(vm.id) ?? null;
}

/**
 * @typedef {object} Status
 * @property {"ok" | "waiting" | "late" | "failed" | "stale"} kind
 * @property {string} text
 * @property {number} [since] an elapsed-time clock runs from here
 * @property {number} [seenAt] "last seen … ago" counts from here
 * @property {string} [hint] what the operation in flight does next ("forcing in 75 s")
 */

/**
 * A failure's sentence where the VM is already named (its row, its details,
 * a line that starts with its name): without the engine's own "name: " in
 * front, so it never reads "api-001: api-001: …".
 * @param {string} name @param {string} text
 */
export function withoutName(name, text) {
  return text.startsWith(`${name}: `) ? text.slice(name.length + 2) : text;
}

/** @type {Record<string, string>} what a row says about who asked, when it was not someone at a keyboard */
const BY = { schedule: " (scheduled)", runbook: " (runbook)" };

/**
 * Waiting while an operation is in flight or the VM is passing through a
 * transitional state; a finished failure stays visible until the next action.
 * @param {State} s @param {Vm} vm @param {number} now @returns {Status}
 */
export function statusOf(s, vm, now) {
  const op = s.inFlight.get(vm.id);
  if (op) {
    if (now > op.deadline_at + LATE_AFTER_MS) return { kind: "late", text: `No verified state by the ${ACTION_LABELS[op.kind].toLowerCase()} deadline` };
    if (op.kind === "start" && op.wait_for_tools && vm.state === "running") return { kind: "waiting", text: "Powered on; waiting for guest tools…", since: op.requested_at };
    const hint = opProgress(op, now)?.short || undefined;
    return { kind: "waiting", text: `Waiting for status update…${BY[op.initiator ?? ""] ?? ""}`, since: op.requested_at, hint };
  }
  if (TRANSITIONAL.has(vm.state)) return { kind: "waiting", text: "Waiting for status update…", since: vm.last_state_change_at };
  const ended = s.ops.get(vm.id);
  if (ended && ended.phase === "failed") return { kind: "failed", text: `${ACTION_LABELS[ended.kind]} failed: ${ended.error ? withoutName(vm.name, ended.error) : "refused"}` };
  if (ended && ended.phase === "timed-out") return { kind: "failed", text: `${ACTION_LABELS[ended.kind]} timed out${ended.error ? `: ${withoutName(vm.name, ended.error)}` : ""}` };
  if (vm.stale) return { kind: "stale", text: "Provider unreachable — last seen", seenAt: vm.last_seen_at };
  return { kind: "ok", text: "" };
}

/**
 * Milliseconds until anything shown about this VM reads differently with
 * time alone (a clock, a countdown, an "… ago"), or Infinity: the window
 * wakes for its clocks no more often than they change.
 * `seen`: the last contact is on screen too (the details show it).
 * @param {State} s @param {Vm} vm @param {number} now @param {boolean} seen
 */
export function clockChangesIn(s, vm, now, seen) {
  // An operation in flight and a transitional state count whole seconds.
  if (s.inFlight.has(vm.id) || TRANSITIONAL.has(vm.state)) return 1000;
  const change = agoChangesIn(vm.last_state_change_at, now);
  return seen || vm.stale ? Math.min(change, agoChangesIn(vm.last_seen_at, now)) : change;
}

/** A countdown or a wait in whole seconds: "75 s", "9 min 59 s". @param {number} ms */
function secs(ms) {
  const t = Math.max(0, Math.ceil(ms / 1000));
  return t < 60 ? `${t} s` : t < 3600 ? `${Math.floor(t / 60)} min ${t % 60} s` : `${Math.floor(t / 3600)} h ${Math.floor((t % 3600) / 60)} min`;
}

/**
 * What an operation in flight is doing, in words: `text` for the details,
 * `short` for the row ("forcing in 75 s"), or null when there is nothing to
 * add to "Waiting for status update…".
 * @param {Operation} op @param {number} now @returns {{ text: string, short: string } | null}
 */
export function opProgress(op, now) {
  if (TERMINAL.has(op.phase)) return null;
  if (op.cancel_requested) return { text: "Cancelling: nothing more will be sent; the VM's state is read as it is.", short: "cancelling" };
  if (op.forced_at) return { text: `Forced ${secs(now - op.forced_at)} ago; waiting for the provider to confirm.`, short: "forced" };
  if (op.force_requested) return { text: "Forcing now, as asked.", short: "forcing now" };
  const sent = op.submitted_at ?? null;
  if (sent === null) return { text: `Asked ${secs(now - op.requested_at)} ago; waiting for the provider to accept.`, short: "" };
  const toDeadline = op.deadline_at - now;
  if (FALLBACK.has(op.kind) && op.graceful_timeout_ms > 0) {
    const noun = op.kind === "stop" ? "shutdown" : "reboot";
    const waited = `Guest has not responded to the ${noun} for ${secs(now - sent)}`;
    if (op.allow_force) {
      const toForce = sent + op.graceful_timeout_ms - now;
      return toForce > 0 ? { text: `${waited}; forcing in ${secs(toForce)}.`, short: `forcing in ${secs(toForce)}` } : { text: `${waited}; forcing now.`, short: "forcing now" };
    }
    return { text: `${waited}; the ${ACTION_LABELS[op.kind]?.toLowerCase() ?? op.kind} fails in ${secs(toDeadline)} unless it does (force is not allowed).`, short: `fails in ${secs(toDeadline)}` };
  }
  return { text: `Accepted ${secs(now - sent)} ago; gives up in ${secs(toDeadline)} without a verified state.`, short: "" };
}

/**
 * What can be done about this VM's operation in flight: cancel it (unless
 * asked already), force it now (a graceful stop or reboot not yet forced,
 * on an account that can force).
 * @param {State} s @param {Vm} vm @returns {{ op: Operation, cancel: boolean, force: boolean } | null}
 */
export function inFlightControls(s, vm) {
  const op = s.inFlight.get(vm.id);
  if (!op || TERMINAL.has(op.phase)) return null;
  const canForce = s.accounts.get(vm.account_id)?.offers?.can_force.includes(op.kind) ?? false;
  return {
    op,
    cancel: !op.cancel_requested,
    force: canForce && !op.forced_at && !op.force_requested && !op.cancel_requested,
  };
}

/**
 * The failed graceful action this VM's last operation could be retried
 * with force, or null: the guest ignored it or could not be asked, and
 * force was not allowed.
 * @param {State} s @param {Vm} vm @returns {OpKind | null}
 */
export function retryWithForce(s, vm) {
  const op = s.ops.get(vm.id);
  if (!op || s.inFlight.has(vm.id) || op.allow_force || !FALLBACK.has(op.kind)) return null;
  if (op.failure !== "graceful-ignored" && op.failure !== "graceful-impossible") return null;
  return actionsFor(s, vm).includes(op.kind) ? op.kind : null;
}

// ---------- account health ----------

/** Whether an account needs a person (served: the core's health words). @param {import("./types").Health | undefined} h */
export function isBroken(h) {
  return !!h && BROKEN.has(h.status);
}

/** An account's health in words: "cannot be reached for 5 min 3 s". @param {import("./types").Health} h @param {number} now */
export function healthText(h, now) {
  const words = HEALTH_LABELS[h.status] ?? h.status;
  return isBroken(h) && h.since !== null ? `${words} for ${clockText(now - h.since)}` : words;
}

/** @param {number} ms */
function clockText(ms) {
  const t = Math.max(0, Math.round(ms / 1000));
  return t < 60 ? `${t} s` : t < 3600 ? `${Math.floor(t / 60)} min` : `${Math.floor(t / 3600)} h ${Math.floor((t % 3600) / 60)} min`;
}

/** Milliseconds until the broken accounts' banner reads differently with time alone. @param {State} s @param {number} now */
export function healthChangesIn(s, now) {
  const since = [...s.accounts.values()].filter((a) => isBroken(a.health) && a.health.since !== null).map((a) => now - /** @type {number} */ (a.health.since));
  return since.reduce((soonest, e) => Math.min(soonest, untilNextStep(e, e < 59_500 ? 1 : 60)), Infinity);
}

/**
 * The broken accounts' banner, or null when every account answers.
 * @param {State} s @param {number} now @returns {{ text: string, accounts: AccountInfo[] } | null}
 */
export function healthBanner(s, now) {
  const broken = [...s.accounts.values()].filter((a) => isBroken(a.health));
  if (!broken.length) return null;
  if (broken.length === 1) {
    const a = broken[0];
    const n = s.vms.countOf(a.id);
    const why = a.health.last_error ? ` (${a.health.last_error})` : "";
    const vms = n === 1 ? " Its VM shows its last known state." : n ? ` Its ${grouped(n)} VMs show their last known state.` : "";
    return { text: `Account '${a.name}' ${healthText(a.health, now)}${why}.${vms}`, accounts: broken };
  }
  const list = broken.map((a) => `${a.name} (${HEALTH_LABELS[a.health.status] ?? a.health.status})`).join(", ");
  return { text: `${broken.length} accounts need attention: ${list}. Their VMs show their last known state.`, accounts: broken };
}

/** The state badge's words. @param {Vm} vm */
export function stateText(vm) {
  return vm.stale ? `${vm.state} (stale)` : vm.state;
}

/** An address worth showing in a column: the provider's main one. @param {Vm} vm */
export function ipOf(vm) {
  return vm.facts.ip_address ?? vm.facts.private_ip ?? vm.facts.public_ip ?? "";
}

/** @param {State} s @param {Vm} vm */
export function accountText(s, vm) {
  const kind = s.accounts.get(vm.account_id)?.kind;
  return kind ? `${vm.account} · ${kind}` : vm.account;
}

// ---------- what may be done ----------

/** What this VM offers now: what its account serves for its state, unless an operation is in flight. @param {State} s @param {Vm} vm @returns {OpKind[]} */
export function actionsFor(s, vm) {
  const offers = s.accounts.get(vm.account_id)?.offers;
  if (!offers || s.inFlight.has(vm.id)) return [];
  return offers.by_state[vm.state] ?? [];
}

/** Whether any account offers this action in any state (the Power menu lists only those). @param {State} s @param {OpKind} kind */
export function anyAccountOffers(s, kind) {
  for (const a of s.accounts.values()) {
    if (a.offers && anyStateOffers(a.offers, kind)) return true;
  }
  return false;
}

/**
 * For each action, how many of these VMs offer it (the Power menu's items).
 * @param {State} s @param {Iterable<number>} ids @returns {Map<OpKind, number>}
 */
export function selectionActions(s, ids) {
  /** @type {Map<OpKind, number>} */
  const counts = new Map(ACTIONS.map((k) => [k, 0]));
  for (const id of ids) {
    const vm = s.vms.get(id);
    if (!vm) continue;
    for (const k of actionsFor(s, vm)) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

/** Already where the action would take it (a stop is done once the guest is off, in any flavour). @param {Vm} vm @param {OpKind} kind */
function alreadyThere(vm, kind) {
  const target = TARGETS[kind];
  if (kind === "reboot" || !target) return false;
  return target === "stopped" ? OFF.has(vm.state) : vm.state === target;
}

/** Why a VM will not get this action (it does not offer it). @param {State} s @param {Vm} vm @param {OpKind} kind */
function whyNot(s, vm, kind) {
  const account = s.accounts.get(vm.account_id);
  if (s.inFlight.has(vm.id)) return "have an operation in flight";
  if (TRANSITIONAL.has(vm.state) || GONE.has(vm.state)) return `are ${vm.state}`;
  if (!account?.offers) return "belong to an account that cannot be reached";
  if (anyStateOffers(account.offers, kind)) return `are ${vm.state}`;
  return `are on ${account.kind}, which cannot ${(ACTION_LABELS[kind] ?? kind).toLowerCase()}`;
}

/** @param {import("./types").AccountOffers} offers @param {OpKind} kind */
function anyStateOffers(offers, kind) {
  return Object.values(offers.by_state).some((kinds) => kinds?.includes(kind));
}

/**
 * Why a graceful action on this VM would need force, or null (the account's
 * served offers say which kinds always need it, and which need it whenever
 * the guest's tools are not running).
 * @param {State} s @param {Vm} vm @param {OpKind} kind
 */
export function forceReason(s, vm, kind) {
  const offers = s.accounts.get(vm.account_id)?.offers;
  if (!offers) return null;
  const always = offers.needs_force[kind];
  if (always) return always;
  if (offers.force_without_tools.includes(kind) && vm.tools !== "running") return "have no guest tools running";
  return null;
}

/**
 * @typedef {object} Plan
 * @property {OpKind} kind
 * @property {number[]} act            VMs the action will be asked for
 * @property {Map<string, number[]>} skipped reason → VMs left alone
 * @property {Map<string, number[]>} force   reason → VMs (among `act`) that will need force
 * @property {{ id: number, name: string, note: string }[]} lines one per VM, for the full list
 */

/**
 * What an action on these VMs will do, from what the window already knows.
 * @param {State} s @param {Iterable<number>} ids @param {OpKind} kind @returns {Plan}
 */
export function planAction(s, ids, kind) {
  /** @type {Plan} */
  const plan = { kind, act: [], skipped: new Map(), force: new Map(), lines: [] };
  /** @param {Map<string, number[]>} m @param {string} reason @param {number} id */
  const add = (m, reason, id) => { const l = m.get(reason); if (l) l.push(id); else m.set(reason, [id]); };
  for (const id of ids) {
    const vm = s.vms.get(id);
    if (!vm) continue;
    if (alreadyThere(vm, kind)) {
      const reason = `already ${vm.state}`;
      add(plan.skipped, reason, id);
      plan.lines.push({ id, name: vm.name, note: `skipped: ${reason}` });
    } else if (!actionsFor(s, vm).includes(kind)) {
      const reason = whyNot(s, vm, kind);
      add(plan.skipped, reason, id);
      plan.lines.push({ id, name: vm.name, note: `skipped: ${reason.replace(/^are /, "is ").replace(/^have /, "has ").replace(/^belong /, "belongs ")}` });
    } else {
      plan.act.push(id);
      const need = forceReason(s, vm, kind);
      if (need) add(plan.force, need, id);
      plan.lines.push({ id, name: vm.name, note: need ? `${ACTION_LABELS[kind].toLowerCase()}, will need force (${need.replace(/^have /, "has ")})` : ACTION_LABELS[kind].toLowerCase() });
    }
  }
  return plan;
}

/** @param {number} n @param {string} one */
export function plural(n, one) {
  return `${n} ${one}${n === 1 ? "" : "s"}`;
}

/** Subject-verb agreement for the reasons ("are", "have"), which read in the plural. @param {number} n @param {string} reason */
function agree(n, reason) {
  if (n !== 1) return reason;
  return reason.replace(/^are /, "is ").replace(/^have /, "has ").replace(/^belong /, "belongs ");
}

/**
 * The plan in words: "Stop 25 VMs", then "15 already stopped will be
 * skipped", "2 have no guest tools running and will need force".
 * @param {Plan} plan @param {boolean} force the forced fallback is allowed
 */
export function planSummary(plan, force) {
  const verb = ACTION_LABELS[plan.kind];
  const headline = plan.act.length ? `${verb} ${plural(plan.act.length, "VM")}` : `Nothing to ${verb.toLowerCase()}`;
  /** @type {string[]} */
  const notes = [];
  for (const [reason, ids] of plan.skipped) {
    notes.push(reason.startsWith("already") ? `${ids.length} ${reason} will be skipped` : `${ids.length} ${agree(ids.length, reason)} and will be skipped`);
  }
  for (const [reason, ids] of plan.force) {
    notes.push(`${ids.length} ${agree(ids.length, reason)} and will need force${force ? "" : ": allow it below, or they will fail"}`);
  }
  return { headline, notes };
}

/**
 * Whether the confirmation asks to type the count: forced or large actions.
 * @param {Plan} plan @param {boolean} force
 */
export function mustTypeCount(plan, force) {
  if (plan.act.length === 0) return false;
  return HARD.has(plan.kind) || force || plan.act.length > TYPE_COUNT_OVER;
}

/** Whether to ask at all: destructive, several VMs, or some will be skipped. @param {Plan} plan */
export function mustConfirm(plan) {
  return DESTRUCTIVE.has(plan.kind) || plan.lines.length > 1 || plan.act.length === 0;
}

// ---------- selection ----------

/** @param {State} s @param {number} id @param {boolean} on */
export function select(s, id, on) {
  if (on) s.selected.add(id); else s.selected.delete(id);
}

/** Every VM from `from` to `to` in the current order (shift-click, shift-arrows). @param {State} s @param {number} from @param {number} to */
export function selectRange(s, from, to) {
  const [a, b] = from <= to ? [from, to] : [to, from];
  for (let i = Math.max(0, a); i <= Math.min(b, s.shown.length - 1); i++) s.selected.add(s.shown[i]);
}

/** How many selected VMs the filter hides. @param {State} s */
export function hiddenSelected(s) {
  let n = 0;
  for (const id of s.selected) {
    const vm = s.vms.get(id);
    if (vm && !matches(s, vm)) n++;
  }
  return n;
}

/**
 * Take an operation's news. `ops` keeps each VM's latest operation (what
 * its row says about the last action); `inFlight` the one not yet ended,
 * whichever is newer: a request refused at once (ended, newer) must not
 * hide an older operation still in flight, and that older one's later
 * news still counts. Returns whether anything changed.
 * @param {State} s @param {Operation} op
 */
export function noteOperation(s, op) {
  const vmId = op.vm_id;
  const latest = s.ops.get(vmId);
  const current = s.inFlight.get(vmId);
  let changed = false;
  if (!latest || latest.id <= op.id) {
    s.ops.set(vmId, op);
    changed = true;
  }
  if (TERMINAL.has(op.phase)) {
    if (current && current.id === op.id) {
      s.inFlight.delete(vmId);
      changed = true;
    }
  } else if (!current || current.id <= op.id) {
    s.inFlight.set(vmId, op);
    changed = true;
  }
  return changed;
}

/**
 * Note the operations the shell accepted (their rows start waiting at once,
 * before the engine's first event); returns the refusals, by VM name.
 * @param {State} s @param {import("./types").Requested[]} results @returns {string[]}
 */
export function recordRequested(s, results) {
  /** @type {string[]} */
  const refused = [];
  for (const r of results) {
    if (r.operation) noteOperation(s, r.operation);
    if (r.error) {
      const name = s.vms.get(r.vm_id)?.name ?? `VM #${r.vm_id}`;
      refused.push(`${name}: ${withoutName(name, errorText(r.error))}`);
    }
  }
  return refused;
}

/**
 * Events that came while the inventory loaded: drop what the loaded
 * inventory already knows better (a VM read after the event was sent).
 * @param {State} s @param {EngineEvent[]} events @returns {EngineEvent[]}
 */
export function freshEvents(s, events) {
  /** @type {EngineEvent[]} */
  const out = [];
  for (const ev of events) {
    if (ev.type !== "vms-changed") {
      out.push(ev);
      continue;
    }
    const changes = ev.changes.filter((c) => {
      const known = s.vms.get(c.vm.id);
      return !known || c.vm.last_seen_at >= known.last_seen_at;
    });
    if (changes.length) out.push({ ...ev, changes });
  }
  return out;
}
