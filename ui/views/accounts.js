// Accounts: the list (test, edit, remove) and the form that adds or edits
// one. A vSphere host's certificate is checked before the account is saved;
// if this computer does not trust it, its thumbprint is shown for the admin
// to compare and accept (trust on first use).

import { $, el, setText } from "../dom.js";
import { ipc } from "../ipc.js";
import { confirmText } from "./dialogs.js";

/** @typedef {import("../types").Capabilities} Capabilities */

const SECRET_FIELDS = ["secret", "secret_env", "vs_password", "vs_password_env"];

/** @param {Capabilities | null} c */
function capsText(c) {
  if (!c) return "unreachable or misconfigured";
  const can = [];
  if (c.graceful_stop) can.push("graceful stop");
  if (c.force_stop) can.push("force stop");
  if (c.guest_reboot) can.push("reboot");
  if (c.suspend) can.push("suspend");
  if (c.hibernate) can.push("hibernate");
  if (c.change_feed) can.push("live feed");
  return can.join(", ");
}

/** @param {{ reload: () => Promise<void> }} app */
export function initAccounts(app) {
  const form = /** @type {HTMLFormElement} */ ($("#account-form"));
  const result = $("#accounts-result");
  const certPrompt = $("#cert-prompt");
  /** The field named `name` of the form. @param {string} name */
  const field = (name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
  const kindSelect = /** @type {HTMLSelectElement} */ (form.elements.namedItem("kind"));
  /** @type {string | null} the account's name while the form edits it */
  let editing = null;
  /** @type {string | null} */
  let presented = null;

  async function render() {
    const body = $("#accounts-table tbody");
    try {
      const accounts = await ipc.listAccounts();
      body.replaceChildren(...accounts.map((a) => {
        const test = el("button", { onclick: async () => {
          setText(result, `Testing ${a.name}…`);
          try { setText(result, `${a.name}: ${await ipc.testAccount(a.name)}`); } catch (e) { setText(result, `${a.name}: ${e}`); }
        } }, "Test");
        const remove = el("button", { class: "danger-outline", onclick: async () => {
          const ok = await confirmText(`Remove ${a.name}?`, `Remove the account ${a.name} and its local inventory? Nothing changes at the provider.`, `Remove ${a.name}`);
          if (!ok) return;
          try { setText(result, await ipc.removeAccount(a.name)); await app.reload(); render(); } catch (e) { setText(result, String(e)); }
        } }, "Remove");
        const cells = [test, " "];
        if (a.kind === "ec2" || a.kind === "vsphere") cells.push(el("button", { onclick: () => startEdit(a.name, a.kind) }, "Edit"), " ");
        cells.push(remove);
        return el("tr", { "data-account": a.name }, el("td", {}, a.is_demo ? `${a.name} (demo)` : a.name), el("td", {}, a.kind), el("td", {}, capsText(a.capabilities)), el("td", { class: "nowrap" }, ...cells));
      }));
    } catch (e) {
      setText(result, String(e));
    }
  }

  /** Load an account's settings into the form; saving updates it in place. @param {string} name @param {string} kind */
  async function startEdit(name, kind) {
    try {
      const cfg = await ipc.accountConfig(name);
      editing = name;
      field("account_name").value = name;
      field("account_name").readOnly = true;
      kindSelect.value = kind;
      kindSelect.disabled = true;
      showKind();
      if (kind === "ec2") {
        field("regions").value = (cfg.regions || []).join(", ");
        field("endpoint").value = cfg.endpoint || "";
        field("access_key_id").value = cfg.access_key_id || "";
        field("profile").value = cfg.profile || "";
      } else {
        field("vs_endpoint").value = cfg.endpoint || "";
        field("vs_username").value = cfg.username || "";
        field("vs_thumbprint").value = cfg.thumbprint || "";
      }
      for (const f of SECRET_FIELDS) {
        field(f).disabled = true;
        field(f).placeholder = "unchanged (remove and add the account to change it)";
      }
      setText($('button[type="submit"]', form), `Save ${name}`);
      field("account_name").focus();
    } catch (e) {
      setText(result, String(e));
    }
  }

  function endEdit() {
    editing = null;
    form.reset();
    field("account_name").readOnly = false;
    kindSelect.disabled = false;
    for (const f of SECRET_FIELDS) {
      field(f).disabled = false;
      field(f).placeholder = "";
    }
    field("secret").placeholder = field("vs_password").placeholder = "stored in the OS keychain";
    certPrompt.hidden = true;
    setText($('button[type="submit"]', form), "Add account");
    showKind();
  }

  function showKind() {
    for (const f of form.querySelectorAll("fieldset")) f.hidden = f.dataset.kind !== kindSelect.value;
  }
  kindSelect.addEventListener("change", showKind);

  $("#cert-trust").addEventListener("click", () => {
    field("vs_thumbprint").value = presented ?? "";
    certPrompt.hidden = true;
    form.requestSubmit();
  });
  $("#cert-cancel").addEventListener("click", () => { certPrompt.hidden = true; });

  /** Whether the add or save may go on (shows the certificate prompt if not), and a warning to keep beside the outcome. */
  async function certificateAccepted() {
    const endpoint = field("vs_endpoint").value.trim();
    let check;
    try {
      check = await ipc.checkCertificate(endpoint);
    } catch (err) {
      setText(result, `Cannot reach ${endpoint}: ${err}`);
      return { ok: false, warning: "" };
    }
    const pinned = field("vs_thumbprint").value.trim().toUpperCase().replace(/[^0-9A-F]/g, "");
    if (check.trust === "untrusted" && pinned !== check.thumbprint.replace(/:/g, "")) {
      presented = check.thumbprint;
      setText($("#cert-thumbprint"), check.thumbprint);
      setText($("#cert-reason"), pinned ? "It is not the certificate pinned for this account: the host's certificate changed." : "");
      certPrompt.hidden = false;
      setText(result, "Check the host's certificate before going on.");
      return { ok: false, warning: "" };
    }
    const warning = check.trust === "not-tls" ? " Warning: plain HTTP, so the password crosses the network unencrypted." : "";
    return { ok: true, warning };
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const kind = kindSelect.value;
    let warning = "";
    if (kind === "vsphere") {
      const cert = await certificateAccepted();
      if (!cert.ok) return;
      warning = cert.warning;
    }
    /** @type {Record<string, unknown>} */
    let config;
    if (kind === "ec2") {
      config = { regions: field("regions").value.split(",").map((r) => r.trim()).filter(Boolean) };
      if (field("endpoint").value.trim()) config.endpoint = field("endpoint").value.trim();
      if (field("access_key_id").value.trim()) config.access_key_id = field("access_key_id").value.trim();
      if (field("profile").value.trim()) config.profile = field("profile").value.trim();
    } else if (kind === "vsphere") {
      config = { endpoint: field("vs_endpoint").value.trim(), username: field("vs_username").value.trim() };
      if (field("vs_thumbprint").value.trim()) config.thumbprint = field("vs_thumbprint").value.trim();
    } else {
      config = { size: Number(field("size").value), seed: Number(field("seed").value) };
    }
    if (editing) {
      try {
        setText(result, (await ipc.updateAccount(editing, config)) + warning);
        endEdit();
        await app.reload();
        render();
      } catch (err) {
        setText(result, String(err));
      }
      return;
    }
    const secret = kind === "ec2" ? field("secret").value : kind === "vsphere" ? field("vs_password").value : null;
    const secretEnv = kind === "ec2" ? field("secret_env").value : kind === "vsphere" ? field("vs_password_env").value : null;
    // Never kept in the page longer than the call.
    field("secret").value = "";
    field("vs_password").value = "";
    try {
      const a = await ipc.addAccount({ name: field("account_name").value, kind, config, secret: secret || null, secretEnv: secretEnv || null });
      setText(result, `Added ${a.name}. Its inventory is on the way.${warning}`);
      form.reset();
      showKind();
      await app.reload();
      render();
    } catch (err) {
      setText(result, String(err));
    }
  });

  return {
    render,
    /** The "Add your account" call to action lands here. */
    focusForm() {
      if (editing) endEdit();
      field("account_name").focus();
    },
  };
}
