// The window's state, without a window: `node --test tests/ui/`.

import assert from "node:assert/strict";
import { test } from "node:test";
import { errorText } from "../../ui/error-text.js";
import {
  actionsFor, anyAccountOffers, applyEvents, clockChangesIn, healthBanner, healthChangesIn, healthText, inFlightControls, isBroken, opProgress, retryWithForce, comparator, createState, freshEvents, indexOf, loadInventory, mustConfirm, mustTypeCount, planAction, planSummary,
  recompute, recordRequested, selectionActions, setFilter, setSort, statusOf, LATE_AFTER_MS,
} from "../../ui/state.js";
import { AZURE_OFFERS, OK, SIM_CAPS, changed, inventory, op, vm } from "./fixtures.js";

/** @param {import("../../ui/state.js").State} s */
const names = (s) => s.shown.map((id) => s.vms.get(id)?.name);

/** Shown as a full filter and sort would show it. @param {import("../../ui/state.js").State} s */
function assertInPlace(s) {
  const incremental = [...s.shown];
  recompute(s);
  assert.deepEqual(incremental, s.shown, "the incremental order is the order a full sort gives");
}

test("the inventory loads in name order", () => {
  const s = createState();
  loadInventory(s, inventory([vm(2, "web-b"), vm(1, "web-a"), vm(3, "api")]));
  assert.deepEqual(names(s), ["api", "web-a", "web-b"]);
  assert.equal(s.counts.states.get("running"), 3);
  assert.equal(indexOf(s, 1), 1);
});

test("sorted by state, a VM that changes state moves to its place", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "a"), vm(2, "b", { state: "stopped", raw_state: "STOPPED" }), vm(3, "c")]));
  setSort(s, "state");
  assert.deepEqual(names(s), ["a", "c", "b"]); // running < stopped
  const res = applyEvents(s, [changed([vm(1, "a", { state: "stopped", raw_state: "STOPPED" })])]);
  assert.ok(res.reordered);
  assert.deepEqual(names(s), ["c", "a", "b"]);
  assertInPlace(s);
});

test("sorted by last change, newest first on the first click, a changed VM goes to the top", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "a"), vm(2, "b"), vm(3, "c")]));
  setSort(s, "last_state_change_at");
  assert.equal(s.view.sort.dir, -1, "the first click on Last change shows the newest first");
  assert.deepEqual(names(s), ["c", "b", "a"]);
  applyEvents(s, [changed([vm(1, "a", { state: "stopped", last_state_change_at: 9999 })])]);
  assert.deepEqual(names(s), ["a", "c", "b"]);
  setSort(s, "last_state_change_at");
  assert.equal(s.view.sort.dir, 1, "a second click reverses");
  setSort(s, "name");
  assert.equal(s.view.sort.dir, 1, "names start A to Z");
});

test("a burst of changes while sorted by state lands every row in its place", () => {
  const s = createState();
  const vms = Array.from({ length: 500 }, (_, i) => vm(i + 1, `vm-${String(i).padStart(3, "0")}`, { state: i % 3 ? "running" : "stopped" }));
  loadInventory(s, inventory(vms));
  setSort(s, "state");
  const flipped = vms.filter((v) => v.id % 4 === 0).map((v) => ({ ...v, state: /** @type {const} */ (v.state === "running" ? "stopped" : "running"), last_state_change_at: 5000 + v.id }));
  assert.ok(flipped.length > 32, "enough to take the merge path");
  applyEvents(s, [changed(flipped)]);
  assertInPlace(s);
  assert.equal(s.counts.states.get("stopped"), vms.filter((v) => (v.id % 4 === 0 ? v.state === "running" : v.state === "stopped")).length);
});

test("with a filter, a VM that stops matching leaves and a new one that matches comes in", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "a"), vm(2, "b"), vm(3, "c", { state: "stopped" })]));
  setFilter(s, { state: "running" });
  assert.deepEqual(names(s), ["a", "b"]);
  applyEvents(s, [changed([vm(2, "b", { state: "stopped" }), vm(4, "aa")])]);
  assert.deepEqual(names(s), ["a", "aa"]);
  assertInPlace(s);
  setFilter(s, { state: "", query: "AA" });
  assert.deepEqual(names(s), ["aa"], "the search ignores case");
});

test("a search finds a VM by a fact (an IP address)", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "a", { facts: { ip_address: "10.1.2.3" } }), vm(2, "b")]));
  setFilter(s, { query: "10.1.2" });
  assert.deepEqual(names(s), ["a"]);
});

