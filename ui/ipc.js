// The only module that talks to the shell (src-tauri/src/commands.rs): each
// command has one typed function here, and the engine's events arrive
// through `onEvents`. Every call is counted (window.__powerdeckPerf.calls),
// so the benchmarks and the end-to-end test can see what the window asks.

import { decodeInventory } from "./wire.js";

/** @typedef {import("./types").Inventory} Inventory */
/** @typedef {import("./types").EngineEvent} EngineEvent */
/** @typedef {import("./types").Perf} Perf */

/** @type {Perf} */
export const perf = { firstPaintMs: null, lastApply: null, calls: {}, marks: { moduleStart: performance.now() } };
window.__powerdeckPerf = perf;

/**
 * A command's failure: its kind ("not-found", "in-flight", "unsupported",
 * "auth", "untrusted", "invalid", …) to react to, and one sentence to show
 * (what `String(e)` gives).
 */
export class IpcError extends Error {
  /** @param {import("./types").IpcErrorWire} wire */
  constructor(wire) {
    super(wire.message);
    this.kind = wire.kind;
    this.fields = wire.fields ?? [];
    this.presented = wire.presented ?? null;
    this.operation = wire.operation ?? null;
  }
  toString() { return this.message; }
}

/** What the shell rejected with, as an IpcError. @param {unknown} e */
export function asIpcError(e) {
  if (e instanceof IpcError) return e;
  if (e && typeof e === "object" && "kind" in e && "message" in e) return new IpcError(/** @type {import("./types").IpcErrorWire} */ (e));
  return new IpcError({ kind: "internal", message: String(e) });
}

/**
 * @template T
 * @param {string} cmd @param {Record<string, unknown>} [args] @returns {Promise<T>}
 */
async function call(cmd, args) {
  perf.calls[cmd] = (perf.calls[cmd] ?? 0) + 1;
  try {
    return await window.__TAURI__.core.invoke(cmd, args);
  } catch (e) {
    throw asIpcError(e);
  }
}

