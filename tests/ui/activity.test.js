// The Activity table's rows, kept current from events without asking the store again.

import assert from "node:assert/strict";
import { test } from "node:test";
import { applyActivityEvents, createActivity, listActivity, loadActivity, KEEP, INITIATOR_DRIFT, INITIATOR_POWERDECK, INITIATOR_RUNBOOK, INITIATOR_SCHEDULE } from "../../ui/activity-state.js";
import { changed, op, vm } from "./fixtures.js";

const ALL = { vm: "", result: "", initiator: "" };

/** @param {number} at */
const drift = (at) => ({
  entry: { id: at, vm_id: 2, at, from_state: /** @type {const} */ ("running"), to_state: /** @type {const} */ ("stopped"), raw_state: "STOPPED", source: /** @type {const} */ ("feed"), operation_id: null },
  vm: "db-1", account: "demo",
});

test("operations and drift in one table, newest first, with who did it", () => {
  const a = createActivity();
  loadActivity(a, { operations: [op(1, 1, { requested_at: 100, finished_at: 2600, phase: "succeeded", shutdown_method: "graceful" })], drift: [drift(200)] });
  const rows = listActivity(a, ALL);
  assert.deepEqual(rows.map((r) => [r.vm, r.action, r.initiator, r.result]), [
    ["db-1", "running → stopped", INITIATOR_DRIFT, "observed"],
    ["vm-1", "Stop", INITIATOR_POWERDECK, "succeeded"],
  ]);
  assert.equal(rows[1].durationMs, 2500);
  assert.equal(rows[1].detail, "graceful");
});

test("events update the table: an operation moves on, drift is added", () => {
  const a = createActivity();
  assert.equal(applyActivityEvents(a, [{ type: "operation", op: op(1, 1) }]), false, "nothing to update before the first load");
  loadActivity(a, { operations: [op(1, 1)], drift: [] });
  assert.equal(listActivity(a, ALL)[0].result, "in flight");
  assert.ok(applyActivityEvents(a, [{ type: "operation", op: op(1, 1, { phase: "failed", error: "no tools", finished_at: 9000 }) }]));
  assert.ok(applyActivityEvents(a, [changed([vm(3, "web-1", { state: "stopped", last_state_change_at: 7000 })], true), changed([vm(4, "quiet")])]));
  const rows = listActivity(a, ALL);
  assert.deepEqual(rows.map((r) => [r.vm, r.result]), [["web-1", "observed"], ["vm-1", "failed"]]);
  assert.equal(rows[1].detail, "no tools");
});

test("filters by VM, result and initiator", () => {
  const a = createActivity();
  loadActivity(a, { operations: [op(1, 1, { phase: "failed" }), op(2, 2, { vm_name: "web-9", phase: "succeeded" })], drift: [drift(300)] });
  assert.deepEqual(listActivity(a, { ...ALL, vm: "WEB" }).map((r) => r.vm), ["web-9"]);
  assert.deepEqual(listActivity(a, { ...ALL, result: "failed" }).map((r) => r.vm), ["vm-1"]);
  assert.deepEqual(listActivity(a, { ...ALL, initiator: INITIATOR_DRIFT }).map((r) => r.vm), ["db-1"]);
});

test("the table keeps the newest rows only", () => {
  const a = createActivity();
  loadActivity(a, { operations: Array.from({ length: KEEP + 5 }, (_, i) => op(i + 1, 1, { requested_at: i })), drift: [] });
  assert.equal(a.entries.size, KEEP);
  assert.equal(Math.min(...[...a.entries.values()].map((e) => e.at)), 5);
});

test("a schedule's or a runbook's operations name who asked, and can be filtered so", () => {
  const a = createActivity();
  loadActivity(a, { operations: [op(1, 1, { initiator: "schedule", phase: "succeeded" }), op(2, 2, { vm_name: "web-2", initiator: "runbook" }), op(3, 3, { vm_name: "web-3", initiator: "cli" })], drift: [] });
  const by = Object.fromEntries(listActivity(a, ALL).map((r) => [r.vm, r.initiator]));
  assert.deepEqual(by, { "vm-1": INITIATOR_SCHEDULE, "web-2": INITIATOR_RUNBOOK, "web-3": INITIATOR_POWERDECK });
  assert.deepEqual(listActivity(a, { ...ALL, initiator: INITIATOR_SCHEDULE }).map((r) => r.vm), ["vm-1"]);
});

test("a cancelled operation reads as cancelled, not in flight, and can be filtered so", () => {
  const a = createActivity();
  loadActivity(a, { operations: [op(1, 1, { requested_at: 100, finished_at: 900, phase: "cancelled", error: "cancelled; nothing more was sent" }), op(2, 2)], drift: [] });
  assert.deepEqual(listActivity(a, ALL).map((r) => r.result).sort(), ["cancelled", "in flight"]);
  assert.deepEqual(listActivity(a, { ...ALL, result: "cancelled" }).map((r) => r.vm), ["vm-1"]);
});
