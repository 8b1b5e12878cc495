// Powerdeck's window: it renders what the engine stored and applies the
// engine's events as they come; it never decides a VM's state itself.
//
// This module wires the pieces together: the state (state.js), the shell
// (ipc.js), the views (views/*.js) and the keyboard. It owns the verbs the
// views share (act on VMs, open the details, draw on the next frame).

import { $, copyText, el, setText, toast } from "./dom.js";
import { count } from "./format.js";
import { ipc, onConfirmQuit, onEvents, onResync, perf } from "./ipc.js";
import { loadPrefs, savePrefs } from "./prefs.js";
import {
  ACTIONS, ACTION_LABELS, anyAccountOffers, applyEvents, createState, freshEvents, healthBanner, healthChangesIn, inFlightControls, loadInventory, mustConfirm, planAction,
  recordRequested, retryWithForce, selectionActions,
} from "./state.js";
import { clock } from "./format.js";
import { HARD, useVocabulary } from "./vocabulary.js";
import { errorText } from "./error-text.js";
import { initKeyboard, ACTION_KEYS } from "./keyboard.js";
import { initAccounts } from "./views/accounts.js";
import { initActivity } from "./views/activity.js";
import { initDetails } from "./views/details.js";
import { askName, chooseColumns, confirmPlan, confirmText, showInFlight, showShortcuts } from "./views/dialogs.js";
import { initGroups } from "./views/groups.js";
import { initReports } from "./views/reports.js";
import { initRunbooks } from "./views/runbooks.js";
import { COLUMNS, initInventory } from "./views/inventory.js";
import { closeMenu, openMenu, refreshMenu } from "./views/menu.js";
import { initSchedules } from "./views/schedules.js";
import { initSettings } from "./views/settings.js";

/** @typedef {import("./types").OpKind} OpKind */
/** @typedef {import("./types").EngineEvent} EngineEvent */
/** @typedef {import("./context.js").App} App */

const ROW_HEIGHTS = { comfortable: 36, compact: 28 };
/** @type {Record<string, string>} */
const SHORTCUT_OF = Object.fromEntries(Object.entries(ACTION_KEYS).map(([k, kind]) => [kind, k === "O" ? "Shift+O" : k.toUpperCase()]));

const prefs = loadPrefs(localStorage);
const s = createState();

// ---------- appearance (before anything is drawn) ----------

function applyAppearance() {
  const root = document.documentElement;
  if (prefs.theme === "system") delete root.dataset.theme; else root.dataset.theme = prefs.theme;
  root.dataset.density = prefs.density;
  app.rowHeight = ROW_HEIGHTS[prefs.density];
  root.style.setProperty("--row", `${app.rowHeight}px`);
}

// ---------- clocks ----------

// Elapsed times, countdowns and "… ago" move on by themselves. The window
// wakes when the first of those on screen reads differently (every second
// only while one counts seconds; an idle fleet's "5 min ago" needs a look a
// minute from now), and never while it is hidden: a once-a-second timer
// cost the idle window a percent of a core with nothing to redraw.
// Declared before the controller: its first frame arms them.
/** @type {ReturnType<typeof setTimeout> | null} */
let clockTimer = null;
let clockDue = Infinity;

/** Look at the clocks in `ms` at the latest. @param {number} ms */
function armClocks(ms) {
  const due = Date.now() + ms;
  if (clockTimer !== null && clockDue <= due) return;
  if (clockTimer !== null) clearTimeout(clockTimer);
  clockDue = due;
  clockTimer = setTimeout(moveClocks, ms);
}

function moveClocks() {
  clockTimer = null;
  clockDue = Infinity;
  if (document.hidden) return;
  const next = Math.min(inventory.tick(), details.tick(), activity.tick(), renderHealth());
  // A timer far in the future is held back by suspend; an hour is a safe ceiling.
  if (Number.isFinite(next)) armClocks(Math.min(next, 3_600_000));
}

