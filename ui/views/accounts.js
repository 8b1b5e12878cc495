// Accounts: the list (test, edit, remove) and the form that adds or edits
// one. The form is drawn from the provider kinds' descriptors (the shell's
// `account_kinds`), so every kind the engine has can be added here and a
// new provider needs no change in the window. For kinds whose hosts often
// carry self-signed certificates, the host's certificate is checked before
// the account is saved; if this computer does not trust it, its thumbprint
// is shown for the admin to compare and accept (trust on first use). Where
// the host publishes its CA (oVirt's engine), that CA can be fetched,
// compared and kept instead: it keeps working when the host's certificate
// is renewed.

import { $, el, setText } from "../dom.js";
import { asIpcError, ipc } from "../ipc.js";
import { errorText } from "../error-text.js";
import { ago, count, timestamp } from "../format.js";
import { healthText, isBroken } from "../state.js";
import { bareThumbprint, publishedCaField, readConfig, shownValue, trustingKeptCa, wantsCertificateCheck } from "../account-fields.js";
import { confirmText } from "./dialogs.js";

/** @typedef {import("../types").Capabilities} Capabilities */
/** @typedef {import("../types").KindDescriptor} KindDescriptor */
/** @typedef {import("../types").AccountField} AccountField */

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

/** @param {string} s */
const capitalise = (s) => s.charAt(0).toUpperCase() + s.slice(1);

/** One input for a descriptor's field, with its help below. @param {AccountField} f */
function fieldInput(f) {
  const k = f.kind;
  const helpId = `help-${f.name}`;
  const help = el("p", { class: "help muted", id: helpId }, f.help);
  if (k.type === "bool") {
    const box = el("input", { type: "checkbox", name: f.name, checked: k.default, "aria-describedby": helpId });
    return el("div", { class: "field", "data-field": f.name }, el("label", { class: "check" }, box, ` ${f.label}`), help);
  }
  /** @type {HTMLInputElement | HTMLSelectElement} */
  let input;
  if (k.type === "choice") {
    input = el("select", { name: f.name, "aria-describedby": helpId }, ...k.options.map(([v, label]) => el("option", { value: v }, label)));
    if (f.placeholder) input.value = f.placeholder;
  } else {
    input = el("input", { name: f.name, placeholder: f.placeholder, "aria-describedby": helpId, spellcheck: false });
    if (k.type === "integer" || k.type === "number") {
      input.type = "number";
      input.min = String(k.min);
      if (k.max < Number.MAX_SAFE_INTEGER) input.max = String(k.max);
      input.step = k.type === "integer" ? "1" : "any";
    } else if (k.type === "url") {
      input.type = "url";
    }
  }
  if (f.required) input.setAttribute("aria-required", "true");
  const label = el("label", {}, f.label, f.required ? el("span", { class: "muted" }, " (required)") : null, " ", input);
  return el("div", { class: "field", "data-field": f.name }, label, help);
}

