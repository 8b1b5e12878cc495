// What the Runbooks view says, without the DOM (so `node --test` checks it):
// a plan in words for the approval, a run's state, each VM's progress in a
// step (from the operations the window already follows), and the form's
// step rows as a runbook.

import { TERMINAL, actionLabel } from "./vocabulary.js";
import { plural } from "./state.js";

/** @typedef {import("./types").RunPlan} RunPlan */
/** @typedef {import("./types").PlannedStep} PlannedStep */
/** @typedef {import("./types").Run} Run */
/** @typedef {import("./types").RunbookStep} RunbookStep */
/** @typedef {import("./types").Operation} Operation */

/** @type {Record<string, string>} */
const POLICY = {
  stop: "stops there", continue: "goes on with the next step", rollback: "rolls back the completed steps", ask: "asks you: roll back, or leave it",
};

/** "If a step fails, it rolls back the completed steps." @param {import("./types").FailurePolicy} p */
export function policyText(p) {
  return `If a step fails, it ${POLICY[p] ?? p}.`;
}

/**
 * One line per step for the approval: what it does to which VMs, and who
 * is skipped or refused and why.
 * @param {RunPlan} plan @returns {string[]}
 */
export function planLines(plan) {
  return plan.steps.map((st) => {
    const n = st.index + 1;
    if (st.action === "wait") return `${n}. Wait ${st.seconds} s.`;
    const run = st.vms.filter((v) => v.will.will === "run").map((v) => v.name);
    const others = st.vms.filter((v) => v.will.will !== "run").map((v) => `${v.name} ${v.will.will === "skip" ? "skipped" : "refused"}: ${"reason" in v.will ? v.will.reason : ""}`);
    const force = st.force ? " (force allowed)" : "";
    const what = run.length ? `${actionLabel(st.action)} ${run.join(", ")}${force}` : `${actionLabel(st.action)}: nothing to do`;
    return `${n}. ${what}${others.length ? `; ${others.join("; ")}` : ""}.`;
  });
}

/** How many operations the plan sends. @param {RunPlan} plan */
export function planCount(plan) {
  return plan.steps.reduce((n, st) => n + st.vms.filter((v) => v.will.will === "run").length, 0);
}

/** @type {Record<string, string>} */
const PHASE = {
  running: "running", "rolling-back": "rolling back", "awaiting-decision": "waiting for your decision", succeeded: "succeeded",
  failed: "failed", cancelled: "cancelled", "rolled-back": "rolled back",
};

/** "running step 2 of 3", "succeeded". @param {Run} run */
export function runText(run) {
  const total = run.plan.steps.length;
  if (run.phase === "running") return `running step ${Math.min(run.step + 1, total)} of ${total}${run.cancel_requested ? " (cancelling)" : ""}`;
  if (run.phase === "rolling-back") return `rolling back step ${run.step + 1}`;
  return PHASE[run.phase] ?? run.phase;
}

/**
 * Where each VM of a step is: from the operations of the step's batch (the
 * window follows every operation through the engine's events).
 * @param {Run} run @param {number} index @param {Map<number, Operation>} ops VM id → its latest operation
 * @returns {{ vm_id: number, name: string, status: "waiting" | "in flight" | "verified" | "failed" | "skipped" | "refused", detail: string }[]}
 */
export function stepProgress(run, index, ops) {
  const planned = run.plan.steps[index];
  if (!planned) return [];
  const batch = run.steps.filter((s) => s.step === index && !s.rollback).map((s) => s.batch_id).find((b) => b !== null) ?? null;
  return planned.vms.map((v) => {
    if (v.will.will !== "run") return { vm_id: v.vm_id, name: v.name, status: v.will.will === "skip" ? "skipped" : "refused", detail: "reason" in v.will ? v.will.reason : "" };
    const op = ops.get(v.vm_id);
    if (batch === null || !op || op.batch_id !== batch) return { vm_id: v.vm_id, name: v.name, status: "waiting", detail: "" };
    if (op.phase === "succeeded") return { vm_id: v.vm_id, name: v.name, status: "verified", detail: op.new_state ?? "" };
    if (TERMINAL.has(op.phase)) return { vm_id: v.vm_id, name: v.name, status: "failed", detail: op.error ?? op.phase };
    return { vm_id: v.vm_id, name: v.name, status: "in flight", detail: op.phase };
  });
}

/**
 * A step row of the form as the runbook file writes it, or what is wrong.
 * @param {{ action: string, target: string, targetKind: "group" | "vms", seconds: string, force: boolean, parallel: string }} row
 * @param {number} index
 * @returns {{ step: RunbookStep | null, error: string | null }}
 */
export function stepOf(row, index) {
  const at = `Step ${index + 1}`;
  if (row.action === "wait") {
    const seconds = Number(row.seconds);
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > 86400) return { step: null, error: `${at}: a wait lasts 1 to 86400 seconds` };
    return { step: { action: "wait", seconds, parallel: 10 }, error: null };
  }
  const parallel = Number(row.parallel || "10");
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 1000) return { step: null, error: `${at}: parallel is 1 to 1000` };
  const target = row.target.trim();
  if (!target) return { step: null, error: `${at}: say which VMs (a group, or VM names)` };
  /** @type {RunbookStep} */
  const step = { action: /** @type {import("./types").OpKind} */ (row.action), parallel };
  if (row.targetKind === "group") step.group = target;
  else step.vms = target.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
  if (row.force && (row.action === "stop" || row.action === "reboot")) step.force = true;
  return { step, error: null };
}

/** "3 steps: stop group old-side, wait 30 s, start group new-side". @param {RunbookStep[]} steps */
export function stepsText(steps) {
  const each = steps.map((st) => st.action === "wait" ? `wait ${st.seconds} s` : `${actionLabel(st.action).toLowerCase()} ${st.group ? `group ${st.group}` : plural(st.vms?.length ?? 0, "VM")}`);
  return `${plural(steps.length, "step")}: ${each.join(", ")}`;
}
