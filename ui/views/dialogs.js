// Every modal dialog of the window, and the one rule they share: only the
// confirm button says yes (a click on it, or Enter or Space while it has
// the focus). Escape, a Cancel or Close button and a click outside the box
// always say no. The dialog's `returnValue` is never consulted: it survives
// from one showing to the next, and a stale "ok" once turned an Escape into
// a reboot.

import { $, el } from "../dom.js";
import { ACTION_LABELS, mustTypeCount, planSummary, plural } from "../state.js";
import { FALLBACK, HARD } from "../vocabulary.js";

/** @typedef {import("../state.js").Plan} Plan */

/**
 * Show `dlg` modally and wait for the answer.
 * @param {HTMLDialogElement} dlg
 * @param {HTMLElement | null} [focus] initial focus (default: the cancel button)
 * @returns {Promise<boolean>}
 */
export function ask(dlg, focus) {
  return new Promise((resolve) => {
    let confirmed = false;
    // Back where the admin was when the dialog closes, however it closes.
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    /** @param {MouseEvent} e */
    const onClick = (e) => {
      const target = /** @type {HTMLElement} */ (e.target);
      if (target === dlg) {
        // The dialog's own box covers its content; a click landing on the
        // dialog element outside that box is a click on the backdrop.
        const r = dlg.getBoundingClientRect();
        if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) dlg.close();
        return;
      }
      const button = target.closest("button");
      if (!button || !dlg.contains(button) || button.disabled) return;
      if (button.hasAttribute("data-confirm")) {
        confirmed = true;
        dlg.close();
      } else if (button.hasAttribute("data-cancel")) {
        dlg.close();
      }
    };
    dlg.addEventListener("click", onClick);
    dlg.addEventListener("close", () => {
      dlg.removeEventListener("click", onClick);
      if (before && before.isConnected && !before.closest("dialog, #menu")) before.focus();
      resolve(confirmed);
    }, { once: true });
    dlg.returnValue = "";
    dlg.showModal();
    (focus ?? /** @type {HTMLElement | null} */ (dlg.querySelector(".dialog-buttons [data-cancel]")))?.focus();
  });
}

const confirmParts = () => ({
  dlg: /** @type {HTMLDialogElement} */ ($("#confirm")),
  title: $("#confirm-title"),
  text: $("#confirm-text"),
  notes: $("#confirm-notes"),
  list: /** @type {HTMLDetailsElement} */ ($("#confirm-list")),
  forceLabel: $("#confirm-force-label"),
  force: /** @type {HTMLInputElement} */ ($("#confirm-force")),
  typeLabel: $("#confirm-type-label"),
  type: /** @type {HTMLInputElement} */ ($("#confirm-type")),
  ok: /** @type {HTMLButtonElement} */ ($("#confirm-ok")),
  cancel: /** @type {HTMLButtonElement} */ ($("#confirm-cancel")),
});

/** Reset the shared confirmation dialog to a plain question. */
function resetConfirm() {
  const p = confirmParts();
  p.notes.replaceChildren();
  p.notes.hidden = true;
  p.list.hidden = true;
  p.list.open = false;
  p.forceLabel.hidden = true;
  p.force.checked = false;
  p.typeLabel.hidden = true;
  p.type.value = "";
  p.ok.disabled = false;
  p.type.oninput = null;
  p.force.onchange = null;
  p.cancel.textContent = "Cancel";
  return p;
}

/**
 * Ask for a name (saving the selection as a group). Enter in the field
 * saves; every other way out says no. Returns the name, or null.
 * @param {string} title @param {string} text @param {string} okLabel
 * @returns {Promise<string | null>}
 */
export async function askName(title, text, okLabel) {
  const dlg = /** @type {HTMLDialogElement} */ ($("#name-dialog"));
  const input = /** @type {HTMLInputElement} */ ($("#name-input"));
  const ok = /** @type {HTMLButtonElement} */ ($("#name-ok"));
  $("#name-title").textContent = title;
  $("#name-text").textContent = text;
  ok.textContent = okLabel;
  input.value = "";
  ok.disabled = true;
  input.oninput = () => { ok.disabled = input.value.trim() === ""; };
  input.onkeydown = (e) => { if (e.key === "Enter" && !ok.disabled) { e.preventDefault(); ok.click(); } };
  const yes = await ask(dlg, input);
  return yes ? input.value.trim() : null;
}

/**
 * A plain destructive question (removing an account…). Cancel has the focus.
 * @param {string} title @param {string} text @param {string} confirmLabel @param {string} [cancelLabel]
 */
export function confirmText(title, text, confirmLabel, cancelLabel = "Cancel") {
  const p = resetConfirm();
  p.title.textContent = title;
  p.text.textContent = text;
  p.ok.textContent = confirmLabel;
  p.cancel.textContent = cancelLabel;
  p.ok.className = "danger";
  return ask(p.dlg);
}

/**
 * Say what an action will do before doing it: how many VMs it acts on,
 * which are skipped and why, which will need force, the full list one click
 * away, and for a forced or large action, the count typed back.
 * @param {Plan} plan @param {Map<number, string>} names VM id → name
 * @returns {Promise<{ force: boolean } | null>}
 */
