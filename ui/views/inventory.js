// The inventory: filters, the selection's toolbar, and the virtualised grid.
//
// The grid is one Tab stop (role=grid, the focused row named by
// aria-activedescendant); arrow keys move, Space selects, Enter opens the
// details. Only the rows in view exist in the DOM, reused as the view
// scrolls; a row's cells are written only when what they show changed, so
// the once-a-second tick costs the rows in view, never the fleet.

import { $, el, setAttr, setText } from "../dom.js";
import { ago, clock, timestamp } from "../format.js";
import {
  accountText, ariaSort, clockChangesIn, hiddenSelected, indexOf, ipOf, matches, select, selectRange, setFilter, setSort, stateText, statusOf,
} from "../state.js";

/** @typedef {import("../types").Vm} Vm */
/** @typedef {import("../context.js").App} App */

/**
 * @typedef {object} Column
 * @property {string} id
 * @property {string} label
 * @property {number} width     default width in px
 * @property {string} [sort]    sort key (state.js SORT_KEYS)
 * @property {boolean} [always] cannot be hidden
 * @property {boolean} [optional] hidden unless chosen
 * @property {boolean} [flex]   takes the room that is left
 * @property {number} [drop]    with the details open and no room, dropped in this order
 */

/** @type {Column[]} */
export const COLUMNS = [
  { id: "sel", label: "Select", width: 36, always: true },
  { id: "name", label: "Name", sort: "name", width: 170, always: true },
  { id: "account", label: "Account", sort: "account", width: 140, drop: 4 },
  { id: "state", label: "State", sort: "state", width: 140 },
  { id: "raw", label: "Raw state", sort: "raw_state", width: 104, drop: 2 },
  { id: "tools", label: "Tools", sort: "tools", width: 104, drop: 1 },
  { id: "change", label: "Last change", sort: "last_state_change_at", width: 116, drop: 3 },
  { id: "location", label: "Location", sort: "location", width: 130, optional: true, drop: 0 },
  { id: "provider_id", label: "Provider id", sort: "provider_id", width: 160, optional: true, drop: 0 },
  { id: "ip", label: "IP address", width: 130, optional: true, drop: 0 },
  { id: "os", label: "Guest OS", width: 150, optional: true, drop: 0 },
  { id: "status", label: "Status", width: 180, flex: true },
];
const MIN_WIDTH = 60;
const OVERSCAN = 6;
/** Cell padding and the row's own inset, beside the column widths. */
const ROW_INSET = 8;

/**
 * What one cell shows: its text, tooltip and class.
 * @typedef {{ text: string, title: string, cls?: string, since?: number, seenAt?: number }} CellValue
 */

/**
 * @param {App} app @param {Column} col @param {Vm} vm @param {number} now @returns {CellValue}
 */
function cellValue(app, col, vm, now) {
  const s = app.s;
  switch (col.id) {
    case "name": return { text: vm.name, title: `${vm.name} (${vm.provider_id})` };
    case "account": { const t = accountText(s, vm); return { text: t, title: t }; }
    case "state": { const t = stateText(vm); return { text: t, title: `${t} (provider: ${vm.raw_state})`, cls: `badge state-${vm.state}${vm.stale ? " stale" : ""}` }; }
    case "raw": return { text: vm.raw_state, title: vm.raw_state };
    case "tools": { const t = vm.tools ?? "—"; return { text: t, title: vm.tools ? `Guest tools: ${vm.tools}` : "Not reported" }; }
    case "change": return { text: ago(vm.last_state_change_at, now), title: timestamp(vm.last_state_change_at) };
    case "location": return { text: vm.location ?? "—", title: vm.location ?? "" };
    case "provider_id": return { text: vm.provider_id, title: vm.provider_id };
    case "ip": { const t = ipOf(vm); return { text: t || "—", title: t }; }
    case "os": { const t = vm.facts.guest_os ?? ""; return { text: t || "—", title: t }; }
    case "status": {
      const st = statusOf(s, vm, now);
      let text = st.text;
      if (st.since !== undefined) text = `${st.text} ${clock(st.since, now)}`;
      if (st.seenAt !== undefined) text = `${st.text} ${ago(st.seenAt, now)}`;
      if (st.hint) text = `${text} · ${st.hint}`;
      return { text, title: text, cls: `status-${st.kind}` };
    }
    default: return { text: "", title: "" };
  }
}

