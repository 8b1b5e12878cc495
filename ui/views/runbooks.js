// Runbooks: the saved plans (run, edit, remove), the runs as they happen
// (each step's VMs with their progress, verified results, Cancel, and Roll
// back or Leave when a failed step waits for a decision), and the form that
// defines one step by step. A run starts only from a plan the user saw and
// approved; the plan goes back with the request.

import { $, el, setText } from "../dom.js";
import { errorText } from "../error-text.js";
import { timestamp } from "../format.js";
import { ipc } from "../ipc.js";
import { planCount, planLines, policyText, runText, stepOf, stepProgress, stepsText } from "../runbook-text.js";
import { plural } from "../state.js";
import { ACTIONS, DESTRUCTIVE, actionLabel } from "../vocabulary.js";
import { confirmRunNow, confirmText } from "./dialogs.js";

/** @typedef {import("../types").Runbook} Runbook */
/** @typedef {import("../types").RunbookStep} RunbookStep */
/** @typedef {import("../types").Run} Run */
/** @typedef {import("../types").EngineEvent} EngineEvent */

/** Runs shown with their steps (the newest). */
const RUNS_SHOWN = 5;
const MARK = { verified: "✓", failed: "✗", "in flight": "⟳", waiting: "…", skipped: "–", refused: "✗" };

