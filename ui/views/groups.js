// Groups: the saved selections, each with the VMs it is *now* (a rule is
// evaluated each time), acted on through the same Power menu as the
// inventory; the form that adds or edits one with a live preview of its
// VMs; and "Save as group…" for the inventory's selection.

import { $, el, setText } from "../dom.js";
import { errorText } from "../error-text.js";
import { count } from "../format.js";
import { factsField, references, ruleOf, ruleText } from "../group-text.js";
import { ipc } from "../ipc.js";
import { plural } from "../state.js";
import { confirmText } from "./dialogs.js";

/** @typedef {import("../types").GroupNow} GroupNow */
/** @typedef {import("../types").GroupRule} GroupRule */

/** How long the preview waits for typing to pause before it asks the engine. */
const PREVIEW_AFTER_MS = 250;
/** Names shown before "and N more". */
const NAMES_SHOWN = 5;

/**
 * @param {{
 *   s: import("../state.js").State,
 *   powerMenu: (ids: number[], anchor: HTMLElement, label: string) => void,
 *   select: (ids: number[]) => void,
 * }} app
 */
export function initGroups(app) {
  const s = app.s;
  const form = /** @type {HTMLFormElement} */ ($("#group-form"));
  const result = $("#groups-result");
  const preview = $("#group-preview");
  const submit = /** @type {HTMLButtonElement} */ ($('button[type="submit"]', form));
  const cancelEdit = $("#group-cancel-edit");
  /** @param {string} name */
  const input = (name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
  /** @type {string | null} */
  let editing = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let previewTimer;
  let previewAsked = 0;

  /** VM ids as names, "web-1, web-2 and 3 more". @param {number[]} ids */
  function names(ids) {
    const shown = ids.slice(0, NAMES_SHOWN).map((id) => s.vms.get(id)?.name ?? `#${id}`);
    return shown.join(", ") + (ids.length > NAMES_SHOWN ? ` and ${count(ids.length - NAMES_SHOWN)} more` : "");
  }

  /** The select's options: the accounts, kinds and states the window knows. */
  function fillChoices() {
    /** @param {string} name @param {string[]} values */
    const fill = (name, values) => {
      const select = /** @type {HTMLSelectElement} */ (form.elements.namedItem(name));
      const kept = select.value;
      select.replaceChildren(el("option", { value: "" }, "Any"), ...values.map((v) => el("option", { value: v }, v)));
      select.value = values.includes(kept) ? kept : "";
    };
    const accounts = [...s.accounts.values()];
    fill("account", accounts.map((a) => a.name).sort());
    fill("kind", [...new Set(accounts.map((a) => a.kind))].sort());
    fill("state", [...s.counts.states.keys()].sort());
  }

  function draft() {
    const select = (/** @type {string} */ n) => /** @type {HTMLSelectElement} */ (form.elements.namedItem(n)).value;
    const { rule, error } = ruleOf({ account: select("account"), kind: select("kind"), pattern: input("pattern").value, facts: input("facts").value, state: select("state") });
    return { name: input("name").value.trim(), vms: references(/** @type {HTMLTextAreaElement} */ (form.elements.namedItem("vms")).value), rule, error };
  }

  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(runPreview, PREVIEW_AFTER_MS);
  }

  async function runPreview() {
    const d = draft();
    const asked = ++previewAsked;
    if (d.error) {
      preview.replaceChildren(el("p", { class: "error", role: "alert" }, d.error));
      return;
    }
    if (!d.vms.length && !d.rule) {
      preview.replaceChildren(el("p", { class: "muted" }, "Name VMs or give a rule to see which VMs the group is now."));
      return;
    }
    try {
      const ids = await ipc.previewGroup(d.vms, d.rule);
      if (asked !== previewAsked) return;
      preview.replaceChildren(el("p", { id: "group-preview-count" }, ids.length ? `Now ${plural(ids.length, "VM")}: ${names(ids)}.` : "No VM matches now."));
    } catch (e) {
      if (asked !== previewAsked) return;
      preview.replaceChildren(el("p", { class: "error", role: "alert" }, errorText(e)));
    }
  }
  form.addEventListener("input", schedulePreview);
  form.addEventListener("change", schedulePreview);

  /** @param {GroupNow} g */
  function row(g) {
    const named = g.group.vms.length ? `${plural(g.group.vms.length, "named VM")}` : "";
    const rule = ruleText(g.group.rule);
    const missing = g.missing.length ? ` (${plural(g.missing.length, "named VM")} no longer exist)` : "";
    const power = el("button", {
      "aria-haspopup": "menu", disabled: g.vm_ids.length === 0, title: "Act on the group's VMs now",
      onclick: (/** @type {MouseEvent} */ e) => app.powerMenu(g.vm_ids, /** @type {HTMLElement} */ (e.currentTarget), `Power actions for ${g.group.name}`),
    }, "Power ▾");
    const show = el("button", { disabled: g.vm_ids.length === 0, onclick: () => app.select(g.vm_ids) }, "Select in inventory");
    const edit = el("button", { onclick: () => startEdit(g) }, "Edit");
    const remove = el("button", {
      class: "danger-outline",
      onclick: async () => {
        const ok = await confirmText(`Remove the group ${g.group.name}?`, `The group is forgotten; its VMs are not touched. Schedules that act on it will find nothing to do.`, `Remove ${g.group.name}`);
        if (!ok) return;
        try {
          await ipc.removeGroup(g.group.name);
          setText(result, `Removed the group ${g.group.name}.`);
          if (editing === g.group.name) endEdit();
          render();
        } catch (e) { setText(result, errorText(e)); }
      },
    }, "Remove");
    return el("tr", { "data-group": g.group.name },
      el("th", { scope: "row" }, g.group.name),
      el("td", { class: "c-members", title: names(g.vm_ids) }, g.vm_ids.length ? `${count(g.vm_ids.length)}: ${names(g.vm_ids)}` : "none now"),
      el("td", {}, [named, rule].filter(Boolean).join("; ") + missing),
      el("td", { class: "nowrap" }, power, " ", show, " ", edit, " ", remove));
  }

  async function render() {
    const body = $("#groups-table tbody");
    fillChoices();
    try {
      const groups = await ipc.listGroups();
      body.replaceChildren(...(groups.length ? groups.map(row)
        : [el("tr", {}, el("td", { colSpan: 4, class: "muted" }, "No groups yet. Select VMs in the inventory and use \u201cSave as group\u2026\u201d, or add one below."))]));
    } catch (e) {
      setText(result, errorText(e));
    }
  }

  /** @param {GroupNow} g */
  function startEdit(g) {
    editing = g.group.name;
    input("name").value = g.group.name;
    input("name").readOnly = true;
    /** @type {HTMLTextAreaElement} */ (form.elements.namedItem("vms")).value = g.group.vms.map((id) => s.vms.get(id)?.name ? `${s.vms.get(id)?.account}/${s.vms.get(id)?.name}` : String(id)).join(", ");
    const rule = g.group.rule;
    for (const [field, value] of /** @type {[string, string | undefined][]} */ ([["account", rule?.account], ["kind", rule?.kind], ["state", rule?.state]])) {
      /** @type {HTMLSelectElement} */ (form.elements.namedItem(field)).value = value ?? "";
    }
    input("pattern").value = rule?.name ?? "";
    input("facts").value = factsField(rule);
    setText($("#group-form-title"), `Edit ${g.group.name}`);
    setText(submit, `Save ${g.group.name}`);
    cancelEdit.hidden = false;
    form.scrollIntoView({ block: "start" });
    /** @type {HTMLTextAreaElement} */ (form.elements.namedItem("vms")).focus();
    runPreview();
  }

  function endEdit() {
    editing = null;
    form.reset();
    input("name").readOnly = false;
    setText($("#group-form-title"), "Add a group");
    setText(submit, "Add group");
    cancelEdit.hidden = true;
    runPreview();
  }
  cancelEdit.addEventListener("click", () => { endEdit(); setText(result, ""); });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const d = draft();
    if (d.error) { setText(result, d.error); input("facts").focus(); return; }
    try {
      const saved = await ipc.saveGroup(d.name, d.vms, d.rule, editing !== null);
      setText(result, `${editing ? "Saved" : "Added"} the group ${saved.name}.`);
      endEdit();
      render();
    } catch (err) {
      setText(result, errorText(err));
    }
  });

  return {
    show: render,
    /**
     * Save these VMs as a new group (the inventory's "Save as group…").
     * @param {number[]} ids @param {string} name @returns {Promise<string>} what happened, in words
     */
    async saveSelection(ids, name) {
      const saved = await ipc.saveGroup(name, ids.map(String), null, false);
      return `Saved ${plural(ids.length, "VM")} as the group ${saved.name}.`;
    },
  };
}