class RowView {
  constructor() {
    this.el = el("div", { class: "row", role: "row" });
    /** @type {number | null} */
    this.vmId = null;
    this.index = -1;
    /** @type {Map<string, HTMLElement>} */
    this.cells = new Map();
    /** @type {Map<string, string>} what each cell shows now ("text|title|cls") */
    this.shown = new Map();
    /** @type {HTMLInputElement | null} */
    this.box = null;
    /** @type {HTMLElement | null} */
    this.spinner = null;
    this.rowClass = "";
  }
}

/** @param {App} app */
export function initInventory(app) {
  const s = app.s;
  const grid = $("#grid");
  const head = $("#grid-head");
  const body = $("#grid-body");
  const message = $("#grid-message");
  const search = /** @type {HTMLInputElement} */ ($("#search"));
  const filterState = /** @type {HTMLSelectElement} */ ($("#filter-state"));
  const filterAccount = /** @type {HTMLSelectElement} */ ($("#filter-account"));
  const filterKind = /** @type {HTMLSelectElement} */ ($("#filter-kind"));
  const powerButton = /** @type {HTMLButtonElement} */ ($("#power-button"));
  const selectionCount = $("#selection-count");

  /** @type {Column[]} */
  let columns = [];
  let columnsKey = "";
  /** The grid's width when the columns were fitted (a scrollbar that comes or goes changes it). */
  let laidOutFor = -1;
  /** @type {RowView[]} */
  let pool = [];
  /** @type {Map<number, RowView>} */
  const byVm = new Map();
  /** The row the keyboard is on (a VM id: it follows the VM when the order changes). */
  /** @type {number | null} */
  let activeId = null;
  /** With the header active: the column it is on. */
  /** @type {number | null} */
  let activeHeader = null;
  /** Shift-click and shift-arrows extend from here. */
  let anchor = 0;

  const rowHeight = () => app.rowHeight;
  const widthOf = (/** @type {Column} */ c) => app.prefs.widths[c.id] ?? c.width;

  function chosenColumns() {
    const hidden = new Set(app.prefs.hiddenColumns), shown = new Set(app.prefs.shownColumns);
    return COLUMNS.filter((c) => c.always || (c.optional ? shown.has(c.id) : !hidden.has(c.id)));
  }

  // ---------- columns ----------

  /** Fit the columns to the room there is, and rebuild the header and rows if the set changed (or `rebuild`: the density changed). */
  function layout(rebuild = false) {
    if (rebuild) columnsKey = "";
    laidOutFor = grid.clientWidth;
    let cols = chosenColumns();
    if (app.detailsOpen()) {
      const room = laidOutFor - ROW_INSET;
      const droppable = cols.filter((c) => c.drop !== undefined).sort((a, b) => /** @type {number} */ (a.drop) - /** @type {number} */ (b.drop));
      const total = (/** @type {Column[]} */ cs) => cs.reduce((n, c) => n + widthOf(c), 0);
      while (total(cols) > room && droppable.length) {
        const d = droppable.shift();
        cols = cols.filter((c) => c !== d);
      }
    }
    const flex = cols.find((c) => c.flex) ?? cols[cols.length - 1];
    const template = cols.map((c) => (c === flex ? `minmax(${widthOf(c)}px, 1fr)` : `${widthOf(c)}px`)).join(" ");
    grid.style.setProperty("--cols", template);
    grid.style.setProperty("--grid-min", `${cols.reduce((n, c) => n + widthOf(c), 0) + ROW_INSET}px`);
    const key = cols.map((c) => c.id).join(",");
    if (key !== columnsKey) {
      columns = cols;
      columnsKey = key;
      grid.setAttribute("aria-colcount", String(cols.length));
      buildHeader();
      for (const r of pool) r.el.remove();
      pool = [];
      byVm.clear();
    }
  }

  function buildHeader() {
    head.replaceChildren(...columns.map((c, i) => {
      const cell = el("div", { role: "columnheader", id: `col-${c.id}`, class: `hcell h-${c.id}`, "aria-colindex": i + 1 });
      if (c.id === "sel") {
        const all = el("input", { type: "checkbox", id: "select-all", tabIndex: -1, "aria-label": "Select all VMs shown" });
        all.addEventListener("change", () => selectAll(all.checked));
        cell.append(all);
      } else if (c.sort) {
        const key = c.sort;
        cell.append(el("button", { class: "sort", tabIndex: -1, "data-sort": key, title: `Sort by ${c.label.toLowerCase()}`, onclick: () => sortBy(key) },
          el("span", { class: "hlabel" }, c.label), el("span", { class: "sort-arrow", "aria-hidden": "true" })));
      } else {
        cell.append(el("span", { class: "hlabel" }, c.label));
      }
      if (c.id !== "sel") {
        const handle = el("span", { class: "col-resize", "aria-hidden": "true", title: `Drag to resize ${c.label}; double-click for the default width` });
        handle.addEventListener("mousedown", (e) => startResize(e, c));
        handle.addEventListener("dblclick", () => { delete app.prefs.widths[c.id]; app.savePrefs(); layout(); });
        cell.append(handle);
      }
      return cell;
    }));
    updateHeader();
  }

  function updateHeader() {
    for (const c of columns) {
      if (!c.sort) continue;
      const cell = $(`#col-${c.id}`, head);
      const sort = ariaSort(s, c.sort);
      setAttr(cell, "aria-sort", sort);
      setText($(".sort-arrow", cell), sort === "ascending" ? "▲" : sort === "descending" ? "▼" : "");
    }
    updateSelectAll();
  }

  /** The header's checkbox: all, some or none of the VMs shown are selected (costs the selection's size: not per frame). */
  function updateSelectAll() {
    const all = /** @type {HTMLInputElement | null} */ (head.querySelector("#select-all"));
    if (all) {
      const n = s.shown.length;
      let selectedShown = 0;
      if (s.selected.size && n) for (const id of s.selected) { const vm = s.vms.get(id); if (vm && matches(s, vm)) selectedShown++; }
      all.checked = n > 0 && selectedShown === n;
      all.indeterminate = selectedShown > 0 && selectedShown < n;
    }
  }

  /**
   * Drag a column's edge: the width follows the mouse until it is released.
   * (Mouse events, not pointer events: WebKit skips the pointerdown of a
   * button pressed right after a context menu.)
   * @param {MouseEvent} e @param {Column} c
   */
  function startResize(e, c) {
    if (e.button !== 0) return;
    e.preventDefault();
    e.stopPropagation();
    const start = e.clientX, from = widthOf(c);
    const move = (/** @type {MouseEvent} */ m) => {
      app.prefs.widths[c.id] = Math.max(MIN_WIDTH, Math.round(from + m.clientX - start));
      layout();
    };
    const up = () => {
      window.removeEventListener("mousemove", move);
      window.removeEventListener("mouseup", up);
      app.savePrefs();
    };
    window.addEventListener("mousemove", move);
    window.addEventListener("mouseup", up);
  }

  /** @param {string} key */
  function sortBy(key) {
    setSort(s, key);
    app.prefs.sort = { ...s.view.sort };
    app.savePrefs();
    updateHeader();
    render();
  }

  // ---------- rows ----------

  /** @param {RowView} r */
  function buildCells(r) {
    r.cells.clear();
    r.shown.clear();
    r.el.replaceChildren(...columns.map((c, i) => {
      const cell = el("div", { role: "gridcell", class: `cell c-${c.id}`, "aria-colindex": i + 1 });
      if (c.id === "sel") {
        r.box = el("input", { type: "checkbox", tabIndex: -1 });
        cell.append(r.box);
      } else if (c.id === "state") {
        cell.append(el("span", { class: "badge" }));
      } else if (c.id === "status") {
        r.spinner = el("span", { class: "spinner", "aria-hidden": "true" });
        cell.append(r.spinner, el("span", { class: "status-text" }));
      }
      r.cells.set(c.id, cell);
      return cell;
    }));
  }

  /** @param {RowView} r @param {Vm} vm @param {number} index @param {number} now */
  function fill(r, vm, index, now) {
    if (r.vmId !== vm.id) {
      r.vmId = vm.id;
      r.el.id = `row-${vm.id}`;
      r.el.dataset.vmId = String(vm.id);
      r.el.dataset.vmName = vm.name;
    }
    if (r.index !== index) {
      r.index = index;
      r.el.style.top = `${index * rowHeight()}px`;
      r.el.setAttribute("aria-rowindex", String(index + 2));
    }
    const selected = s.selected.has(vm.id);
    const cls = `row${selected ? " selected" : ""}${vm.id === activeId ? " active" : ""}${vm.id === app.detailsFor() ? " open" : ""}`;
    if (cls !== r.rowClass) {
      r.rowClass = cls;
      r.el.className = cls;
      r.el.setAttribute("aria-selected", String(selected));
    }
    for (const c of columns) {
      const cell = /** @type {HTMLElement} */ (r.cells.get(c.id));
      if (c.id === "sel") {
        const box = /** @type {HTMLInputElement} */ (r.box);
        if (box.checked !== selected) box.checked = selected;
        setAttr(box, "aria-label", `Select ${vm.name}`);
        continue;
      }
      const v = cellValue(app, c, vm, now);
      const sig = `${v.text}\u0000${v.title}\u0000${v.cls ?? ""}`;
      if (r.shown.get(c.id) === sig) continue;
      r.shown.set(c.id, sig);
      if (c.id === "state") {
        const badge = /** @type {HTMLElement} */ (cell.firstElementChild);
        badge.className = v.cls ?? "badge";
        setText(badge, v.text);
        cell.title = v.title;
      } else if (c.id === "status") {
        cell.className = `cell c-status ${v.cls}`;
        /** @type {HTMLElement} */ (r.spinner).hidden = v.cls !== "status-waiting";
        setText(/** @type {HTMLElement} */ (cell.lastElementChild), v.text);
        cell.title = v.title;
      } else {
        setText(cell, v.text);
        cell.title = v.title;
      }
    }
  }

  /** Draw the rows in view. Cheap when nothing changed: each cell compares before writing. */
  function render() {
    const now = Date.now();
    const h = rowHeight();
    const n = s.shown.length;
    setText(message, "");
    body.style.height = `${n * h}px`;
    // A vertical scrollbar that came or went with the rows changes the room for the columns.
    if (grid.clientWidth !== laidOutFor) layout();
    grid.setAttribute("aria-rowcount", String(n + 1));
    const top = grid.scrollTop;
    const first = Math.max(0, Math.floor(top / h) - OVERSCAN);
    const last = Math.min(n, Math.ceil((top + grid.clientHeight) / h) + OVERSCAN);
    /** @type {Set<number>} */
    const want = new Set();
    for (let i = first; i < last; i++) want.add(s.shown[i]);
    // Rows whose VM left the view are free for the VMs that came in.
    /** @type {RowView[]} */
    const free = [];
    for (const r of pool) {
      if (r.vmId === null || !want.has(r.vmId)) {
        if (r.vmId !== null) byVm.delete(r.vmId);
        r.vmId = null;
        free.push(r);
      }
    }
    for (let i = first; i < last; i++) {
      const id = s.shown[i];
      const vm = s.vms.get(id);
      if (!vm) continue;
      let r = byVm.get(id);
      if (!r) {
        r = free.pop();
        if (!r) {
          r = new RowView();
          buildCells(r);
          pool.push(r);
          body.append(r.el);
        }
        r.el.hidden = false;
        byVm.set(id, r);
      }
      fill(r, vm, i, now);
    }
    for (const r of free) {
      if (r.index === -1) continue;
      r.el.hidden = true;
      r.el.removeAttribute("id");
      r.index = -1;
    }
    updateMessage();
  }

  /** The clocks move on: only the rows in view are looked at. Returns the ms until one of them next reads differently. */
  function tick() {
    const now = Date.now();
    let next = Infinity;
    for (const r of byVm.values()) {
      const vm = r.vmId === null ? undefined : s.vms.get(r.vmId);
      if (!vm) continue;
      fill(r, vm, r.index, now);
      next = Math.min(next, clockChangesIn(s, vm, now, false));
    }
    return next;
  }

  function updateMessage() {
    message.hidden = s.loaded && s.shown.length > 0;
    if (message.hidden) return;
    if (!s.loaded) {
      message.replaceChildren(el("span", { class: "spinner", "aria-hidden": "true" }), "Loading the inventory…");
    } else if (s.vms.size === 0) {
      message.replaceChildren(el("p", {}, "No VMs yet."), el("button", { class: "primary", onclick: () => app.showView("accounts", true) }, "Add your account"));
    } else {
      const what = s.view.query ? `No VM matches “${search.value.trim()}”` : "No VM matches these filters";
      message.replaceChildren(el("p", {}, `${what}.`), el("button", { id: "clear-filters", onclick: clearFilters }, "Clear the search and filters"));
    }
  }

  function clearFilters() {
    search.value = "";
    filterState.value = filterAccount.value = filterKind.value = "";
    applyFilters();
    focusGrid();
  }

  // ---------- filters ----------

  function applyFilters() {
    setFilter(s, { query: search.value, state: filterState.value, account: filterAccount.value, kind: filterKind.value });
    grid.scrollTop = Math.min(grid.scrollTop, s.shown.length * rowHeight());
    app.filtersChanged();
  }
  search.addEventListener("input", applyFilters);
  for (const f of [filterState, filterAccount, filterKind]) f.addEventListener("change", applyFilters);

  /** The filters' choices, from what the inventory holds. */
  function fillFilters() {
    const keep = (/** @type {HTMLSelectElement} */ sel, /** @type {HTMLOptionElement[]} */ options) => {
      const v = sel.value;
      sel.replaceChildren(...options);
      sel.value = options.some((o) => o.value === v) ? v : "";
    };
    keep(filterState, [el("option", { value: "" }, "All states"), ...[...s.counts.states.keys()].sort().map((st) => el("option", { value: st }, st))]);
    keep(filterAccount, [el("option", { value: "" }, "All accounts"), ...[...s.accounts.values()].map((a) => el("option", { value: String(a.id) }, `${a.name} (${a.kind})`))]);
    keep(filterKind, [el("option", { value: "" }, "All providers"), ...[...new Set([...s.accounts.values()].map((a) => a.kind))].sort().map((k) => el("option", { value: k }, k))]);
  }

  // ---------- selection ----------

  /** @param {boolean} on */
  function selectAll(on) {
    if (on) for (const id of s.shown) s.selected.add(id);
    else for (const id of s.shown) s.selected.delete(id);
    app.selectionChanged();
  }

  function updateToolbar() {
    updateSelectAll();
    const n = s.selected.size;
    const hidden = n ? hiddenSelected(s) : 0;
    setText(selectionCount, n === 0 ? "" : `${n} selected${hidden ? ` (${hidden} hidden by the filters)` : ""}`);
    powerButton.disabled = n === 0;
    powerButton.title = n === 0 ? "Select VMs first (click a row, or Space)" : "Power actions for the selected VMs (P)";
    /** @type {HTMLButtonElement} */ ($("#clear-selection")).disabled = n === 0;
    /** @type {HTMLButtonElement} */ ($("#save-group")).disabled = n === 0;
  }

  // ---------- pointer ----------

  body.addEventListener("click", (e) => {
    if (e.button !== 0) return; // the context menu has its own event
    const target = /** @type {HTMLElement} */ (e.target);
    const rowEl = /** @type {HTMLElement | null} */ (target.closest(".row"));
    if (!rowEl) return;
    const id = Number(rowEl.dataset.vmId);
    const index = indexOf(s, id);
    if (target instanceof HTMLInputElement && target.type === "checkbox") {
      select(s, id, target.checked);
      if (e.shiftKey) selectRange(s, anchor, index);
      anchor = index;
      setActive(id, false);
      app.selectionChanged();
      return;
    }
    if (e.shiftKey) {
      selectRange(s, anchor, index);
    } else if (e.ctrlKey || e.metaKey) {
      select(s, id, !s.selected.has(id));
      anchor = index;
    } else {
      s.selected.clear();
      s.selected.add(id);
      anchor = index;
      app.openDetails(id);
    }
    setActive(id, false);
    grid.focus({ preventScroll: true });
    app.selectionChanged();
  });

  body.addEventListener("contextmenu", (e) => {
    const rowEl = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (e.target).closest(".row"));
    if (!rowEl) return;
    e.preventDefault();
    const id = Number(rowEl.dataset.vmId);
    if (!s.selected.has(id)) {
      s.selected.clear();
      s.selected.add(id);
      anchor = indexOf(s, id);
    }
    setActive(id, false);
    app.selectionChanged();
    app.contextMenu({ x: e.clientX, y: e.clientY });
  });

  grid.addEventListener("scroll", () => app.changed(), { passive: true });

  // ---------- keyboard ----------

  /** @param {number | null} id @param {boolean} scroll */
  function setActive(id, scroll) {
    activeId = id;
    activeHeader = null;
    if (id !== null && scroll) {
      const i = indexOf(s, id);
      const h = rowHeight();
      const headH = head.offsetHeight;
      if (i * h < grid.scrollTop) grid.scrollTop = i * h;
      else if ((i + 1) * h > grid.scrollTop + grid.clientHeight - headH) grid.scrollTop = (i + 1) * h - grid.clientHeight + headH;
    }
    render();
    setAttr(grid, "aria-activedescendant", id !== null && byVm.has(id) ? `row-${id}` : null);
  }

  function activeIndex() {
    if (activeId === null) return -1;
    return indexOf(s, activeId);
  }

  /** Move the keyboard's row by `d` (or to the first/last with ±Infinity). @param {number} d @param {boolean} extend */
  function moveActive(d, extend) {
    const n = s.shown.length;
    if (n === 0) return;
    if (activeHeader !== null) {
      if (d > 0) setActive(s.shown[0], true);
      return;
    }
    const cur = activeIndex();
    if (cur === 0 && d === -1 && !extend) {
      setHeader(Math.max(0, columns.findIndex((c) => c.id === "name")));
      return;
    }
    const next = Math.max(0, Math.min(n - 1, cur < 0 ? 0 : cur + d));
    if (extend) {
      selectRange(s, anchor, next);
      app.selectionChanged();
    } else anchor = next;
    setActive(s.shown[next], true);
  }

  /** @param {number} col */
  function setHeader(col) {
    activeHeader = Math.max(0, Math.min(columns.length - 1, col));
    for (const c of head.children) c.classList.remove("active");
    const cell = head.children[activeHeader];
    cell.classList.add("active");
    grid.setAttribute("aria-activedescendant", cell.id);
  }

  /** @param {KeyboardEvent} e @returns {boolean} handled */
  function gridKey(e) {
    const page = Math.max(1, Math.floor((grid.clientHeight - head.offsetHeight) / rowHeight()) - 1);
    if (activeHeader !== null) {
      const c = columns[activeHeader];
      switch (e.key) {
        case "ArrowLeft": setHeader(activeHeader - 1); return true;
        case "ArrowRight": setHeader(activeHeader + 1); return true;
        case "ArrowDown": head.children[activeHeader].classList.remove("active"); activeHeader = null; setActive(s.shown[0] ?? null, true); return true;
        case "Enter": case " ":
          if (c.id === "sel") { const all = /** @type {HTMLInputElement} */ ($("#select-all")); selectAll(!all.checked); }
          else if (c.sort) sortBy(c.sort);
          setHeader(activeHeader);
          return true;
        default: return false;
      }
    }
    switch (e.key) {
      case "ArrowDown": moveActive(1, e.shiftKey); return true;
      case "ArrowUp": moveActive(-1, e.shiftKey); return true;
      case "PageDown": moveActive(page, e.shiftKey); return true;
      case "PageUp": moveActive(-page, e.shiftKey); return true;
      case "Home": moveActive(-Infinity, e.shiftKey); return true;
      case "End": moveActive(Infinity, e.shiftKey); return true;
      case " ": {
        if (activeId === null) { moveActive(0, false); return true; }
        select(s, activeId, !s.selected.has(activeId));
        anchor = activeIndex();
        app.selectionChanged();
        return true;
      }
      case "Enter":
        if (activeId !== null) app.openDetails(activeId);
        return true;
      case "a":
        if (e.ctrlKey || e.metaKey) { selectAll(true); return true; }
        return false;
      default: return false;
    }
  }

  // Coming into the grid: back on the row it was on, or the first one if
  // that row is no longer shown (the search changed).
  grid.addEventListener("focus", () => {
    if (activeHeader !== null) return;
    if (activeId !== null && indexOf(s, activeId) >= 0) setActive(activeId, false);
    else if (s.shown.length) { anchor = 0; setActive(s.shown[0], true); }
  });

  function focusGrid() {
    grid.focus();
  }

  /** Where the context menu opens from the keyboard: beside the active row. */
  function activeRowPoint() {
    const r = activeId !== null ? byVm.get(activeId) : undefined;
    const box = (r ? r.el : grid).getBoundingClientRect();
    return { x: box.left + 40, y: box.top + Math.min(box.height, rowHeight()) };
  }

  /** After a reload or a re-sort, keep the view on the same VM. */
  function revealActive() {
    if (activeId !== null && indexOf(s, activeId) >= 0) setActive(activeId, true);
  }

  return {
    layout, render, tick, fillFilters, updateToolbar, updateHeader, updateSelectAll, focusGrid, gridKey, activeRowPoint, revealActive,
    focusSearch: () => { search.focus(); search.select(); },
    clearFilters,
    /** @param {number} id */
    reveal: (id) => { if (indexOf(s, id) < 0) clearFilters(); setActive(id, true); },
    activeId: () => activeId,
    columns: () => columns,
    chosenColumns,
  };
}