/** @param {{ reload: () => Promise<void>, vmCount: (accountId: number) => number }} app */
export function initAccounts(app) {
  const form = /** @type {HTMLFormElement} */ ($("#account-form"));
  const result = $("#accounts-result");
  const certPrompt = $("#cert-prompt");
  /** The control named `name` of the form. @param {string} name */
  const field = (name) => /** @type {HTMLInputElement | null} */ (form.elements.namedItem(name));
  const kindSelect = /** @type {HTMLSelectElement} */ (form.elements.namedItem("kind"));
  const submit = /** @type {HTMLButtonElement} */ ($('button[type="submit"]', form));
  const cancelEdit = $("#account-cancel-edit");
  /** @type {KindDescriptor[]} */
  let kinds = [];
  /** @type {{ name: string, base: Record<string, unknown> } | null} the account the form edits */
  let editing = null;
  /** @type {string | null} */
  let presented = null;
  /** @type {string | null} the thumbprint of the CA the host publishes, as shown to the admin */
  let publishedThumbprint = null;

  const kindOf = (/** @type {string} */ name) => kinds.find((k) => k.name === name);

  const ready = ipc.accountKinds().then((list) => {
    // Real providers first; the demo fleet last.
    kinds = [...list.filter((k) => k.name !== "sim"), ...list.filter((k) => k.name === "sim")];
    kindSelect.replaceChildren(...kinds.map((k) => el("option", { value: k.name }, k.label)));
    showKind();
  }).catch((e) => setText(result, `Cannot list the provider kinds: ${e}`));

  /** Draw the chosen kind's inputs, filled from `stored` (an account being edited). @param {Record<string, unknown>} [stored] */
  function showKind(stored = {}) {
    const kind = kindOf(kindSelect.value);
    certPrompt.hidden = true;
    if (!kind) return;
    setText($("#account-kind-summary"), kind.summary);
    setText($("#account-fields-legend"), kind.label);
    const main = kind.fields.filter((f) => !f.advanced).map(fieldInput);
    const more = kind.fields.filter((f) => f.advanced).map(fieldInput);
    $("#account-main-fields").replaceChildren(...main);
    $("#account-advanced-fields").replaceChildren(...more);
    const details = /** @type {HTMLDetailsElement} */ ($("#account-more"));
    details.hidden = more.length === 0;
    details.open = kind.fields.some((f) => f.advanced && stored[f.name] !== undefined && f.kind.type !== "bool");
    for (const f of kind.fields) {
      const input = field(f.name);
      if (!input) continue;
      const v = shownValue(f, stored[f.name]);
      if (typeof v === "boolean") input.checked = v; else if (stored[f.name] !== undefined || f.kind.type !== "choice") input.value = v;
    }
    const secretBox = $("#account-secret");
    secretBox.hidden = kind.secret.need === "none";
    setText($("#account-secret-legend"), capitalise(kind.secret.label) + (kind.secret.need === "optional" ? " (if this account uses one)" : ""));
    setText($("#account-secret-label"), capitalise(kind.secret.label));
  }
  kindSelect.addEventListener("change", () => showKind());

  async function render() {
    const body = $("#accounts-table tbody");
    try {
      const accounts = await ipc.listAccounts();
      body.replaceChildren(...accounts.map((a) => {
        const test = el("button", { onclick: async () => {
          setText(result, `Testing ${a.name}…`);
          try { setText(result, `${a.name}: ${await ipc.testAccount(a.name)}`); } catch (e) { setText(result, `${a.name}: ${errorText(e)}`); }
        } }, "Test");
        const edit = el("button", { onclick: () => startEdit(a.name, a.kind) }, "Edit");
        const remove = el("button", { class: "danger-outline", onclick: async () => {
          const ok = await confirmText(`Remove ${a.name}?`, `Remove the account ${a.name} and its local inventory? Nothing changes at the provider.`, `Remove ${a.name}`);
          if (!ok) return;
          try { setText(result, await ipc.removeAccount(a.name)); await app.reload(); render(); } catch (e) { setText(result, String(e)); }
        } }, "Remove");
        const label = kindOf(a.kind)?.label ?? a.kind;
        const now = Date.now();
        const broken = isBroken(a.health);
        const status = el("td", { class: "c-health" }, el("span", { class: broken ? "health-bad" : "" }, healthText(a.health, now)),
          a.health.last_error ? el("span", { class: "health-error muted", title: a.health.last_error_at ? `at ${timestamp(a.health.last_error_at)}` : "" },
            `${broken ? "" : "Last error: "}${a.health.last_error}`) : null);
        const contact = a.last_contact_at ? el("span", { title: timestamp(a.last_contact_at) }, ago(a.last_contact_at, now)) : "never";
        return el("tr", { "data-account": a.name, class: broken ? "account-broken" : "" },
          el("td", {}, a.is_demo ? `${a.name} (demo)` : a.name), el("td", {}, label), status,
          el("td", { class: "num" }, count(app.vmCount(a.id))), el("td", {}, contact),
          el("td", {}, capsText(a.capabilities)), el("td", { class: "nowrap" }, test, " ", edit, " ", remove));
      }));
    } catch (e) {
      setText(result, String(e));
    }
  }

  /** Load an account's settings into the form; saving updates it in place. @param {string} name @param {string} kind */
  async function startEdit(name, kind) {
    try {
      await ready;
      const cfg = await ipc.accountConfig(name);
      editing = { name, base: cfg };
      const nameInput = /** @type {HTMLInputElement} */ (field("account_name"));
      nameInput.value = name;
      nameInput.readOnly = true;
      kindSelect.value = kind;
      kindSelect.disabled = true;
      showKind(cfg);
      for (const f of ["secret", "secret_env"]) {
        const input = /** @type {HTMLInputElement} */ (field(f));
        input.value = "";
        input.disabled = true;
        input.placeholder = "unchanged (remove and add the account to change it)";
      }
      setText($("#account-form-title"), `Edit ${name}`);
      setText(submit, `Save ${name}`);
      cancelEdit.hidden = false;
      form.scrollIntoView({ block: "start" });
      nameInput.focus();
    } catch (e) {
      setText(result, String(e));
    }
  }

  function endEdit() {
    editing = null;
    form.reset();
    /** @type {HTMLInputElement} */ (field("account_name")).readOnly = false;
    kindSelect.disabled = false;
    const secret = /** @type {HTMLInputElement} */ (field("secret"));
    const env = /** @type {HTMLInputElement} */ (field("secret_env"));
    secret.disabled = env.disabled = false;
    secret.placeholder = "stored in the OS keychain";
    env.placeholder = "only its name is kept";
    setText($("#account-form-title"), "Add an account");
    setText(submit, "Add account");
    cancelEdit.hidden = true;
    showKind();
  }
  cancelEdit.addEventListener("click", () => { endEdit(); setText(result, ""); });

  $("#cert-trust").addEventListener("click", () => {
    const kind = kindOf(kindSelect.value);
    const pin = kind?.tls ? field(kind.tls.thumbprint) : null;
    if (pin) pin.value = presented ?? "";
    certPrompt.hidden = true;
    form.requestSubmit();
  });
  $("#cert-cancel").addEventListener("click", () => { certPrompt.hidden = true; });

  /**
   * Ask the admin to compare the certificate the host presents, and offer
   * its published CA instead where the kind has one.
   * @param {KindDescriptor} kind @param {string} thumbprint @param {string} reason
   */
  function showCertPrompt(kind, thumbprint, reason) {
    presented = thumbprint;
    publishedThumbprint = null;
    setText($("#cert-thumbprint"), thumbprint);
    setText($("#cert-compare"), kind.tls?.compare_with ?? "the thumbprint the host itself shows");
    setText($("#cert-reason"), reason);
    $("#cert-fetch-ca").hidden = !publishedCaField(kind);
    $("#ca-prompt").hidden = true;
    certPrompt.hidden = false;
  }

  /** The account name and endpoint the CA is fetched for and kept under. @param {KindDescriptor} kind */
  const caTarget = (kind) => ({
    name: editing?.name ?? /** @type {HTMLInputElement} */ (field("account_name")).value.trim(),
    endpoint: kind.tls ? (field(kind.tls.endpoint)?.value ?? "").trim() : "",
  });

  $("#cert-fetch-ca").addEventListener("click", async () => {
    const kind = kindOf(kindSelect.value);
    if (!kind) return;
    const { name, endpoint } = caTarget(kind);
    setText(result, `Fetching the CA certificate ${endpoint} publishes…`);
    try {
      publishedThumbprint = await ipc.publishedCa(name, kind.name, endpoint);
    } catch (err) {
      setText(result, errorText(err));
      return;
    }
    setText($("#ca-thumbprint"), publishedThumbprint);
    $("#ca-prompt").hidden = false;
    /** @type {HTMLElement} */ ($("#ca-trust")).focus();
    setText(result, "Compare the CA's thumbprint with the one the host shows before you trust it.");
  });

  $("#ca-trust").addEventListener("click", async () => {
    const kind = kindOf(kindSelect.value);
    if (!kind || !publishedThumbprint) return;
    const { name, endpoint } = caTarget(kind);
    let file;
    try {
      file = await ipc.keepPublishedCa({ name, kind: kind.name, endpoint, thumbprint: publishedThumbprint, adding: !editing });
    } catch (err) {
      setText(result, errorText(err));
      return;
    }
    const values = trustingKeptCa(kind, valuesOf(kind), file);
    for (const f of kind.fields) {
      const input = field(f.name);
      const v = values[f.name];
      if (!input || v === undefined) continue;
      if (typeof v === "boolean") input.checked = v; else input.value = v;
    }
    certPrompt.hidden = true;
    form.requestSubmit();
  });

  /**
   * Whether the add or save may go on (shows the certificate prompt if not), and a warning to keep beside the outcome.
   * @param {KindDescriptor} kind @param {Record<string, unknown>} config
   */
  async function certificateAccepted(kind, config) {
    if (!kind.tls || !wantsCertificateCheck(kind, config)) return { ok: true, warning: "" };
    const endpoint = String(config[kind.tls.endpoint]);
    let check;
    try {
      check = await ipc.checkCertificate(endpoint);
    } catch (err) {
      setText(result, `Cannot reach ${endpoint}: ${err}`);
      return { ok: false, warning: "" };
    }
    const pinned = bareThumbprint(config[kind.tls.thumbprint]);
    if (check.trust === "untrusted" && pinned !== bareThumbprint(check.thumbprint)) {
      showCertPrompt(kind, check.thumbprint, pinned ? "It is not the certificate pinned for this account: the host's certificate changed." : "");
      setText(result, "Check the host's certificate before going on.");
      return { ok: false, warning: "" };
    }
    const warning = check.trust === "not-tls" ? ` Warning: plain HTTP, so the ${kind.secret.label} crosses the network unencrypted.` : "";
    return { ok: true, warning };
  }

  /** The form's values, by input name. @param {KindDescriptor} kind */
  function valuesOf(kind) {
    /** @type {Record<string, string | boolean | undefined>} */
    const out = {};
    for (const f of kind.fields) {
      const input = field(f.name);
      if (input) out[f.name] = f.kind.type === "bool" ? input.checked : input.value;
    }
    return out;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const kind = kindOf(kindSelect.value);
    if (!kind) return;
    for (const bad of form.querySelectorAll('[aria-invalid="true"]')) bad.removeAttribute("aria-invalid");
    const { config, errors } = readConfig(kind, valuesOf(kind), editing?.base);
    if (errors.length) {
      for (const err of errors) field(err.field)?.setAttribute("aria-invalid", "true");
      setText(result, errors.map((err) => err.message).join(" "));
      field(errors[0].field)?.focus();
      return;
    }
    const cert = await certificateAccepted(kind, config);
    if (!cert.ok) return;
    if (editing) {
      try {
        setText(result, (await ipc.updateAccount(editing.name, config)) + cert.warning);
        endEdit();
        await app.reload();
        render();
      } catch (err) {
        refused(kind, err);
      }
      return;
    }
    const secretInput = /** @type {HTMLInputElement} */ (field("secret"));
    const secret = kind.secret.need === "none" ? "" : secretInput.value;
    const secretEnv = kind.secret.need === "none" ? "" : /** @type {HTMLInputElement} */ (field("secret_env")).value.trim();
    // Never kept in the page longer than the call.
    secretInput.value = "";
    try {
      const a = await ipc.addAccount({ name: /** @type {HTMLInputElement} */ (field("account_name")).value, kind: kind.name, config, secret: secret || null, secretEnv: secretEnv || null });
      setText(result, `Added ${a.name}. Its inventory is on the way.${cert.warning}`);
      form.reset();
      showKind();
      await app.reload();
      render();
    } catch (err) {
      refused(kind, err);
    }
  });

  /**
   * The engine refused the account: mark the fields it names, offer to
   * compare and pin a certificate it does not trust, and say what to do.
   * @param {KindDescriptor} kind @param {unknown} err
   */
  function refused(kind, err) {
    const e = asIpcError(err);
    const named = e.fields.map((f) => (f.field ? field(f.field) : null)).filter((x) => x !== null);
    for (const input of named) input?.setAttribute("aria-invalid", "true");
    named[0]?.focus();
    if (e.kind === "untrusted" && e.presented && kind.tls) showCertPrompt(kind, e.presented, "");
    setText(result, errorText(e));
  }

  return {
    render,
    /** "Fix" on the broken-account banner lands here. @param {string} name @param {string} kind */
    fix(name, kind) {
      startEdit(name, kind);
    },
    /** The "Add your account" call to action lands here. */
    focusForm() {
      if (editing) endEdit();
      /** @type {HTMLInputElement} */ (field("account_name")).focus();
    },
  };
}