export const ipc = {
  /**
   * The inventory, and the changes the window may have missed while it was
   * read (to apply on top: see src-tauri/src/inventory.rs).
   * @returns {Promise<{ inventory: Inventory, missed: EngineEvent[] }>}
   */
  listVms: async () => {
    perf.marks.inventoryAsked ??= performance.now();
    const answer = /** @type {import("./types").InventoryAnswer} */ (await call("list_vms"));
    perf.marks.inventoryReceived ??= performance.now();
    return { inventory: decodeInventory(answer.inventory), missed: answer.missed };
  },
  /** What to tell the admin about this start (a database started anew…). @returns {Promise<string[]>} */
  notices: () => call("notices"),
  /** The backend's states, actions and phases. @returns {Promise<import("./types").Vocabulary>} */
  vocabulary: () => call("vocabulary"),
  /** @param {number} vmId @returns {Promise<import("./types").VmDetails>} */
  vmDetails: (vmId) => call("vm_details", { vmId }),
  /** @param {number[]} vmIds @param {import("./types").OpKind} kind @param {boolean} force @returns {Promise<import("./types").Requested[]>} */
  requestOperation: (vmIds, kind, force) => call("request_operation", { vmIds, kind, force }),
  /** Nothing more is sent; it ends cancelled. @param {number} opId @returns {Promise<import("./types").Operation>} */
  cancelOperation: (opId) => call("cancel_operation", { opId }),
  /** Send the forced fallback now. @param {number} opId @returns {Promise<import("./types").Operation>} */
  forceOperation: (opId) => call("force_operation", { opId }),
  /** @param {string} endpoint @returns {Promise<import("./types").CertificateCheck>} */
  checkCertificate: (endpoint) => call("check_certificate", { endpoint }),
  /** The thumbprint of the CA the host publishes; nothing kept. @param {string} name @param {string} kind @param {string} endpoint @returns {Promise<string>} */
  publishedCa: (name, kind, endpoint) => call("published_ca", { name, kind, endpoint }),
  /**
   * Keep the host's CA (still the one with `thumbprint`) as the account's CA file.
   * @param {{ name: string, kind: string, endpoint: string, thumbprint: string, adding: boolean }} a
   * @returns {Promise<string>} the file's path
   */
  keepPublishedCa: (a) => call("keep_published_ca", a),
  /** @returns {Promise<import("./types").AccountInfo[]>} */
  listAccounts: () => call("list_accounts"),
  /** @returns {Promise<import("./types").Activity>} */
  recentActivity: () => call("recent_activity"),
  /** @returns {Promise<number>} */
  syncAll: () => call("sync_all"),
  /**
   * @param {{ name: string, kind: string, config: Record<string, unknown>, secret: string | null, secretEnv: string | null }} a
   * @returns {Promise<import("./types").AccountInfo>}
   */
  addAccount: (a) => call("add_account", a),
  /** The provider kinds and their account fields. @returns {Promise<import("./types").KindDescriptor[]>} */
  accountKinds: () => call("account_kinds"),
  /** @param {string} name @returns {Promise<string>} */
  testAccount: (name) => call("test_account", { name }),
  /** @param {string} name @returns {Promise<string>} */
  removeAccount: (name) => call("remove_account", { name }),
  /** @param {string} name @param {Record<string, unknown>} config @returns {Promise<string>} */
  updateAccount: (name, config) => call("update_account", { name, config }),
  /** @param {string} name @returns {Promise<Record<string, any>>} */
  accountConfig: (name) => call("account_config", { name }),
  /** @returns {Promise<import("./types").Settings>} */
  getSettings: () => call("get_settings"),
  /** @param {import("./types").Settings} settings @returns {Promise<void>} */
  saveSettings: (settings) => call("save_settings", { settings }),
  /** @param {boolean} paused @returns {Promise<boolean>} */
  setSyncPaused: (paused) => call("set_sync_paused", { paused }),
  /** @param {number} vmId @param {boolean} on @returns {Promise<boolean>} */
  setFavourite: (vmId, on) => call("set_favourite", { vmId, on }),
  /** Every group and the VMs it is now. @returns {Promise<import("./types").GroupNow[]>} */
  listGroups: () => call("list_groups"),
  /** The VMs a draft group would be now. @param {string[]} vms @param {import("./types").GroupRule | null} rule @returns {Promise<number[]>} */
  previewGroup: (vms, rule) => call("preview_group", { vms, rule }),
  /** Add a group, or (`replace`) change the one with this name. @param {string} name @param {string[]} vms @param {import("./types").GroupRule | null} rule @param {boolean} replace @returns {Promise<import("./types").Group>} */
  saveGroup: (name, vms, rule, replace) => call("save_group", { name, vms, rule, replace }),
  /** @param {string} name @returns {Promise<void>} */
  removeGroup: (name) => call("remove_group", { name }),
  /** @returns {Promise<import("./types").Runbook[]>} */
  listRunbooks: () => call("list_runbooks"),
  /** Add a runbook, or (`replace`) change the one with its name. @param {import("./types").Runbook} runbook @param {boolean} replace @returns {Promise<import("./types").Runbook>} */
  saveRunbook: (runbook, replace) => call("save_runbook", { runbook, replace }),
  /** @param {string} name @returns {Promise<void>} */
  removeRunbook: (name) => call("remove_runbook", { name }),
  /** What running it would do now (nothing sent). @param {string} name @returns {Promise<import("./types").RunPlan>} */
  planRunbook: (name) => call("plan_runbook", { name }),
  /** Run the plan the user approved. @param {string} name @param {import("./types").RunPlan} plan @returns {Promise<import("./types").Run>} */
  startRun: (name, plan) => call("start_run", { name, plan }),
  /** Recent runs, newest first. @returns {Promise<import("./types").Run[]>} */
  listRuns: () => call("list_runs"),
  /** @param {number} id @returns {Promise<import("./types").Run>} */
  cancelRun: (id) => call("cancel_run", { id }),
  /** Roll back, or leave as it is, a run waiting for a decision. @param {number} id @param {boolean} rollback @returns {Promise<import("./types").Run>} */
  decideRun: (id, rollback) => call("decide_run", { id, rollback }),
  /** Every schedule, and whether all are paused. @returns {Promise<import("./types").Schedules>} */
  listSchedules: () => call("list_schedules"),
  /** The next five runs of a draft (nothing saved). @param {import("./types").ScheduleDraft} draft @returns {Promise<import("./types").Occurrence[]>} */
  previewSchedule: (draft) => call("preview_schedule", { draft }),
  /** Add (`original` null) or change the schedule called `original`. @param {import("./types").ScheduleDraft} draft @param {string | null} original @returns {Promise<import("./types").Schedule>} */
  saveSchedule: (draft, original) => call("save_schedule", { draft, original }),
  /** @param {string} name @returns {Promise<void>} */
  removeSchedule: (name) => call("remove_schedule", { name }),
  /** @param {string} name @param {boolean} enabled @returns {Promise<void>} */
  setScheduleEnabled: (name, enabled) => call("set_schedule_enabled", { name, enabled }),
  /** Every schedule, in every process on this data directory. @param {boolean} paused @returns {Promise<boolean>} */
  pauseSchedules: (paused) => call("pause_schedules", { paused }),
  /** What "Run now" would do. @param {string} name @returns {Promise<import("./types").RunNowPlan>} */
  scheduleRunPlan: (name) => call("schedule_run_plan", { name }),
  /** @param {string} name @returns {Promise<import("./types").FiringView>} */
  runScheduleNow: (name) => call("run_schedule_now", { name }),
  /** @param {string} name @returns {Promise<import("./types").FiringView[]>} */
  scheduleHistory: (name) => call("schedule_history", { name }),
  /** The saved groups and runbooks a schedule can act on. @returns {Promise<import("./types").ScheduleTargets>} */
  scheduleTargets: () => call("schedule_targets"),
  /** @param {string} what @param {string} text @returns {Promise<string>} the saved file's path */
  saveCsv: (what, text) => call("save_csv", { what, text }),
  /** Hours per state in [from, to), rolled up by account, VM, group, tag or (local) month. @param {number} from @param {number} to @param {"account" | "vm" | "group" | "tag" | "month"} by @param {number | null} price per billable hour @returns {Promise<import("./types").HoursReport>} */
  hoursReport: (from, to, by, price) => call("hours_report", { from, to, by, price, zone: Intl.DateTimeFormat().resolvedOptions().timeZone }),
  /** The hours by VM as CSV, saved like the Activity export. @param {number} from @param {number} to @param {number | null} price @returns {Promise<string>} the file's path */
  saveHoursCsv: (from, to, price) => call("save_hours_csv", { from, to, price }),
  /** One VM's hours per state in `buckets` equal stretches of [from, to). @param {number} vmId @param {number} from @param {number} to @param {number} buckets @returns {Promise<import("./types").TimelineBucket[]>} */
  vmTimeline: (vmId, from, to, buckets) => call("vm_timeline", { vmId, from, to, buckets }),
  /** @returns {Promise<import("./types").Finding[]>} */
  findings: () => call("findings"),
  /** Start at login, the log file's level and folder. @returns {Promise<import("./types").DesktopSettings>} */
  desktopSettings: () => call("desktop_settings"),
  /** @param {boolean} on @returns {Promise<boolean>} whether it now starts at login */
  setStartAtLogin: (on) => call("set_start_at_login", { on }),
  /** @param {string} level @returns {Promise<void>} */
  setLogLevel: (level) => call("set_log_level", { level }),
  /** @returns {Promise<void>} */
  openLogFolder: () => call("open_log_folder"),
  /** Put the diagnostics on the clipboard. @param {boolean} withNames account and VM names and error sentences too @returns {Promise<string>} the text */
  copyDiagnostics: (withNames) => call("copy_diagnostics", { withNames }),
  /** Quit; with operations in flight and not `confirmed`, their number instead. @param {boolean} confirmed @returns {Promise<number>} */
  quit: (confirmed) => call("quit", { confirmed }),
};

/** Engine events, batched by the shell (src-tauri/src/bridge.rs). @param {(events: EngineEvent[]) => void} handler */
export function onEvents(handler) {
  return window.__TAURI__.event.listen("powerdeck://events", (/** @type {{ payload: EngineEvent[] }} */ e) => handler(e.payload));
}

/** The tray's Quit, with operations in flight: ask first. @param {(inFlight: number) => void} handler */
export function onConfirmQuit(handler) {
  return window.__TAURI__.event.listen("powerdeck://confirm-quit", (/** @type {{ payload: number }} */ e) => handler(e.payload));
}

/** The window missed events and must reload the inventory. @param {() => void} handler */
export function onResync(handler) {
  return window.__TAURI__.event.listen("powerdeck://resync", () => handler());
}
