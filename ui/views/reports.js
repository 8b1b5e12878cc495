// Reports: hours per state for a month (stacked bars per account), what
// Powerdeck's own stops saved, one VM's timeline (unknown time hatched),
// findings worth a look with the action that fixes each (asked first, as
// everywhere), and the month's hours as CSV. The engine aggregates; this
// view draws a few dozen numbers, however large the fleet.

import { $, el, setText } from "../dom.js";
import { timestamp } from "../format.js";
import { hoursText, layout, recentMonths, seen, shares, STATES, timelineSpan, total, yearTo } from "../report-chart.js";
import { ipc } from "../ipc.js";

/** @typedef {import("../context.js").App} App */
/** @typedef {import("../types").Hours} Hours */

const SVG = "http://www.w3.org/2000/svg";
const BAR_WIDTH = 560;

/** @param {string} tag @param {Record<string, string | number>} attrs @param {...(Node | string)} children */
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  e.append(...children);
  return e;
}

/** A diagonal hatch for unknown time, defined once per chart. */
function hatch() {
  return svg("defs", {}, svg("pattern", { id: "hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
    svg("rect", { width: 6, height: 6, class: "st-unknown-bg" }), svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, class: "st-unknown-line" })));
}

/** "Running 120.0 h (80 %), stopped 30.0 h (20 %)". @param {Hours} h @param {boolean} [seenOnly] */
function summary(h, seenOnly = false) {
  return shares(h, seenOnly).map((p) => `${p.label.toLowerCase()} ${hoursText(p.ms)} (${Math.round(p.fraction * 100)} %)`).join(", ") || "no time counted";
}

/** A stacked bar of the time Powerdeck saw, by state. @param {Hours} h @param {number} width @param {number} height */
function bar(h, width, height) {
  return layout(shares(h, true), width).map((p) => svg("rect", { x: p.x, y: 0, width: p.w, height, class: `st-${p.state}`, fill: p.state === "unknown" ? "url(#hatch)" : "" },
    svg("title", {}, `${p.label}: ${hoursText(p.ms)}`)));
}