// ---------- the controller ----------

let frameQueued = false;
let selectionDirty = true;

/** @type {App} */
const app = {
  s,
  prefs,
  rowHeight: ROW_HEIGHTS[prefs.density],
  savePrefs: () => savePrefs(localStorage, prefs),
  clocksShown: () => armClocks(1000),
  changed: () => {
    if (frameQueued) return;
    frameQueued = true;
    requestAnimationFrame(frame);
  },
  selectionChanged: () => {
    selectionDirty = true;
    app.changed();
  },
  filtersChanged: () => {
    selectionDirty = true;
    app.changed();
  },
  openDetails: (id) => {
    details.open(id);
    $("#inventory").classList.add("with-details");
    inventory.layout();
    app.changed();
  },
  closeDetails: () => {
    const wasIn = document.activeElement instanceof HTMLElement && $("#details").contains(document.activeElement);
    details.close();
    $("#inventory").classList.remove("with-details");
    inventory.layout();
    app.changed();
    if (wasIn) inventory.focusGrid();
  },
  detailsOpen: () => details.vmId() !== null,
  detailsFor: () => details.vmId(),
  contextMenu: (at) => openMenu(() => contextItems(), at, $("#grid"), "Actions for the selected VMs"),
  act: (ids, kind) => act(ids, kind),
  cancelOp: (vmId) => cancelOp(vmId),
  forceOp: (vmId) => forceOp(vmId),
  retryForce: (vmId) => retryForce(vmId),
  showView: (view, focus) => showView(view, focus),
  revealVm: (id) => {
    showView("inventory");
    s.selected.clear();
    s.selected.add(id);
    inventory.reveal(id);
    app.openDetails(id);
    app.selectionChanged();
  },
};

applyAppearance();

const inventory = initInventory(app);
const details = initDetails(app);
const activity = initActivity(app);
const accounts = initAccounts({ reload: () => load(), vmCount: (id) => s.vms.countOf(id) });
const schedules = initSchedules();
const runbooks = initRunbooks({ s });
const reports = initReports(app);
const groups = initGroups({
  s,
  powerMenu: (ids, anchor, label) => openMenu(() => actionItems(ids), anchor, anchor, label),
  select: (ids) => {
    showView("inventory");
    s.selected.clear();
    for (const id of ids) s.selected.add(id);
    if (ids.length) inventory.reveal(ids[0]);
    app.selectionChanged();
  },
});
const settings = initSettings({
  prefs,
  setAppearance: (theme, density) => {
    prefs.theme = /** @type {typeof prefs.theme} */ (theme);
    const densityChanged = prefs.density !== density;
    prefs.density = /** @type {typeof prefs.density} */ (density);
    app.savePrefs();
    applyAppearance();
    if (densityChanged) inventory.layout(true);
    app.changed();
  },
});

/** Draw what changed, once per frame however many events came. */
function frame() {
  frameQueued = false;
  const t = performance.now();
  inventory.render();
  renderHeader();
  if (selectionDirty) {
    selectionDirty = false;
    inventory.updateToolbar();
    refreshMenu();
  }
  perf.frameWork?.push(performance.now() - t);
  armClocks(1000);
}

function renderHeader() {
  const total = s.vms.size, shown = s.shown.length, stale = s.counts.stale, inFlight = s.inFlight.size;
  let text = s.loaded ? `${count(total)} VMs` : "Loading…";
  if (s.loaded && shown !== total) text += ` (${count(shown)} shown)`;
  if (stale) text += ` · ${count(stale)} stale`;
  setText($("#summary"), text);
  const button = $("#inflight-button");
  button.hidden = inFlight === 0;
  setText(button, `${count(inFlight)} in flight`);
}

// ---------- acting on VMs ----------

