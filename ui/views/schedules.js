// Schedules: the list (enable/disable, run now, history, edit, remove), the
// global pause with its banner, and the form that adds or edits one with a
// live preview of its next runs. Kept current from the engine's events
// (schedules changed, a schedule fired), here and from other processes.

import { $, el, setText } from "../dom.js";
import { ipc } from "../ipc.js";
import { bothClocks, doesText, draftOf, edgeText, localZone, runNowQuestion, splitDates, wallClock } from "../schedule-text.js";
import { confirmRunNow, confirmText, showScheduleHistory } from "./dialogs.js";

/** @typedef {import("../types").ScheduleView} ScheduleView */
/** @typedef {import("../types").ScheduleDraft} ScheduleDraft */
/** @typedef {import("../types").EngineEvent} EngineEvent */

/** How long the preview waits for typing to pause before it asks the engine. */
const PREVIEW_AFTER_MS = 200;

export function initSchedules() {
  const form = /** @type {HTMLFormElement} */ ($("#schedule-form"));
  const result = $("#schedules-result");
  const preview = $("#schedule-preview");
  const submit = /** @type {HTMLButtonElement} */ ($('button[type="submit"]', form));
  /** @param {string} name */
  const input = (name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
  const targetKind = /** @type {HTMLSelectElement} */ (form.elements.namedItem("target_kind"));
  /** @type {string | null} the schedule's name while the form edits it */
  let editing = null;
  let paused = false;
  let shown = false;
  /** @type {{ groups: string[], runbooks: string[] }} */
  let targets = { groups: [], runbooks: [] };
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let previewTimer;
  let previewAsked = 0;

  // No <datalist> for the zone or the target: WebKitGTK's WebDriver never
  // finishes a screenshot of a page with one, which the e2e test needs.
  input("zone").value = localZone();

  /** @returns {ScheduleDraft} */
  function draft() {
    const grace = input("grace_minutes").value.trim();
    return {
      name: input("name").value,
      when: input("when").value,
      enforce: input("enforce").checked,
      zone: input("zone").value.trim() || localZone(),
      action: /** @type {ScheduleDraft["action"]} */ (/** @type {HTMLSelectElement} */ (form.elements.namedItem("action")).value || null),
      target_kind: /** @type {ScheduleDraft["target_kind"]} */ (targetKind.value),
      target: input("target").value,
      force: input("force").checked,
      grace_minutes: grace === "" ? null : Number(grace),
      skip_dates: splitDates(input("skip_dates").value),
      enabled: input("enabled").checked,
    };
  }

  /** The target input follows its kind: a group's or runbook's name (offered), or VM names. */
  function showTargetKind() {
    const kind = targetKind.value;
    setText($("#schedule-target-label"), kind === "group" ? "Group" : kind === "runbook" ? "Runbook" : "VMs");
    input("target").placeholder = kind === "vms" ? "web-01, web-02" : kind === "group" ? (targets.groups[0] ?? "") : (targets.runbooks[0] ?? "");
    const names = kind === "group" ? targets.groups : kind === "runbook" ? targets.runbooks : [];
    setText($("#schedule-target-hint"), kind === "vms" ? "Names, ids or account/name, as pdk takes them." : names.length ? `Saved: ${names.join(", ")}` : `No ${kind}s saved yet (pdk ${kind === "group" ? "groups add" : "runbook add"}).`);
    $("#schedule-action-label").hidden = kind === "runbook";
    $("#schedule-force-label").hidden = kind === "runbook";
  }
  targetKind.addEventListener("change", () => { showTargetKind(); schedulePreview(); });

  // ---- the live preview ----

  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(runPreview, PREVIEW_AFTER_MS);
  }

  async function runPreview() {
    const d = draft();
    if (!d.when.trim()) {
      preview.replaceChildren(el("p", { class: "muted" }, "Type when it runs to see its next runs here."));
      return;
    }
    const asked = ++previewAsked;
    // A preview needs a target of some kind to read the draft; any will do.
    const probe = { ...d, target: d.target.trim() || "preview", action: d.action ?? "stop" };
    try {
      const next = await ipc.previewSchedule(probe);
      if (asked !== previewAsked) return;
      const zone = probe.zone;
      const does = { runbook: d.target_kind === "runbook", action: probe.action };
      preview.replaceChildren(
        el("p", { class: "preview-title" }, next.length ? `Next ${next.length === 1 ? "run" : `${next.length} runs`}:` : "It never runs again (every date is past)."),
        el("ol", { id: "schedule-preview-list" }, ...next.map((o) => el("li", { class: o.holiday ? "muted" : "" },
          bothClocks(o.at, zone), ` — ${edgeText(does, o.edge)}`, o.holiday ? " (skip date: will not run)" : ""))),
      );
      input("when").removeAttribute("aria-invalid");
    } catch (e) {
      if (asked !== previewAsked) return;
      input("when").setAttribute("aria-invalid", "true");
      preview.replaceChildren(el("p", { class: "error", id: "schedule-preview-error", role: "alert" }, String(e)));
    }
  }
  for (const name of ["when", "zone", "skip_dates", "enforce"]) input(name).addEventListener("input", schedulePreview);

  // ---- the list ----

  async function render() {
    let list;
    try {
      list = await ipc.listSchedules();
    } catch (e) {
      setText(result, String(e));
      return;
    }
    paused = list.paused;
    $("#schedules-paused").hidden = !paused;
    const pause = $("#schedules-pause");
    setText(pause, paused ? "Resume schedules" : "Pause all schedules");
    pause.setAttribute("aria-pressed", String(paused));
    setText($("#schedules-count"), list.schedules.length ? `${list.schedules.length} schedule${list.schedules.length === 1 ? "" : "s"}` : "");
    const body = $("#schedules-table tbody");
    if (!list.schedules.length) {
      body.replaceChildren(el("tr", {}, el("td", { colSpan: 6, class: "muted" }, "No schedules yet. Add one below, or with pdk schedules add.")));
      return;
    }
    body.replaceChildren(...list.schedules.map(row));
  }

  /** @param {ScheduleView} v */
  function row(v) {
    const s = v.schedule;
    const next = v.next.find((o) => !o.holiday);
    const nextText = v.problem ? v.problem : !s.enabled ? "disabled" : paused ? "paused" : next ? bothClocks(next.at, s.zone) : "no next run";
    const last = v.last ? `${wallClock(v.last.firing.occurrence, localZone())}: ${v.last.result}` : "never ran";
    const name = el("td", {}, el("strong", {}, s.name), s.enabled ? null : el("span", { class: "pill-off" }, " disabled"));
    const actions = el("td", {}, el("div", { class: "row-actions" },
      el("button", { "data-action": "toggle", onclick: () => toggle(s.name, !s.enabled) }, s.enabled ? "Disable" : "Enable"),
      el("button", { "data-action": "run-now", onclick: () => runNow(s.name) }, "Run now"),
      el("button", { "data-action": "history", onclick: () => history(s.name) }, "History"),
      el("button", { "data-action": "edit", onclick: () => startEdit(v) }, "Edit"),
      el("button", { "data-action": "remove", class: "danger-outline", onclick: () => remove(s.name) }, "Remove")));
    return el("tr", { "data-schedule": s.name, class: s.enabled ? "" : "disabled-row" },
      name,
      el("td", {}, v.when_text, el("br"), el("span", { class: "muted" }, s.zone)),
      el("td", {}, doesText(s)),
      el("td", { class: v.problem ? "error" : "" }, nextText),
      el("td", { class: "last-result" }, last),
      actions);
  }

  /** @param {string} name @param {boolean} enabled */
  async function toggle(name, enabled) {
    try {
      await ipc.setScheduleEnabled(name, enabled);
      setText(result, enabled ? `${name} is enabled; it runs from its next occurrence.` : `${name} is disabled.`);
    } catch (e) { setText(result, String(e)); }
    render();
  }

  /** @param {string} name */
  async function runNow(name) {
    let plan;
    try {
      plan = await ipc.scheduleRunPlan(name);
    } catch (e) {
      setText(result, String(e));
      return;
    }
    if (!(await confirmRunNow(runNowQuestion(name, plan)))) return;
    try {
      const fired = await ipc.runScheduleNow(name);
      setText(result, `${name}: ${fired.firing.note ?? fired.result}`);
    } catch (e) { setText(result, String(e)); }
    render();
  }

  /** @param {string} name */
  function history(name) {
    return showScheduleHistory(`History of ${name}`, async (body) => {
      try {
        const firings = await ipc.scheduleHistory(name);
        body.replaceChildren(...(firings.length ? firings.map((f) => el("tr", { "data-firing": f.firing.id, class: `firing-${f.firing.status}` },
          el("td", { class: "nowrap" }, wallClock(f.firing.occurrence, localZone())),
          el("td", {}, f.firing.purpose === "manual" ? "run now" : f.firing.purpose === "enforce" ? "drift correction" : "scheduled"),
          el("td", { class: "status" }, f.firing.status),
          el("td", { class: "result" }, f.result, f.firing.note && f.firing.note !== f.result ? el("div", { class: "muted" }, f.firing.note) : null)))
          : [el("tr", {}, el("td", { colSpan: 4, class: "muted" }, "Nothing has run yet."))]));
      } catch (e) {
        body.replaceChildren(el("tr", {}, el("td", { colSpan: 4, class: "error" }, String(e))));
      }
    });
  }

  /** @param {string} name */
  async function remove(name) {
    if (!(await confirmText(`Remove ${name}?`, `Remove the schedule ${name} and its history? Nothing runs for it any more; VMs are not touched.`, `Remove ${name}`))) return;
    try {
      await ipc.removeSchedule(name);
      setText(result, `Removed ${name}.`);
      if (editing === name) endEdit();
    } catch (e) { setText(result, String(e)); }
    render();
  }

  // ---- the form ----

  /** @param {ScheduleView} v */
  function startEdit(v) {
    const d = draftOf(v);
    editing = d.name;
    input("name").value = d.name;
    input("when").value = d.when;
    input("enforce").checked = d.enforce;
    input("zone").value = d.zone;
    targetKind.value = d.target_kind;
    input("target").value = d.target;
    /** @type {HTMLSelectElement} */ (form.elements.namedItem("action")).value = d.action ?? "stop";
    input("force").checked = d.force;
    input("grace_minutes").value = String(d.grace_minutes ?? 15);
    input("skip_dates").value = d.skip_dates.join(", ");
    input("enabled").checked = d.enabled;
    showTargetKind();
    setText($("#schedule-form-title"), `Edit ${d.name}`);
    setText(submit, `Save ${d.name}`);
    $("#schedule-cancel-edit").hidden = false;
    form.scrollIntoView({ block: "start" });
    input("name").focus();
    runPreview();
  }

  function endEdit() {
    editing = null;
    form.reset();
    input("zone").value = localZone();
    setText($("#schedule-form-title"), "Add a schedule");
    setText(submit, "Add schedule");
    $("#schedule-cancel-edit").hidden = true;
    showTargetKind();
    runPreview();
  }
  $("#schedule-cancel-edit").addEventListener("click", () => { endEdit(); setText(result, ""); });
  $("#schedules-add").addEventListener("click", () => { if (editing) endEdit(); form.scrollIntoView({ block: "start" }); input("name").focus(); });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const d = draft();
    try {
      const saved = await ipc.saveSchedule(d, editing);
      setText(result, editing ? `Saved ${saved.name}.` : `Added ${saved.name}.`);
      endEdit();
    } catch (err) {
      setText(result, String(err));
    }
    render();
  });

  async function setPaused(/** @type {boolean} */ on) {
    try {
      await ipc.pauseSchedules(on);
      setText(result, on ? "All schedules are paused; what comes due meanwhile will not run." : "Schedules resumed; each runs from its next occurrence.");
    } catch (e) { setText(result, String(e)); }
    render();
  }
  $("#schedules-pause").addEventListener("click", () => setPaused(!paused));
  $("#schedules-resume").addEventListener("click", () => setPaused(false));

  let renderQueued = false;
  return {
    /** The tab was opened. */
    async show() {
      shown = true;
      try { targets = await ipc.scheduleTargets(); } catch { targets = { groups: [], runbooks: [] }; }
      showTargetKind();
      render();
    },
    hide() { shown = false; },
    /** Schedules changed or one fired (here or in another process): redraw, once per burst. @param {EngineEvent[]} events */
    apply(events) {
      if (!shown || renderQueued) return;
      if (!events.some((e) => e.type === "schedules-changed" || e.type === "fired" || e.type === "batch-finished" || e.type === "run-changed")) return;
      renderQueued = true;
      setTimeout(() => { renderQueued = false; render(); }, 100);
    },
  };
}