/** @param {App} app */
export function initReports(app) {
  const monthSelect = /** @type {HTMLSelectElement} */ ($("#report-month"));
  const bySelect = /** @type {HTMLSelectElement} */ ($("#report-by"));
  const priceInput = /** @type {HTMLInputElement} */ ($("#report-price"));
  const accountsChart = $("#report-accounts");
  const summaryEl = $("#report-summary");
  const timelineVm = /** @type {HTMLInputElement} */ ($("#timeline-vm"));
  const timelineSpanSelect = /** @type {HTMLSelectElement} */ ($("#timeline-span"));
  const timelineEl = $("#timeline");
  const findingsBody = $("#findings-table tbody");
  const months = recentMonths(new Date(), 12);
  monthSelect.replaceChildren(...months.map((m) => el("option", { value: m.value }, m.label)));
  $("#report-legend").replaceChildren(...STATES.map(([state, label]) => el("span", { class: "legend-item" }, el("span", { class: `swatch st-${state}`, "aria-hidden": "true" }), label)));

  const month = () => months.find((m) => m.value === monthSelect.value) ?? months[0];
  const price = () => (priceInput.value.trim() === "" ? null : Number(priceInput.value));

  async function renderHours() {
    const by = /** @type {"account" | "group" | "tag" | "month"} */ (bySelect.value);
    // By month: the twelve months up to the chosen one, a bar each.
    const { from, to } = by === "month" ? yearTo(month().from) : month();
    const p = price();
    if (p !== null && !(p >= 0 && Number.isFinite(p))) {
      setText(summaryEl, "The price per running hour must be a number, 0 or more.");
      return;
    }
    setText(summaryEl, "Counting…");
    try {
      setText($("#report-title"), by === "month" ? `Hours per state, by month: the year to ${month().label}` : `Hours per state, by ${by}`);
      const report = await ipc.hoursReport(from, to, by, p);
      const t = report.total;
      const saved = `${hoursText(t.hours.saved)} off because of Powerdeck's own stops, schedules and runbooks${t.saved_cost !== null ? ` (estimated saving ${t.saved_cost.toFixed(2)})` : ""}`;
      const cost = t.cost !== null ? ` Estimated cost: ${t.cost.toFixed(2)} (an estimate from the price given, not a bill).` : "";
      const upTo = report.until < report.to ? ` Counted up to now (${timestamp(report.until)}).` : "";
      setText(summaryEl, `${t.vms} VMs: ${hoursText(t.hours.billable)} billable; ${saved}.${cost}${upTo}${t.hours.unknown > 0 ? ` The bars share out the time Powerdeck saw; ${hoursText(t.hours.unknown)} it could not see (closed, or the provider unreachable) is left out there and hatched in the timeline.` : ""}`);
      const rowHeight = 22, gap = 30, labelWidth = 0;
      // A row with nothing seen is a line of text; the others carry a bar.
      const unseenHeight = 22;
      const heightOf = (/** @type {import("../types").HoursRow} */ row) => (seen(row.hours) === 0 ? unseenHeight : rowHeight + gap);
      const height = Math.max(rowHeight + gap, report.rows.reduce((sum, row) => sum + heightOf(row), 0));
      const chart = svg("svg", { viewBox: `0 0 ${BAR_WIDTH} ${height}`, width: BAR_WIDTH, height, role: "img", "aria-label": `Hours per state, by ${by}` }, hatch());
      let y = 0;
      report.rows.forEach((row) => {
        const top = y;
        y += heightOf(row);
        // Nothing seen (a month before the account was added, Powerdeck
        // closed): said in words, not drawn as a bar of hatching.
        if (seen(row.hours) === 0) {
          chart.append(svg("text", { x: labelWidth, y: top + 13, class: "chart-label muted", "data-unseen": row.name },
            `${row.name} · nothing seen: Powerdeck was not watching (${hoursText(total(row.hours))} unknown)`));
          return;
        }
        chart.append(
          svg("text", { x: labelWidth, y: top + 13, class: "chart-label" },
            `${row.name} · ${row.vms} VMs · seen ${hoursText(seen(row.hours))} of ${hoursText(total(row.hours))}${row.hours.unknown ? ` · not seen ${hoursText(row.hours.unknown)}` : ""}`),
          svg("g", { transform: `translate(0 ${top + 18})`, "data-row": row.name, role: "img", "aria-label": `${row.name}, of the time seen: ${summary(row.hours, true)}` }, ...bar(row.hours, BAR_WIDTH, rowHeight)),
        );
      });
      const untagged = by === "tag" && report.rows.every((r) => r.name === "(no tag)");
      const none = untagged ? "No VM has tags from its provider." : by === "month" ? "No VMs in these months." : "No VMs in this month.";
      accountsChart.replaceChildren(report.rows.length && !untagged ? chart : el("p", { class: "muted" }, none));
    } catch (e) {
      setText(summaryEl, `The report could not be made: ${e}`);
    }
  }

  /** The VM the timeline shows: the one named in the box, else the one whose details are open, else the first. */
  function timelineTarget() {
    const name = timelineVm.value.trim();
    if (name) {
      return app.s.vms.find((vm) => vm.name === name) ?? null;
    }
    const open = app.detailsFor();
    const vm = (open !== null && app.s.vms.get(open)) || (app.s.vms.size ? app.s.vms.at(0) : undefined);
    if (vm) timelineVm.value = vm.name;
    return vm ?? null;
  }

  async function renderTimeline() {
    const vm = timelineTarget();
    if (!vm) {
      timelineEl.replaceChildren(el("p", { class: "muted" }, timelineVm.value.trim() ? `No VM is called ${timelineVm.value.trim()}.` : "No VM to show."));
      return;
    }
    const span = /** @type {"day" | "week" | "month"} */ (timelineSpanSelect.value);
    const { from, to, buckets } = timelineSpan(span, Date.now());
    try {
      const slices = await ipc.vmTimeline(vm.id, from, to, buckets);
      const height = 28, width = BAR_WIDTH;
      const chart = svg("svg", { viewBox: `0 0 ${width} ${height + 18}`, width, height: height + 18, role: "img", "aria-label": `${vm.name} from ${timestamp(from)} to now` }, hatch());
      slices.forEach((b, i) => {
        const x = Math.round((i * width) / slices.length), w = Math.round(((i + 1) * width) / slices.length) - x;
        const parts = layout(shares(b.hours), height);
        const data = Object.fromEntries(STATES.map(([k]) => [`data-${k}-ms`, b.hours[k]]));
        chart.append(svg("g", { transform: `translate(${x} 0)`, class: "slice", ...data },
          svg("title", {}, `${timestamp(b.from)} – ${timestamp(b.to)}: ${summary(b.hours)}`),
          ...parts.map((p) => svg("rect", { x: 0, y: p.x, width: w, height: p.w, class: `st-${p.state}`, fill: p.state === "unknown" ? "url(#hatch)" : "" }))));
      });
      chart.append(svg("text", { x: 0, y: height + 14, class: "chart-label" }, timestamp(from)), svg("text", { x: width, y: height + 14, class: "chart-label", "text-anchor": "end" }, "now"));
      timelineEl.replaceChildren(chart);
      timelineEl.dataset.vm = vm.name;
    } catch (e) {
      timelineEl.replaceChildren(el("p", { class: "error" }, `The timeline could not be read: ${e}`));
    }
  }

  /** What fixes a finding, as the window's own actions. @param {import("../types").Finding} f */
  function actions(f) {
    const vm = app.s.vms.find((v) => v.name === f.vm && app.s.accounts.get(v.account_id)?.name === f.account);
    if (!vm) return [el("span", { class: "muted" }, "no longer listed")];
    const kind = f.kind === "stopped-but-billed" ? "deallocate" : "stop";
    const label = kind === "deallocate" ? "Deallocate…" : "Stop…";
    return [
      el("button", { "data-action": kind, onclick: () => app.act([vm.id], kind) }, label),
      el("button", { class: "quiet", onclick: () => app.showView("schedules", true) }, "Add to a schedule…"),
      el("button", { class: "link", onclick: () => app.revealVm(vm.id) }, "Show"),
    ];
  }

  async function renderFindings() {
    try {
      const found = await ipc.findings();
      findingsBody.replaceChildren(...(found.length ? found.map((f) => el("tr", { "data-vm": f.vm },
        el("td", {}, f.vm, el("span", { class: "muted" }, ` ${f.account}`)),
        el("td", {}, f.detail),
        el("td", { class: "nowrap" }, timestamp(f.since)),
        el("td", { class: "nowrap actions" }, ...actions(f))))
        : [el("tr", {}, el("td", { colSpan: 4, class: "muted" }, "Nothing to look at: no VM runs for nobody, none is billed while stopped, none runs outside its schedule."))]));
    } catch (e) {
      findingsBody.replaceChildren(el("tr", {}, el("td", { colSpan: 4, class: "error" }, `The findings could not be read: ${e}`)));
    }
  }

  async function exportCsv() {
    const { from, to } = month();
    try {
      const path = await ipc.saveHoursCsv(from, to, price());
      setText($("#report-export-result"), `Saved the hours by VM to ${path}`);
    } catch (e) {
      setText($("#report-export-result"), `Could not save the CSV: ${e}`);
    }
  }

  monthSelect.addEventListener("change", renderHours);
  bySelect.addEventListener("change", renderHours);
  priceInput.addEventListener("change", renderHours);
  timelineVm.addEventListener("change", renderTimeline);
  timelineSpanSelect.addEventListener("change", renderTimeline);
  $("#report-export").addEventListener("click", exportCsv);
  $("#report-refresh").addEventListener("click", () => show());

  function show() {
    renderHours();
    renderTimeline();
    renderFindings();
  }

  return { show };
}