test("after a resync, operations that ended meanwhile stop spinning at once", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "a"), vm(2, "b")], [op(10, 1), op(11, 2)]));
  assert.equal(statusOf(s, /** @type {any} */ (s.vms.get(1)), 6000).kind, "waiting");
  // The window missed the events; the store now has only op 11 in flight.
  loadInventory(s, inventory([vm(1, "a", { state: "stopped" }), vm(2, "b")], [op(11, 2)]));
  assert.equal(statusOf(s, /** @type {any} */ (s.vms.get(1)), 6000).kind, "ok");
  assert.equal(statusOf(s, /** @type {any} */ (s.vms.get(2)), 6000).kind, "waiting");
  assert.equal(s.inFlight.size, 1);
});

test("a failure stays on its row after a resync; a VM that is gone takes its operation with it", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "a"), vm(2, "b")]));
  applyEvents(s, [{ type: "operation", op: op(10, 1, { phase: "failed", error: "guest said no" }) }, { type: "operation", op: op(11, 2, { phase: "failed" }) }]);
  loadInventory(s, inventory([vm(1, "a")]));
  assert.equal(statusOf(s, /** @type {any} */ (s.vms.get(1)), 6000).text, "Stop failed: guest said no");
  assert.equal(s.ops.has(2), false);
});

test("an operation past its deadline stops spinning and says so", () => {
  const s = createState();
  const o = op(10, 1);
  loadInventory(s, inventory([vm(1, "a")], [o]));
  const a = /** @type {any} */ (s.vms.get(1));
  assert.equal(statusOf(s, a, o.deadline_at).kind, "waiting");
  assert.equal(statusOf(s, a, o.deadline_at + LATE_AFTER_MS + 1).kind, "late");
});

test("an older operation's event never replaces a newer one", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "a")]));
  applyEvents(s, [{ type: "operation", op: op(11, 1, { kind: "start" }) }]);
  applyEvents(s, [{ type: "operation", op: op(10, 1, { phase: "succeeded" }) }]);
  assert.equal(s.ops.get(1)?.id, 11);
  assert.equal(s.inFlight.size, 1);
  applyEvents(s, [{ type: "operation", op: op(11, 1, { kind: "start", phase: "succeeded" }) }]);
  assert.equal(s.inFlight.size, 0, "the in-flight count follows the operations");
});

test("the header's counts follow the changes without a scan", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "a"), vm(2, "b"), vm(3, "c", { state: "stopped" })]));
  applyEvents(s, [{ type: "vms-stale", account_id: 1, account: "demo", count: 3, last_seen_at: 900, reason: "timeout" }]);
  assert.equal(s.counts.stale, 3);
  applyEvents(s, [changed([vm(1, "a", { state: "stopped" })])]);
  assert.equal(s.counts.stale, 2, "a fresh read clears the stale mark");
  assert.equal(s.counts.states.get("stopped"), 2);
  assert.equal(s.counts.states.get("running"), 1);
});

test("the selection offers only what its VMs can do now: no Stop for VMs that stopped", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "a"), vm(2, "b")]));
  const ids = [1, 2];
  assert.equal(selectionActions(s, ids).get("stop"), 2);
  recordRequested(s, [{ vm_id: 1, operation: op(10, 1), error: null }, { vm_id: 2, operation: op(11, 2), error: null }]);
  assert.equal(selectionActions(s, ids).get("stop"), 0, "nothing more while the stops are in flight");
  applyEvents(s, [
    changed([vm(1, "a", { state: "stopped" }), vm(2, "b", { state: "stopped" })]),
    { type: "operation", op: op(10, 1, { phase: "succeeded" }) },
    { type: "operation", op: op(11, 2, { phase: "succeeded" }) },
  ]);
  const offered = selectionActions(s, ids);
  assert.equal(offered.get("stop"), 0);
  assert.equal(offered.get("start"), 2);
  assert.deepEqual(actionsFor(s, /** @type {any} */ (s.vms.get(1))), ["start"]);
});

