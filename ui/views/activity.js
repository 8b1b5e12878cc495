// Activity: who did what, as a table (time, VM, action, initiator, result,
// duration), with filters and a CSV export. Loaded from the store the first
// time it is shown; after that the engine's events keep it current.

import { $, el, setText, toast } from "../dom.js";
import { duration, clock, timestamp } from "../format.js";
import { toCsv } from "../csv.js";
import { applyActivityEvents, createActivity, listActivity, loadActivity } from "../activity-state.js";
import { ipc } from "../ipc.js";

/** @typedef {import("../context.js").App} App */
/** @typedef {import("../activity-state.js").Entry} Entry */

/** @param {App} app */
export function initActivity(app) {
  const a = createActivity();
  const view = $("#activity");
  const body = $("#activity-table tbody");
  const vmFilter = /** @type {HTMLInputElement} */ ($("#activity-vm"));
  const resultFilter = /** @type {HTMLSelectElement} */ ($("#activity-result"));
  const initiatorFilter = /** @type {HTMLSelectElement} */ ($("#activity-initiator"));
  const countEl = $("#activity-count");
  let loading = false;

  const filter = () => ({ vm: vmFilter.value, result: resultFilter.value, initiator: initiatorFilter.value });

  function render() {
    if (view.hidden) return;
    if (!a.loaded) {
      body.replaceChildren(el("tr", {}, el("td", { colSpan: 7, class: "muted" }, "Loading…")));
      return;
    }
    const now = Date.now();
    const rows = listActivity(a, filter());
    setText(countEl, `${rows.length} of ${a.entries.size}`);
    body.replaceChildren(...(rows.length ? rows.map((e) => el("tr", { "data-key": e.key, class: `result-${e.result.replace(" ", "-")}` },
      el("td", { class: "nowrap" }, timestamp(e.at)),
      el("td", {}, el("button", { class: "link", "data-vm-id": e.vmId, title: `Show ${e.vm} in the inventory`, onclick: () => app.revealVm(e.vmId) }, e.vm), el("span", { class: "muted" }, ` ${e.account}`)),
      el("td", {}, e.action),
      el("td", {}, e.initiator),
      el("td", { class: "result" }, e.result),
      e.result === "in flight" ? el("td", { class: "nowrap running", "data-since": e.at }, clock(e.at, now)) : el("td", { class: "nowrap" }, e.durationMs !== null ? duration(e.durationMs) : "—"),
      el("td", { class: "detail" }, e.detail)))
      : [el("tr", {}, el("td", { colSpan: 7, class: "muted" }, a.entries.size ? "Nothing matches these filters." : "Nothing has happened yet."))]));
    app.clocksShown();
  }

  async function load() {
    if (a.loaded || loading) return;
    loading = true;
    try {
      loadActivity(a, await ipc.recentActivity());
    } catch (e) {
      toast(String(e));
    } finally {
      loading = false;
    }
    render();
  }

  async function exportCsv() {
    const rows = listActivity(a, filter());
    const text = toCsv(["time", "vm", "account", "action", "initiator", "result", "duration_s", "detail"],
      rows.map((e) => [timestamp(e.at), e.vm, e.account, e.action, e.initiator, e.result, e.durationMs === null ? "" : (e.durationMs / 1000).toFixed(1), e.detail]));
    try {
      const path = await ipc.saveCsv("activity", text);
      setText($("#activity-export-result"), `Saved ${rows.length} rows to ${path}`);
    } catch (e) {
      setText($("#activity-export-result"), `Could not export: ${e}`);
    }
  }

  vmFilter.addEventListener("input", render);
  resultFilter.addEventListener("change", render);
  initiatorFilter.addEventListener("change", render);
  $("#activity-export").addEventListener("click", exportCsv);

  return {
    show() {
      if (a.loaded) render(); else { render(); load(); }
    },
    /** @param {import("../types").EngineEvent[]} events */
    apply(events) {
      if (applyActivityEvents(a, events)) render();
    },
    /** After a resync the store is the truth again. */
    reload() {
      a.loaded = false;
      a.entries.clear();
      if (!view.hidden) load();
    },
    /** Only the clocks of the operations in flight move (whole seconds). Returns the ms until the next moves. */
    tick() {
      if (view.hidden) return Infinity;
      const now = Date.now();
      const running = body.querySelectorAll("td.running");
      for (const td of running) setText(td, clock(Number(/** @type {HTMLElement} */ (td).dataset.since), now));
      return running.length ? 1000 : Infinity;
    },
  };
}