/** Plan, ask when it matters, then request. @param {number[]} ids @param {OpKind} kind */
async function act(ids, kind) {
  if (!ids.length) return;
  const plan = planAction(s, ids, kind);
  let force = HARD.has(kind);
  if (mustConfirm(plan)) {
    const answer = await confirmPlan(plan, new Map(plan.lines.map((l) => [l.id, l.name])));
    if (!answer) return;
    force = answer.force;
  }
  if (!plan.act.length) return;
  try {
    const results = await ipc.requestOperation(plan.act, kind, force);
    for (const refusal of recordRequested(s, results)) toast(refusal);
  } catch (e) {
    toast(String(e));
  }
  details.changed(new Set(plan.act));
  app.selectionChanged();
}

/** The engine's answer about an operation replaces the window's copy at once (events follow). @param {import("./types").Operation} op */
function noteOperation(op) {
  const prev = s.inFlight.get(op.vm_id);
  if (prev && prev.id === op.id) s.inFlight.set(op.vm_id, op);
  s.ops.set(op.vm_id, op);
  details.changed(new Set([op.vm_id]));
  app.changed();
}

/** @param {number} vmId */
async function cancelOp(vmId) {
  const vm = s.vms.get(vmId);
  const c = vm ? inFlightControls(s, vm) : null;
  if (!vm || !c?.cancel) return;
  const what = `${ACTION_LABELS[c.op.kind].toLowerCase()} of ${vm.name}`;
  const ok = await confirmText(`Cancel the ${what}?`,
    `Nothing more is sent to the provider. The operation ends as cancelled, with ${vm.name}'s state read as it is — a request already accepted may still take effect.`,
    "Cancel the operation", "Keep waiting");
  if (!ok) return;
  try { noteOperation(await ipc.cancelOperation(c.op.id)); toast(`Cancelling the ${what}.`, "info"); } catch (e) { toast(String(e)); }
}

/** @param {number} vmId */
async function forceOp(vmId) {
  const vm = s.vms.get(vmId);
  const c = vm ? inFlightControls(s, vm) : null;
  if (!vm || !c?.force) return;
  const hard = c.op.kind === "stop" ? "powered off" : "reset";
  const ok = await confirmText(`Force ${vm.name} now?`,
    `${vm.name} is ${hard} hard now, without waiting longer for its guest: unsaved work in the guest is lost.`,
    c.op.kind === "stop" ? "Power off now" : "Reset now");
  if (!ok) return;
  try { noteOperation(await ipc.forceOperation(c.op.id)); } catch (e) { toast(String(e)); }
}

/** @param {number} vmId */
async function retryForce(vmId) {
  const vm = s.vms.get(vmId);
  const kind = vm ? retryWithForce(s, vm) : null;
  if (!vm || !kind) return;
  const ok = await confirmText(`${ACTION_LABELS[kind]} ${vm.name} with force?`,
    `The guest is asked first; if it does not comply in time (or cannot be asked), ${vm.name} is ${kind === "stop" ? "powered off" : "reset"} hard.`,
    `${ACTION_LABELS[kind]} with force`);
  if (!ok) return;
  try {
    for (const refusal of recordRequested(s, await ipc.requestOperation([vm.id], kind, true))) toast(refusal);
  } catch (e) { toast(String(e)); }
  details.changed(new Set([vm.id]));
  app.changed();
}

/** The VMs an action key or menu acts on: the selection, else the row the keyboard is on, else the open details. */
function targets() {
  if (s.selected.size) return [...s.selected];
  const active = inventory.activeId() ?? details.vmId();
  return active === null ? [] : [active];
}

/** @param {number[]} ids @returns {import("./views/menu.js").MenuItem[]} */
function actionItems(ids) {
  const counts = selectionActions(s, ids);
  // An action no account offers (Deallocate without Azure) is not listed at all.
  return ACTIONS.filter((kind) => anyAccountOffers(s, kind)).map((kind) => {
    const n = counts.get(kind) ?? 0;
    return {
      id: kind, label: ACTION_LABELS[kind], shortcut: SHORTCUT_OF[kind], danger: HARD.has(kind),
      hint: n && n < ids.length ? `${n} of ${ids.length}` : "", disabled: n === 0,
      run: () => { act(ids, kind); },
    };
  });
}