test("a bulk stop's plan: skipped, needing force, and the words for it", () => {
  const s = createState();
  loadInventory(s, inventory([
    vm(1, "a"), vm(2, "b", { state: "stopped", tools: "not-running" }), vm(3, "c", { tools: "not-installed" }), vm(4, "d", { state: "stopped" }),
  ]));
  const plan = planAction(s, [1, 2, 3, 4], "stop");
  assert.deepEqual(plan.act, [1, 3]);
  const { headline, notes } = planSummary(plan, false);
  assert.equal(headline, "Stop 2 VMs");
  assert.deepEqual(notes, ["2 already stopped will be skipped", "1 has no guest tools running and will need force: allow it below, or they will fail"]);
  assert.deepEqual(planSummary(plan, true).notes[1], "1 has no guest tools running and will need force");
  assert.equal(plan.lines.length, 4);
  assert.match(/** @type {any} */ (plan.lines.find((l) => l.id === 3)).note, /will need force/);
  assert.equal(mustTypeCount(plan, false), false);
  assert.equal(mustTypeCount(plan, true), true, "a forced action asks for the count");
  assert.ok(mustConfirm(plan));
});

test("a large action asks to type the count; a single start does not even ask", () => {
  const s = createState();
  loadInventory(s, inventory(Array.from({ length: 12 }, (_, i) => vm(i + 1, `v${i}`))));
  const all = [...s.vms.keys()];
  assert.equal(mustTypeCount(planAction(s, all, "reboot"), false), true);
  assert.equal(mustTypeCount(planAction(s, all.slice(0, 10), "reboot"), false), false);
  loadInventory(s, inventory([vm(1, "a", { state: "stopped" })]));
  assert.equal(mustConfirm(planAction(s, [1], "start")), false);
  assert.equal(planSummary(planAction(s, [1], "stop"), false).headline, "Nothing to stop");
});

test("VMs that cannot take the action are skipped with the reason", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "a", { state: "stopping" }), vm(2, "b")], [op(10, 2, { kind: "reboot" })]));
  const { notes } = planSummary(planAction(s, [1, 2], "suspend"), false);
  assert.deepEqual(notes, ["1 is stopping and will be skipped", "1 has an operation in flight and will be skipped"]);
});

test("events that came during a load never roll back what the load read", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "a", { state: "stopped", last_seen_at: 2000 })]));
  const late = freshEvents(s, [changed([vm(1, "a", { state: "stopping", last_seen_at: 1500 }), vm(2, "new", { last_seen_at: 1500 })])]);
  assert.equal(late.length, 1);
  assert.deepEqual(late[0].type === "vms-changed" && late[0].changes.map((c) => c.vm.name), ["new"]);
});

test("ties sort by id, so every VM has exactly one place", () => {
  const s = createState();
  loadInventory(s, inventory([vm(2, "same"), vm(1, "same")]));
  const cmp = comparator(s);
  assert.ok(cmp(/** @type {any} */ (s.vms.get(1)), /** @type {any} */ (s.vms.get(2))) < 0);
  assert.deepEqual(s.shown, [1, 2]);
});

test("a row says when a schedule or a runbook asked, and still says it is waiting", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "a"), vm(2, "b"), vm(3, "c")], [op(10, 1, { initiator: "schedule" }), op(11, 2, { initiator: "runbook" }), op(12, 3, { initiator: "window" })]));
  const text = (/** @type {number} */ id) => statusOf(s, /** @type {any} */ (s.vms.get(id)), 6000).text;
  assert.equal(text(1), "Waiting for status update… (scheduled)");
  assert.equal(text(2), "Waiting for status update… (runbook)");
  assert.equal(text(3), "Waiting for status update…");
});

test("what a VM offers is what its account serves: an Azure VM offers Deallocate, stopped or running", () => {
  const s = createState();
  const inv = inventory([vm(1, "web"), vm(2, "db", { account_id: 2, account: "az" }), vm(3, "old", { account_id: 2, account: "az", state: "stopped" })]);
  inv.accounts.push({ id: 2, name: "az", kind: "azure", is_demo: false, capabilities: { ...SIM_CAPS, suspend: false, deallocate: true }, offers: AZURE_OFFERS, health: OK, last_contact_at: null });
  loadInventory(s, inv);
  assert.deepEqual(actionsFor(s, /** @type {any} */ (s.vms.get(1))), ["stop", "force-stop", "reboot", "suspend"]);
  assert.deepEqual(actionsFor(s, /** @type {any} */ (s.vms.get(2))), ["stop", "force-stop", "reboot", "deallocate"]);
  assert.deepEqual(actionsFor(s, /** @type {any} */ (s.vms.get(3))), ["start", "deallocate"]);
  assert.ok(anyAccountOffers(s, "deallocate") && !anyAccountOffers(s, "hibernate"), "the Power menu lists only what some account can do");
  const plan = planAction(s, [1, 2, 3], "deallocate");
  assert.deepEqual(plan.act, [2, 3]);
  assert.deepEqual([...plan.skipped.keys()], ["are on sim, which cannot deallocate"]);
});