export async function confirmPlan(plan, names) {
  const p = resetConfirm();
  const verb = ACTION_LABELS[plan.kind];
  const offerForce = FALLBACK.has(plan.kind) && plan.act.length > 0;
  const render = () => {
    const force = p.force.checked;
    const { headline, notes } = planSummary(plan, force);
    p.title.textContent = plan.act.length ? `${headline}?` : headline;
    p.text.textContent = plan.act.length === 1 && plan.lines.length === 1
      ? `${verb} ${names.get(plan.act[0]) ?? "this VM"}.`
      : plan.act.length ? `${verb}: ${plan.act.slice(0, 3).map((id) => names.get(id)).join(", ")}${plan.act.length > 3 ? ` and ${plan.act.length - 3} more` : ""}.` : "None of the selected VMs can take this action now.";
    p.notes.replaceChildren(...notes.map((n) => el("li", {}, n)));
    p.notes.hidden = notes.length === 0;
    const typing = mustTypeCount(plan, force);
    p.typeLabel.hidden = !typing;
    $("#confirm-type-count").textContent = String(plan.act.length);
    p.ok.disabled = plan.act.length === 0 || (typing && p.type.value.trim() !== String(plan.act.length));
  };
  p.list.hidden = plan.lines.length < 2;
  $("#confirm-list-summary").textContent = `Show all ${plural(plan.lines.length, "VM")}`;
  $("#confirm-list-items").replaceChildren(...plan.lines.map((l) => el("li", {}, el("strong", {}, l.name), ` — ${l.note}`)));
  p.forceLabel.hidden = !offerForce;
  p.ok.textContent = plan.act.length ? `${verb} ${plural(plan.act.length, "VM")}` : verb;
  p.ok.className = plan.kind === "start" ? "primary" : "danger";
  p.force.onchange = render;
  p.type.oninput = render;
  render();
  const yes = await ask(p.dlg);
  p.force.onchange = null;
  p.type.oninput = null;
  return yes ? { force: p.force.checked || HARD.has(plan.kind) } : null;
}

/** The keyboard shortcuts (the `?` key). */
export function showShortcuts() {
  return ask(/** @type {HTMLDialogElement} */ ($("#shortcuts")));
}

/**
 * Which columns to show.
 * @param {{ id: string, label: string, always?: boolean }[]} columns
 * @param {Set<string>} visible
 * @returns {Promise<{ visible: Set<string>, resetWidths: boolean } | null>}
 */
export async function chooseColumns(columns, visible) {
  const dlg = /** @type {HTMLDialogElement} */ ($("#columns-dialog"));
  const list = $("#columns-list");
  list.replaceChildren(...columns.filter((c) => c.id !== "sel").map((c) => el("label", { class: "check" },
    el("input", { type: "checkbox", name: "col", value: c.id, checked: visible.has(c.id) || !!c.always, disabled: !!c.always }), ` ${c.label}`)));
  const reset = /** @type {HTMLInputElement} */ ($("#columns-reset"));
  reset.checked = false;
  if (!(await ask(dlg))) return null;
  const chosen = new Set([...list.querySelectorAll("input:checked")].map((i) => /** @type {HTMLInputElement} */ (i).value));
  return { visible: chosen, resetWidths: reset.checked };
}

/**
 * The operations in flight (the header's "N in flight"); `fill` renders the
 * list and is called again each second while the dialog is open.
 * @param {(list: HTMLElement) => void} fill
 */
export async function showInFlight(fill) {
  const dlg = /** @type {HTMLDialogElement} */ ($("#inflight-dialog"));
  const list = $("#inflight-list");
  fill(list);
  const timer = setInterval(() => fill(list), 1000);
  await ask(dlg);
  clearInterval(timer);
}

/**
 * "Run now" for a schedule: what it will do to how many VMs, the names one
 * click away. A destructive run opens with the focus on Cancel.
 * @param {{ title: string, text: string, notes: string[], ok: string, destructive: boolean, vms: string[] }} q
 */
export function confirmRunNow(q) {
  const p = resetConfirm();
  p.title.textContent = q.title;
  p.text.textContent = q.text;
  p.notes.replaceChildren(...q.notes.map((n) => el("li", {}, n)));
  p.notes.hidden = q.notes.length === 0;
  p.list.hidden = q.vms.length < 2;
  $("#confirm-list-summary").textContent = `Show all ${plural(q.vms.length, "VM")}`;
  $("#confirm-list-items").replaceChildren(...q.vms.map((name) => el("li", {}, name)));
  p.ok.textContent = q.ok;
  p.ok.className = q.destructive ? "danger" : "primary";
  return ask(p.dlg, q.destructive ? null : p.ok);
}

/**
 * A schedule's firings (History); `fill` renders them into the table body.
 * @param {string} title @param {(body: HTMLElement) => Promise<void>} fill
 */
export async function showScheduleHistory(title, fill) {
  const dlg = /** @type {HTMLDialogElement} */ ($("#history-dialog"));
  $("#history-title").textContent = title;
  const body = $("#history-table tbody");
  body.replaceChildren(el("tr", {}, el("td", { colSpan: 4, class: "muted" }, "Loading…")));
  const shown = ask(dlg);
  await fill(body);
  await shown;
}