function powerMenu() {
  const button = /** @type {HTMLButtonElement} */ ($("#power-button"));
  if (!s.selected.size) {
    toast("Select VMs first: click a row, or move to it with the arrow keys and press Space.", "info");
    return;
  }
  openMenu(() => actionItems([...s.selected]), button, button, "Power actions");
}

function contextItems() {
  const ids = [...s.selected];
  const one = ids.length === 1 ? s.vms.get(ids[0]) : undefined;
  const items = actionItems(ids);
  if (one) {
    items.unshift({ id: "details", label: "Open details", shortcut: "Enter", run: () => app.openDetails(one.id) });
    const c = inFlightControls(s, one);
    if (c) {
      items.push(
        { id: "force-now", label: "Force now", danger: true, disabled: !c.force, run: () => { forceOp(one.id); } },
        { id: "cancel-op", label: "Cancel operation", disabled: !c.cancel, run: () => { cancelOp(one.id); } },
      );
    }
    items.push(
      { id: "copy-name", label: "Copy name", run: () => { copy("name", one.name); } },
      { id: "copy-id", label: "Copy provider id", run: () => { copy("provider id", one.provider_id); } },
    );
  }
  return items;
}

/** @param {string} what @param {string} value */
async function copy(what, value) {
  try {
    await copyText(value);
    toast(`Copied ${what}: ${value}`, "info");
  } catch (e) {
    toast(`Could not copy: ${e}`);
  }
}

// ---------- views ----------

/** @param {string} view @param {boolean} [focus] */
function showView(view, focus = false) {
  closeMenu(false);
  for (const t of document.querySelectorAll(".tab")) {
    const on = /** @type {HTMLElement} */ (t).dataset.view === view;
    t.classList.toggle("active", on);
    if (on) t.setAttribute("aria-current", "page"); else t.removeAttribute("aria-current");
  }
  for (const v of document.querySelectorAll(".view")) /** @type {HTMLElement} */ (v).hidden = v.id !== view;
  if (prefs.view !== view) { prefs.view = view; app.savePrefs(); }
  if (view === "inventory") { inventory.layout(); app.changed(); }
  if (view === "activity") activity.show();
  if (view === "schedules") schedules.show(); else schedules.hide();
  if (view === "groups") groups.show();
  if (view === "runbooks") runbooks.show(); else runbooks.hide();
  if (view === "reports") reports.show();
  if (view === "accounts") { accounts.render(); if (focus) accounts.focusForm(); }
  if (view === "settings") settings.render();
}

for (const t of document.querySelectorAll(".tab")) t.addEventListener("click", () => showView(/** @type {string} */ (/** @type {HTMLElement} */ (t).dataset.view)));