/** @param {{ s: import("../state.js").State }} app */
export function initRunbooks(app) {
  const s = app.s;
  const form = /** @type {HTMLFormElement} */ ($("#runbook-form"));
  const result = $("#runbooks-result");
  const stepsList = $("#runbook-steps");
  const submit = /** @type {HTMLButtonElement} */ ($('button[type="submit"]', form));
  const cancelEdit = $("#runbook-cancel-edit");
  /** @param {string} name */
  const input = (name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
  /** @type {string | null} */
  let editing = null;
  let shown = false;
  /** @type {Run[]} */
  let runs = [];

  // ---- the step rows ----

  /** @param {RunbookStep} [step] */
  function addStepRow(step) {
    const action = el("select", { name: "action", "aria-label": "Action" },
      ...ACTIONS.map((k) => el("option", { value: k }, actionLabel(k))), el("option", { value: "wait" }, "Wait"));
    const targetKind = el("select", { name: "targetKind", "aria-label": "Acts on" }, el("option", { value: "group" }, "group"), el("option", { value: "vms" }, "VMs"));
    const target = el("input", { name: "target", "aria-label": "Group or VM names", placeholder: "a group, or VM names", spellcheck: false });
    const seconds = el("input", { name: "seconds", type: "number", min: "1", max: "86400", "aria-label": "Seconds", placeholder: "30" });
    const force = el("input", { name: "force", type: "checkbox" });
    const parallel = el("input", { name: "parallel", type: "number", min: "1", max: "1000", value: "10", "aria-label": "At most this many at once" });
    const forceLabel = el("label", { class: "check" }, force, " force if ignored");
    const parallelLabel = el("label", {}, "at most ", parallel, " at once");
    const secondsLabel = el("label", {}, "for ", seconds, " s");
    const remove = el("button", { type: "button", class: "quiet", "aria-label": "Remove this step", onclick: () => { li.remove(); } }, "Remove step");
    const li = el("li", { class: "step-row" }, action, targetKind, target, secondsLabel, forceLabel, parallelLabel, remove);
    const follow = () => {
      const wait = action.value === "wait";
      targetKind.hidden = target.hidden = parallelLabel.hidden = wait;
      secondsLabel.hidden = !wait;
      forceLabel.hidden = !(action.value === "stop" || action.value === "reboot");
    };
    action.addEventListener("change", follow);
    if (step) {
      action.value = step.action;
      if (step.action === "wait") seconds.value = String(step.seconds ?? "");
      targetKind.value = step.group ? "group" : "vms";
      target.value = step.group ?? (step.vms ?? []).join(", ");
      force.checked = !!step.force;
      parallel.value = String(step.parallel ?? 10);
    }
    follow();
    stepsList.append(li);
    return li;
  }
  $("#runbook-add-step").addEventListener("click", () => { /** @type {HTMLElement} */ (addStepRow().querySelector("select")).focus(); });

  /** The form as a runbook, or what is wrong with it. @returns {{ runbook: Runbook | null, error: string | null }} */
  function draft() {
    /** @type {RunbookStep[]} */
    const steps = [];
    const rows = [...stepsList.querySelectorAll(".step-row")];
    if (!rows.length) return { runbook: null, error: "Add at least one step." };
    for (const [i, li] of rows.entries()) {
      const get = (/** @type {string} */ n) => /** @type {HTMLInputElement} */ (li.querySelector(`[name="${n}"]`));
      const { step, error } = stepOf({
        action: get("action").value, target: get("target").value, targetKind: /** @type {"group" | "vms"} */ (get("targetKind").value),
        seconds: get("seconds").value, force: get("force").checked, parallel: get("parallel").value,
      }, i);
      if (error || !step) return { runbook: null, error };
      steps.push(step);
    }
    const policy = /** @type {import("../types").FailurePolicy} */ (/** @type {HTMLSelectElement} */ (form.elements.namedItem("on_failure")).value);
    return { runbook: { name: input("name").value.trim(), description: input("description").value.trim(), on_failure: policy, steps }, error: null };
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const { runbook, error } = draft();
    if (!runbook) { setText(result, error ?? ""); return; }
    try {
      const saved = await ipc.saveRunbook(runbook, editing !== null);
      setText(result, `${editing ? "Saved" : "Added"} the runbook ${saved.name}. Run it from the list above: you will see its plan first.`);
      endEdit();
      render();
    } catch (err) {
      setText(result, errorText(err));
    }
  });

  /** @param {Runbook} rb */
  function startEdit(rb) {
    editing = rb.name;
    input("name").value = rb.name;
    input("name").readOnly = true;
    input("description").value = rb.description ?? "";
    /** @type {HTMLSelectElement} */ (form.elements.namedItem("on_failure")).value = rb.on_failure;
    stepsList.replaceChildren();
    for (const st of rb.steps) addStepRow(st);
    setText($("#runbook-form-title"), `Edit ${rb.name}`);
    setText(submit, `Save ${rb.name}`);
    cancelEdit.hidden = false;
    form.scrollIntoView({ block: "start" });
    input("description").focus();
  }

  function endEdit() {
    editing = null;
    form.reset();
    input("name").readOnly = false;
    stepsList.replaceChildren();
    addStepRow();
    setText($("#runbook-form-title"), "Add a runbook");
    setText(submit, "Add runbook");
    cancelEdit.hidden = true;
  }
  cancelEdit.addEventListener("click", () => { endEdit(); setText(result, ""); });

  // ---- run: plan, approve, start ----

  /** @param {Runbook} rb */
  async function runIt(rb) {
    let plan;
    try {
      plan = await ipc.planRunbook(rb.name);
    } catch (e) {
      setText(result, errorText(e));
      return;
    }
    const n = planCount(plan);
    const destructive = plan.steps.some((st) => st.action !== "wait" && DESTRUCTIVE.has(st.action) && st.vms.some((v) => v.will.will === "run"));
    const ok = await confirmRunNow({
      title: `Run ${rb.name}?`,
      text: `${plural(plan.steps.length, "step")}, each verified before the next; ${plural(n, "operation")} in all. ${policyText(plan.on_failure)}`,
      notes: planLines(plan),
      ok: "Run the runbook",
      destructive,
      vms: [],
    });
    if (!ok) return;
    try {
      const run = await ipc.startRun(rb.name, plan);
      setText(result, `Run #${run.id} of ${rb.name} started.`);
      upsertRun(run);
    } catch (e) {
      setText(result, errorText(e));
    }
  }

  // ---- the list ----

  /** @param {Runbook} rb */
  function row(rb) {
    const run = el("button", { class: "primary", onclick: () => runIt(rb) }, "Run…");
    const edit = el("button", { onclick: () => startEdit(rb) }, "Edit");
    const remove = el("button", {
      class: "danger-outline",
      onclick: async () => {
        const yes = await confirmText(`Remove the runbook ${rb.name}?`, "The runbook is forgotten; its past runs stay in the journal. Schedules that run it will fail to find it.", `Remove ${rb.name}`);
        if (!yes) return;
        try { await ipc.removeRunbook(rb.name); setText(result, `Removed the runbook ${rb.name}.`); render(); } catch (e) { setText(result, errorText(e)); }
      },
    }, "Remove");
    const policy = { stop: "stop there", continue: "go on", rollback: "roll back", ask: "ask me" }[rb.on_failure] ?? rb.on_failure;
    return el("tr", { "data-runbook": rb.name },
      el("th", { scope: "row" }, rb.name, rb.description ? el("div", { class: "muted" }, rb.description) : null),
      el("td", {}, stepsText(rb.steps)), el("td", {}, policy),
      el("td", { class: "nowrap" }, run, " ", edit, " ", remove));
  }

  async function render() {
    const body = $("#runbooks-table tbody");
    try {
      const [all, recent] = await Promise.all([ipc.listRunbooks(), ipc.listRuns()]);
      body.replaceChildren(...(all.length ? all.map(row)
        : [el("tr", {}, el("td", { colSpan: 4, class: "muted" }, "No runbooks yet: define one below, or `pdk runbook add FILE.toml`."))]));
      runs = recent;
      renderRuns();
    } catch (e) {
      setText(result, errorText(e));
    }
  }

  // ---- runs, live ----

  /** @param {Run} run */
  function upsertRun(run) {
    const i = runs.findIndex((r) => r.id === run.id);
    if (i >= 0) runs[i] = run; else runs.unshift(run);
    runs.sort((a, b) => b.id - a.id);
  }

  /** @param {Run} run */
  function runCard(run) {
    const buttons = [];
    if (run.phase === "running" && !run.cancel_requested) {
      buttons.push(el("button", { "data-run-action": "cancel", onclick: async () => {
        const yes = await confirmText(`Cancel run #${run.id}?`, "Nothing new starts; operations already in flight are followed to their end, and the run says what it left.", "Cancel the run", "Keep running");
        if (!yes) return;
        try { upsertRun(await ipc.cancelRun(run.id)); renderRuns(); } catch (e) { setText(result, errorText(e)); }
      } }, "Cancel run"));
    }
    if (run.phase === "awaiting-decision") {
      buttons.push(
        el("button", { class: "primary", "data-run-action": "rollback", onclick: async () => {
          const yes = await confirmText(`Roll back run #${run.id}?`, "The completed steps are undone in reverse order (what was stopped is started, what was started is stopped), each verified.", "Roll back");
          if (!yes) return;
          try { upsertRun(await ipc.decideRun(run.id, true)); renderRuns(); } catch (e) { setText(result, errorText(e)); }
        } }, "Roll back"),
        el("button", { "data-run-action": "leave", onclick: async () => {
          try { upsertRun(await ipc.decideRun(run.id, false)); renderRuns(); } catch (e) { setText(result, errorText(e)); }
        } }, "Leave it as it is"),
      );
    }
    const steps = run.plan.steps.map((st, i) => {
      const progress = st.action === "wait" ? [] : stepProgress(run, i, s.ops);
      const stepState = run.steps.filter((x) => x.step === i).map((x) => `${x.rollback ? "rollback " : ""}${x.phase}`).join(", ");
      return el("li", {},
        el("strong", {}, st.action === "wait" ? `Wait ${st.seconds} s` : actionLabel(st.action)), stepState ? ` — ${stepState}` : "",
        el("div", {}, ...progress.map((p) => el("span", { class: `vm-progress ${p.status.replace(" ", "-")}`, title: p.detail },
          `${MARK[p.status]} ${p.name} (${p.status}${p.detail && p.status !== "in flight" ? `: ${p.detail}` : ""})`))));
    });
    const failed = ["failed", "rolled-back", "awaiting-decision"].includes(run.phase);
    return el("article", { class: "run", "data-run": run.id },
      el("h3", {}, `#${run.id} ${run.name}`, el("span", { class: `run-phase ${failed ? "run-failed" : ""}`, "data-phase": run.phase }, runText(run)), ...buttons),
      el("div", { class: "muted" }, `asked ${timestamp(run.requested_at)}${run.summary ? ` · ${run.summary}` : ""}`),
      el("ol", {}, ...steps));
  }

  function renderRuns() {
    const box = $("#runs");
    // Keep the focus on the same button across a redraw (a keyboard user may be on Cancel).
    const active = document.activeElement instanceof HTMLElement && box.contains(document.activeElement) ? document.activeElement : null;
    const was = active ? [active.closest("[data-run]")?.getAttribute("data-run"), active.dataset.runAction] : null;
    box.replaceChildren(...(runs.length ? runs.slice(0, RUNS_SHOWN).map(runCard) : [el("p", { class: "muted" }, "No runs yet.")]));
    if (was) /** @type {HTMLElement | null} */ (box.querySelector(`[data-run="${was[0]}"] [data-run-action="${was[1]}"]`))?.focus();
  }

  return {
    show() {
      shown = true;
      // The first empty step is drawn once the vocabulary (its actions) has come.
      if (!stepsList.children.length) addStepRow();
      render();
    },
    hide() { shown = false; },
    /** Runs move; their steps' operations too. @param {EngineEvent[]} events */
    apply(events) {
      let dirty = false;
      for (const ev of events) {
        if (ev.type === "run-changed") { upsertRun(ev.run); dirty = true; }
        else if (ev.type === "operation" && ev.op.batch_id !== null && ev.op.batch_id !== undefined) dirty = true;
      }
      if (dirty && shown) renderRuns();
    },
  };
}