test("a graceful stop in flight says when it will be forced, or when it fails without force", () => {
  const now = 100_000;
  const forced = op(10, 1, { allow_force: true, graceful_timeout_ms: 120_000, submitted_at: now - 45_000, deadline_at: now + 135_000 });
  assert.deepEqual(opProgress(forced, now), { text: "Guest has not responded to the shutdown for 45 s; forcing in 1 min 15 s.", short: "forcing in 1 min 15 s" });
  const strict = op(11, 1, { kind: "reboot", allow_force: false, graceful_timeout_ms: 120_000, submitted_at: now - 45_000, deadline_at: now + 75_000 });
  assert.equal(opProgress(strict, now)?.short, "fails in 1 min 15 s");
  assert.match(opProgress(strict, now)?.text ?? "", /reboot for 45 s; the reboot fails in 1 min 15 s unless it does \(force is not allowed\)/);
  assert.equal(opProgress({ ...forced, forced_at: now - 2_000 }, now)?.short, "forced");
  assert.equal(opProgress({ ...forced, cancel_requested: true }, now)?.short, "cancelling");
  assert.match(opProgress({ ...forced, submitted_at: null }, now)?.text ?? "", /waiting for the provider to accept/);
  assert.equal(opProgress({ ...forced, phase: "succeeded" }, now), null);

  const s = createState();
  loadInventory(s, inventory([vm(1, "web")], [forced]));
  const st = statusOf(s, /** @type {any} */ (s.vms.get(1)), now);
  assert.equal(st.text, "Waiting for status update…");
  assert.equal(st.hint, "forcing in 1 min 15 s");
});

test("an operation in flight can be forced once and cancelled once; a start cannot be forced", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "web"), vm(2, "app")], [op(10, 1), op(11, 2, { kind: "start" })]));
  const web = /** @type {any} */ (s.vms.get(1));
  assert.deepEqual(inFlightControls(s, web), { op: s.inFlight.get(1), cancel: true, force: true });
  assert.deepEqual(inFlightControls(s, /** @type {any} */ (s.vms.get(2)))?.force, false);
  applyEvents(s, [{ type: "operation", op: op(10, 1, { force_requested: true, cancel_requested: true }) }]);
  assert.deepEqual({ ...inFlightControls(s, web), op: null }, { op: null, cancel: false, force: false });
  applyEvents(s, [{ type: "operation", op: op(10, 1, { phase: "cancelled", failure: "cancelled" }) }]);
  assert.equal(inFlightControls(s, web), null, "a cancelled operation has ended");
  assert.equal(s.inFlight.has(1), false);
});

test("a graceful stop the guest ignored offers a retry with force; other failures do not", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "web"), vm(2, "app")]));
  applyEvents(s, [
    { type: "operation", op: op(10, 1, { phase: "failed", failure: "graceful-ignored", error: "the guest ignored the request" }) },
    { type: "operation", op: op(11, 2, { phase: "failed", failure: "refused", error: "quota" }) },
  ]);
  assert.equal(retryWithForce(s, /** @type {any} */ (s.vms.get(1))), "stop");
  assert.equal(retryWithForce(s, /** @type {any} */ (s.vms.get(2))), null);
  applyEvents(s, [{ type: "operation", op: op(12, 1, { phase: "failed", failure: "graceful-ignored", allow_force: true }) }]);
  assert.equal(retryWithForce(s, /** @type {any} */ (s.vms.get(1))), null, "force was allowed already: retrying with it changes nothing");
});

test("a refusal reads as the engine's sentence and what to do about its kind", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "web")]));
  const refused = recordRequested(s, [{ vm_id: 1, operation: null, error: { kind: "in-flight", message: "web already has a stop operation in flight (#4, tracking); wait for it to finish" } }]);
  assert.equal(refused.length, 1);
  assert.match(refused[0], /^web: web already has a stop operation in flight .*finish\. Wait for it to end, or use Force now or Cancel operation/);
  const unsupported = recordRequested(s, [{ vm_id: 1, operation: null, error: { kind: "unsupported", message: "web: sim accounts cannot hibernate" } }]);
  assert.match(unsupported[0], /^web: sim accounts cannot hibernate/, "the VM is named once");
  applyEvents(s, [{ type: "operation", op: op(13, 1, { phase: "failed", kind: "hibernate", error: "web: sim accounts cannot hibernate" }) }]);
  assert.equal(statusOf(s, /** @type {any} */ (s.vms.get(1)), Date.now()).text, "Hibernate failed: sim accounts cannot hibernate", "its own row does not name it again");
  assert.equal(errorText({ kind: "not-found", message: "VM #3 no longer exists" }), "VM #3 no longer exists");
  assert.match(errorText({ kind: "auth", message: "account 'lab': the provider rejected the credentials: 401" }), /401\. Check the account's credentials/);
});