$("#refresh-all").addEventListener("click", async () => {
  try {
    const n = await ipc.syncAll();
    toast(`Asked ${n === 1 ? "1 account" : `${n} accounts`} for a full inventory.`, "info");
  } catch (e) { toast(String(e)); }
});
$("#power-button").addEventListener("click", powerMenu);
$("#clear-selection").addEventListener("click", () => { s.selected.clear(); app.selectionChanged(); });
$("#save-group").addEventListener("click", async () => {
  const ids = [...s.selected];
  if (!ids.length) return;
  const name = await askName("Save as group", `Save the ${ids.length === 1 ? "selected VM" : `${ids.length} selected VMs`} as a group that schedules and runbooks can act on.`, "Save group");
  if (name === null) return;
  try { toast(await groups.saveSelection(ids, name), "info"); } catch (e) { toast(errorText(e)); }
});
$("#columns-button").addEventListener("click", async () => {
  const visible = new Set(inventory.chosenColumns().map((c) => c.id));
  const chosen = await chooseColumns(COLUMNS, visible);
  if (!chosen) return;
  prefs.hiddenColumns = COLUMNS.filter((c) => !c.optional && !c.always && !chosen.visible.has(c.id)).map((c) => c.id);
  prefs.shownColumns = COLUMNS.filter((c) => c.optional && chosen.visible.has(c.id)).map((c) => c.id);
  if (chosen.resetWidths) prefs.widths = {};
  app.savePrefs();
  inventory.layout();
  app.changed();
});
$("#inflight-button").addEventListener("click", () => showInFlight((list) => {
  const now = Date.now();
  const ops = [...s.inFlight.values()].sort((a, b) => a.requested_at - b.requested_at);
  list.replaceChildren(...(ops.length ? ops.map((op) => el("li", {},
    el("button", { class: "link", "data-cancel": "", "data-vm-id": op.vm_id, onclick: () => app.revealVm(op.vm_id) }, op.vm_name),
    ` — ${ACTION_LABELS[op.kind]}, ${op.phase}, for ${clock(op.requested_at, now)}`,
    now > op.deadline_at ? el("span", { class: "status-late" }, " · past its deadline") : ` · deadline in ${clock(now, op.deadline_at)}`))
    : [el("li", { class: "muted" }, "Nothing is in flight.")]));
}));
$("#help-button").addEventListener("click", () => showShortcuts());

// The demo banner: first launch is a simulated fleet, and says so. The
// health banner: an account that broke, until it answers again.
function renderBanner() {
  const demo = [...s.accounts.values()].some((a) => a.is_demo);
  $("#demo-banner").hidden = !demo || prefs.demoBannerHidden;
  renderHealth();
}

let healthShown = "";
/** Returns the ms until the banner next reads differently with time alone. */
function renderHealth() {
  const now = Date.now();
  const b = healthBanner(s, now);
  const text = b?.text ?? "";
  const next = healthChangesIn(s, now);
  if (text === healthShown) return next;
  const layoutChanges = !text !== !healthShown;
  healthShown = text;
  setText($("#health-text"), text);
  $("#health-banner").hidden = !b;
  if (layoutChanges) inventory.layout();
  return next;
}
$("#health-fix").addEventListener("click", () => {
  const b = healthBanner(s, Date.now());
  showView("accounts");
  if (b && b.accounts.length === 1) accounts.fix(b.accounts[0].name, b.accounts[0].kind);
});
$("#demo-add").addEventListener("click", () => showView("accounts", true));
$("#demo-hide").addEventListener("click", () => {
  prefs.demoBannerHidden = true;
  app.savePrefs();
  renderBanner();
  inventory.layout();
  app.changed();
  $("#search").focus();
});

initKeyboard({
  inventoryShown: () => !$("#inventory").hidden,
  showInventory: () => { if ($("#inventory").hidden) showView("inventory"); },
  focusSearch: () => inventory.focusSearch(),
  gridKey: (e) => inventory.gridKey(e),
  grid: () => $("#grid"),
  search: () => $("#search"),
  help: () => showShortcuts(),
  act: (kind) => act(targets(), kind),
  powerMenu,
  // As a right click does: on a row outside the selection, the menu is for that row alone.
  contextMenu: () => {
    const active = inventory.activeId();
    if (active === null) return;
    if (!s.selected.has(active)) {
      s.selected.clear();
      s.selected.add(active);
      app.selectionChanged();
    }
    app.contextMenu(inventory.activeRowPoint());
  },
  escape: () => {
    if (details.vmId() !== null) { app.closeDetails(); inventory.focusGrid(); return true; }
    if (s.selected.size) { s.selected.clear(); app.selectionChanged(); return true; }
    return false;
  },
});

window.addEventListener("resize", () => { inventory.layout(); app.changed(); });

// ---------- the engine ----------

