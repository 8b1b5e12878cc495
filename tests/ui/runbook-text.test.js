import assert from "node:assert/strict";
import { test } from "node:test";
import "./fixtures.js"; // the served vocabulary
import { planCount, planLines, policyText, runText, stepOf, stepProgress, stepsText } from "../../ui/runbook-text.js";
import { op } from "./fixtures.js";

/** @type {import("../../ui/types").RunPlan} */
const PLAN = {
  runbook: "failover", on_failure: "rollback",
  steps: [
    { index: 0, label: "step 1: stop group old", action: "stop", force: true, parallel: 10, wait_for_tools: false, seconds: 0, vms: [
      { vm_id: 1, name: "old-1", account: "demo", expected_state: "running", will: { will: "run" } },
      { vm_id: 2, name: "old-2", account: "demo", expected_state: "stopped", will: { will: "skip", reason: "already stopped" } },
    ] },
    { index: 1, label: "wait 30 s", action: "wait", force: false, parallel: 10, wait_for_tools: false, seconds: 30, vms: [] },
    { index: 2, label: "step 3: start group new", action: "start", force: false, parallel: 10, wait_for_tools: false, seconds: 0, vms: [
      { vm_id: 3, name: "new-1", account: "demo", expected_state: "stopped", will: { will: "run" } },
    ] },
  ],
};

test("the plan reads step by step: what runs, what is skipped and why", () => {
  assert.deepEqual(planLines(PLAN), [
    "1. Stop old-1 (force allowed); old-2 skipped: already stopped.",
    "2. Wait 30 s.",
    "3. Start new-1.",
  ]);
  assert.equal(planCount(PLAN), 2);
  assert.equal(policyText("rollback"), "If a step fails, it rolls back the completed steps.");
});

test("a run's state, and each VM of a step from the operations of the step's batch", () => {
  /** @type {import("../../ui/types").Run} */
  const run = {
    id: 4, runbook_id: 1, name: "failover", plan: PLAN, phase: "running", step: 0, rolling_back: false, initiator: "window",
    requested_at: 0, finished_at: null, cancel_requested: false, rollback_requested: false, summary: null,
    steps: [{ step: 0, rollback: false, batch_id: 9, phase: "running", started_at: 1, finished_at: null }],
  };
  assert.equal(runText(run), "running step 1 of 3");
  const ops = new Map([[1, op(20, 1, { batch_id: 9, phase: "tracking" })]]);
  assert.deepEqual(stepProgress(run, 0, ops).map((p) => [p.name, p.status]), [["old-1", "in flight"], ["old-2", "skipped"]]);
  ops.set(1, op(20, 1, { batch_id: 9, phase: "succeeded", new_state: "stopped" }));
  assert.deepEqual(stepProgress(run, 0, ops)[0], { vm_id: 1, name: "old-1", status: "verified", detail: "stopped" });
  assert.equal(stepProgress(run, 2, ops)[0].status, "waiting", "a later step's VMs wait their turn");
  ops.set(1, op(21, 1, { batch_id: 3, phase: "failed" }));
  assert.equal(stepProgress(run, 0, ops)[0].status, "waiting", "an operation of another batch is not this step's");
  assert.equal(runText({ ...run, phase: "awaiting-decision" }), "waiting for your decision");
});

test("the form's step rows become the runbook's steps, or say what is wrong", () => {
  assert.deepEqual(stepOf({ action: "stop", target: "old", targetKind: "group", seconds: "", force: true, parallel: "5" }, 0),
    { step: { action: "stop", parallel: 5, group: "old", force: true }, error: null });
  assert.deepEqual(stepOf({ action: "start", target: "a, b", targetKind: "vms", seconds: "", force: true, parallel: "" }, 1),
    { step: { action: "start", parallel: 10, vms: ["a", "b"] }, error: null }, "force is for stop and reboot only");
  assert.deepEqual(stepOf({ action: "wait", target: "", targetKind: "group", seconds: "30", force: false, parallel: "" }, 2), { step: { action: "wait", seconds: 30, parallel: 10 }, error: null });
  assert.match(stepOf({ action: "stop", target: " ", targetKind: "group", seconds: "", force: false, parallel: "" }, 0).error ?? "", /Step 1: say which VMs/);
  assert.match(stepOf({ action: "wait", target: "", targetKind: "group", seconds: "0", force: false, parallel: "" }, 3).error ?? "", /Step 4: a wait lasts/);
  assert.equal(stepsText([{ action: "stop", group: "old", parallel: 10 }, { action: "wait", seconds: 30, parallel: 10 }, { action: "start", vms: ["a"], parallel: 10 }]),
    "3 steps: stop group old, wait 30 s, start 1 VM");
});