test("a long countdown reads in minutes", () => {
  const now = 1_000_000;
  const long = op(10, 1, { allow_force: true, graceful_timeout_ms: 600_000, submitted_at: now - 1_000, deadline_at: now + 700_000 });
  assert.equal(opProgress(long, now)?.short, "forcing in 9 min 59 s");
});

test("a broken account gets one banner, updated by its health events; a recovered one takes it down", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "web"), vm(2, "db")]));
  assert.equal(healthBanner(s, 0), null, "a fleet that answers has no banner");
  const since = 1_000_000;
  const res = applyEvents(s, [
    { type: "account-health", account_id: 1, account: "demo", health: { status: "unreachable", since, last_error: "connection refused", last_error_at: since } },
    { type: "account-error", account_id: 1, account: "demo", message: "full sync failed" },
  ]);
  assert.ok(res.healthChanged);
  assert.deepEqual(res.messages, [], "the banner says it; no toast repeats it");
  assert.equal(healthBanner(s, since + 125_000)?.text, "Account 'demo' cannot be reached for 2 min (connection refused). Its 2 VMs show their last known state.");
  // Its clock is looked at again when it turns to 3 min, not every second.
  assert.equal(healthChangesIn(s, since + 125_000), 54_500);
  assert.equal(healthBanner(s, since + 125_000 + 54_499)?.text, healthBanner(s, since + 125_000)?.text);
  assert.notEqual(healthBanner(s, since + 125_000 + 54_500)?.text, healthBanner(s, since + 125_000)?.text);
  applyEvents(s, [{ type: "account-health", account_id: 1, account: "demo", health: { status: "ok", since: since + 130_000, last_error: "connection refused", last_error_at: since } }]);
  assert.equal(healthBanner(s, since + 131_000), null);
  assert.equal(healthText({ status: "throttled", since, last_error: null, last_error_at: null }, since), "throttling requests");
  assert.equal(isBroken({ status: "auth", since, last_error: "401", last_error_at: since }), true);
});

test("a request refused at once never hides an older operation still in flight, whose news still counts", () => {
  const s = createState();
  loadInventory(s, inventory([vm(1, "web")], [op(10, 1)]));
  const refused = op(11, 1, { kind: "reboot", phase: "failed", failure: "refused", error: "web already has a stop operation in flight" });
  recordRequested(s, [{ vm_id: 1, operation: refused, error: null }]);
  assert.equal(s.inFlight.get(1)?.id, 10, "the stop is still in flight");
  assert.equal(s.ops.get(1)?.id, 11, "the row remembers the refusal");
  applyEvents(s, [{ type: "operation", op: op(10, 1, { phase: "succeeded", new_state: "stopped" }) }]);
  assert.equal(s.inFlight.has(1), false, "the older stop's end is taken");
});

test("the window wakes for a VM's clocks only as often as they change", () => {
  const s = createState();
  const base = 10_000_000;
  loadInventory(s, inventory([
    vm(1, "calm", { last_state_change_at: base - 300_000, last_seen_at: base - 5_000 }),
    vm(2, "stopping", { state: "stopping", last_state_change_at: base - 300_000 }),
    vm(3, "asked", { last_state_change_at: base - 300_000 }),
    vm(4, "stale", { stale: true, last_state_change_at: base - 7_200_000, last_seen_at: base - 30_000 }),
  ], [op(7, 3, { requested_at: base - 2_000, deadline_at: base + 100_000 })]));
  const calm = /** @type {import("../../ui/types").Vm} */ (s.vms.get(1));
  // "5 min ago" next reads "6 min ago" in a minute; in the row, the last contact is not shown.
  assert.equal(clockChangesIn(s, calm, base, false), 59_500);
  // The details show the last contact too: "5 s ago" moves every second.
  assert.equal(clockChangesIn(s, calm, base, true), 500);
  for (const id of [2, 3]) assert.equal(clockChangesIn(s, /** @type {any} */ (s.vms.get(id)), base, false), 1000, "a transition or an operation counts seconds");
  // A stale row says when it was last seen ("30 s ago"): that moves each second.
  assert.equal(clockChangesIn(s, /** @type {any} */ (s.vms.get(4)), base, false), 500);
});