/** Events that arrive while the inventory loads wait for it. @type {EngineEvent[][] | null} */
let waiting = null;

/** @param {EngineEvent[]} events */
function applyBatch(events) {
  const t = performance.now();
  const res = applyEvents(s, events);
  activity.apply(events);
  schedules.apply(events);
  runbooks.apply(events);
  for (const m of res.messages) toast(m);
  if (res.healthChanged) { renderHealth(); if (!$("#accounts").hidden) accounts.render(); }
  if (res.statesChanged) inventory.fillFilters();
  details.changed(res.changed);
  if (s.selected.size) {
    const [small, big] = res.changed.size < s.selected.size ? [res.changed, s.selected] : [s.selected, res.changed];
    for (const id of small) if (big.has(id)) { selectionDirty = true; break; }
  }
  app.changed();
  const changes = events.reduce((n, ev) => n + (ev.type === "vms-changed" ? ev.changes.length : 0), 0);
  // Until the frame that shows it (the render is scheduled for that frame).
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const measure = { events: events.length, changes, ms: performance.now() - t };
    perf.lastApply = measure;
  }));
}

// Asked for once, alongside the first inventory: the window's words come from the backend.
const vocabularyReady = ipc.vocabulary().then(useVocabulary);
ipc.notices().then((notices) => { for (const n of notices) toast(n); }, () => {});

async function load() {
  if (waiting) return;
  waiting = [];
  try {
    const [{ inventory: inv, missed }] = await Promise.all([ipc.listVms(), vocabularyReady]);
    perf.marks.decoded ??= performance.now();
    loadInventory(s, inv);
    perf.marks.loaded ??= performance.now();
    waiting.unshift(missed);
  } catch (e) {
    toast(`Could not load the inventory: ${e}`);
  }
  const pending = waiting;
  waiting = null;
  if (pending.length) applyBatch(freshEvents(s, pending.flat()));
  inventory.fillFilters();
  renderBanner();
  inventory.layout();
  selectionDirty = true;
  frame();
  perf.marks.drawn ??= performance.now();
  inventory.revealActive();
}

/**
 * Quit, asking first when operations are in flight (they are journalled
 * and resume at the next start). Escape or Cancel keeps Powerdeck running.
 * @param {number} [inFlight] known already (the tray asked)
 */
async function quit(inFlight) {
  try {
    const n = inFlight ?? (await ipc.quit(false));
    if (n === 0) return;
    const ops = n === 1 ? "1 operation is" : `${n} operations are`;
    const yes = await confirmText(
      "Quit Powerdeck?",
      `${ops} still in flight. Nothing will follow ${n === 1 ? "it" : "them"} until Powerdeck or pdk starts again; then ${n === 1 ? "it resumes" : "they resume"} where ${n === 1 ? "it" : "they"} stopped.`,
      "Quit",
      "Keep running",
    );
    if (yes) await ipc.quit(true);
  } catch (e) { toast(String(e)); }
}

document.addEventListener("keydown", (e) => {
  if ((e.key === "q" || e.key === "Q") && (e.ctrlKey || e.metaKey) && !e.altKey && !document.querySelector("dialog[open]")) {
    e.preventDefault();
    quit();
  }
});

const listening = [
  onEvents((events) => { if (waiting) waiting.push(events); else applyBatch(events); }),
  onResync(() => { load(); activity.reload(); }),
  onConfirmQuit((n) => { if (!document.querySelector("dialog[open]")) quit(n); }),
];
s.view.sort = { ...prefs.sort };
if (prefs.view !== "inventory") showView(prefs.view);
inventory.layout();
frame();
await load();
await Promise.all(listening);
// The first frame with rows in it.
requestAnimationFrame(() => {
  perf.firstPaintMs = performance.now();
  document.body.dataset.ready = "true";
});

document.addEventListener("visibilitychange", () => { if (!document.hidden) moveClocks(); });
moveClocks();
