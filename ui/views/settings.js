// Settings: the engine's and the app's (saved in the shared store with the
// Save button), and the window's own appearance (theme and density, applied
// and remembered at once).

import { $, setText } from "../dom.js";
import { ipc } from "../ipc.js";

/** @typedef {import("../types").Settings} Settings */

const TIERS = /** @type {const} */ (["inflight_interval_ms", "transitional_interval_ms", "watched_interval_ms", "full_interval_ms"]);
const NOTIFY = /** @type {const} */ (["failures_only", "operation_done", "operation_failed", "each_failure", "drift", "schedules", "accounts"]);

/**
 * @param {{ prefs: import("../prefs.js").Prefs, setAppearance: (theme: string, density: string) => void }} app
 */
export function initSettings(app) {
  const form = /** @type {HTMLFormElement} */ ($("#settings-form"));
  const result = $("#settings-result");
  const input = (/** @type {string} */ name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
  /** @type {Settings | null} */
  let loaded = null;

  const appearance = /** @type {HTMLFormElement} */ ($("#appearance-form"));
  appearance.addEventListener("change", () => {
    const data = new FormData(appearance);
    app.setAppearance(String(data.get("theme")), String(data.get("density")));
  });

  // Desktop choices apply at once (they are not the engine's settings).
  const startAtLogin = /** @type {HTMLInputElement} */ ($("#start-at-login"));
  const logLevel = /** @type {HTMLSelectElement} */ ($("#log-level"));
  const desktopResult = $("#desktop-result");
  startAtLogin.addEventListener("change", async () => {
    try {
      startAtLogin.checked = await ipc.setStartAtLogin(startAtLogin.checked);
      setText(desktopResult, startAtLogin.checked ? "Powerdeck will start at login, in the tray." : "Powerdeck will not start at login.");
    } catch (e) {
      startAtLogin.checked = !startAtLogin.checked;
      setText(desktopResult, String(e));
    }
  });
  logLevel.addEventListener("change", async () => {
    try {
      await ipc.setLogLevel(logLevel.value);
      setText(desktopResult, `The log file now keeps: ${logLevel.selectedOptions[0]?.textContent ?? logLevel.value}.`);
    } catch (e) {
      setText(desktopResult, String(e));
    }
  });
  $("#open-log-folder").addEventListener("click", async () => {
    try {
      await ipc.openLogFolder();
    } catch (e) {
      setText(desktopResult, String(e));
    }
  });
  $("#copy-diagnostics").addEventListener("click", async () => {
    try {
      await ipc.copyDiagnostics(/** @type {HTMLInputElement} */ ($("#diagnostics-names")).checked);
      setText(desktopResult, "Diagnostics copied: paste them into your ticket or message.");
    } catch (e) {
      setText(desktopResult, `Could not copy the diagnostics: ${e}`);
    }
  });

  async function renderDesktop() {
    try {
      const d = await ipc.desktopSettings();
      startAtLogin.checked = d.start_at_login;
      logLevel.value = d.log_level;
      setText($("#log-folder"), d.log_folder);
      const warning = $("#log-warning");
      warning.hidden = !d.log_warning;
      setText(warning, d.log_warning ?? "");
    } catch (e) {
      setText(desktopResult, String(e));
    }
  }

  async function render() {
    renderDesktop();
    for (const r of appearance.querySelectorAll("input[type=radio]")) {
      const radio = /** @type {HTMLInputElement} */ (r);
      radio.checked = radio.value === (radio.name === "theme" ? app.prefs.theme : app.prefs.density);
    }
    try {
      loaded = await ipc.getSettings();
      for (const k of NOTIFY) input(k).checked = loaded.notifications[k];
      input("start_waits_for_tools").checked = loaded.operations.start_waits_for_tools;
      input("sync_paused").checked = loaded.sync_paused;
      for (const k of TIERS) input(k).value = String(loaded.engine[k] / 1000);
    } catch (e) {
      setText(result, String(e));
    }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!loaded) return;
    const engine = { ...loaded.engine };
    for (const k of TIERS) engine[k] = Math.round(Number(input(k).value) * 1000);
    const notifications = { operation_done: input("operation_done").checked, operation_failed: input("operation_failed").checked, each_failure: input("each_failure").checked, failures_only: input("failures_only").checked, drift: input("drift").checked, schedules: input("schedules").checked, accounts: input("accounts").checked };
    try {
      const operations = { start_waits_for_tools: input("start_waits_for_tools").checked };
      await ipc.saveSettings({ engine, notifications, operations, sync_paused: input("sync_paused").checked });
      await ipc.setSyncPaused(input("sync_paused").checked);
      setText(result, "Saved.");
    } catch (err) {
      setText(result, String(err));
    }
  });

  return { render };
}
