// Powerdeck's window. It renders what the engine stored and applies the
// engine's events as they come; it never decides a VM's state itself.

const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;

const ROW_HEIGHT = 34;
const OVERSCAN = 8;
const TRANSITIONAL = new Set(["starting", "stopping", "rebooting", "suspending", "resuming", "deallocating", "migrating"]);
const TERMINAL = new Set(["succeeded", "failed", "timed-out"]);
const DESTRUCTIVE = new Set(["stop", "force-stop", "reboot", "suspend", "hibernate"]);
const ACTION_LABELS = { start: "Start", stop: "Stop", "force-stop": "Force stop", reboot: "Reboot", suspend: "Suspend", hibernate: "Hibernate" };

const state = {
  vms: new Map(),        // id → Vm
  ops: new Map(),        // vm id → latest operation (in flight, or ended with a message to show)
  accounts: new Map(),   // id → {name, kind, capabilities}
  selected: new Set(),
  shown: [],             // ids after filter + sort
  sort: { key: "name", dir: 1 },
  detailsFor: null,
};

const $ = (sel) => document.querySelector(sel);
const grid = $("#grid");
const rowsEl = $("#grid-rows");
const spacer = $("#grid-spacer");

// ---------- formatting ----------

function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ms).toLocaleString();
}

function elapsed(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else if (k === "title") e.title = v;
    else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function toast(text, kind = "error") {
  const t = el("div", { class: `toast ${kind}` }, text);
  $("#toasts").append(t);
  setTimeout(() => t.remove(), 8000);
}

// ---------- what a row shows ----------

function activeOp(vm) {
  const op = state.ops.get(vm.id);
  return op && !TERMINAL.has(op.phase) ? op : null;
}

/// Waiting while an operation is in flight or the VM is passing through a
/// transitional state; a finished failure stays visible until the next action.
function statusOf(vm) {
  const op = state.ops.get(vm.id);
  if (op && !TERMINAL.has(op.phase)) {
    if (Date.now() > op.deadline_at + 5000) return { kind: "late", text: `No verified state by the ${op.kind} deadline` };
    if (op.kind === "start" && op.wait_for_tools && vm.state === "running") return { kind: "waiting", text: "Powered on; waiting for guest tools…", since: op.requested_at };
    return { kind: "waiting", text: "Waiting for status update…", since: op.requested_at };
  }
  if (TRANSITIONAL.has(vm.state)) return { kind: "waiting", text: "Waiting for status update…", since: vm.last_state_change_at };
  if (op && op.phase === "failed") return { kind: "failed", text: `${ACTION_LABELS[op.kind]} failed: ${op.error || "refused"}` };
  if (op && op.phase === "timed-out") return { kind: "failed", text: `${ACTION_LABELS[op.kind]} timed out: ${op.error || ""}` };
  if (vm.stale) return { kind: "stale", text: `Provider unreachable — last seen ${ago(vm.last_seen_at)}` };
  return { kind: "ok", text: "" };
}

function actionsFor(vm) {
  const caps = state.accounts.get(vm.account_id)?.capabilities;
  if (!caps || activeOp(vm) || TRANSITIONAL.has(vm.state) || vm.state === "missing" || vm.state === "terminated") return [];
  const out = [];
  if (["stopped", "suspended", "deallocated", "paused"].includes(vm.state)) out.push("start");
  if (vm.state === "running") {
    if (caps.graceful_stop || caps.force_stop) out.push("stop");
    if (caps.force_stop) out.push("force-stop");
    if (caps.guest_reboot || caps.reset) out.push("reboot");
    if (caps.suspend) out.push("suspend");
    if (caps.hibernate) out.push("hibernate");
  }
  return out;
}

// ---------- the virtualised grid ----------

function matches(vm, q, st, acc, kind) {
  if (st && vm.state !== st) return false;
  if (acc && String(vm.account_id) !== acc) return false;
  if (kind && state.accounts.get(vm.account_id)?.kind !== kind) return false;
  if (!q) return true;
  return vm.name.toLowerCase().includes(q) || vm.provider_id.toLowerCase().includes(q) || vm.account.toLowerCase().includes(q) || (vm.location || "").toLowerCase().includes(q)
    || Object.values(vm.facts || {}).some((v) => v.toLowerCase().includes(q)); // an IP, a UUID…
}

const FACT_LABELS = {
  instance_uuid: "Instance UUID", guest_os: "Guest OS", ip_address: "IP address", guest_hostname: "Guest host name",
  instance_type: "Instance type", private_ip: "Private IP", public_ip: "Public IP",
};

function recompute() {
  const q = $("#search").value.trim().toLowerCase();
  const st = $("#filter-state").value;
  const acc = $("#filter-account").value;
  const kind = $("#filter-kind").value;
  const { key, dir } = state.sort;
  state.shown = [...state.vms.values()]
    .filter((vm) => matches(vm, q, st, acc, kind))
    .sort((a, b) => {
      const x = a[key], y = b[key];
      return (x < y ? -1 : x > y ? 1 : a.id - b.id) * dir;
    })
    .map((vm) => vm.id);
  spacer.style.height = `${state.shown.length * ROW_HEIGHT}px`;
  render();
  renderSummary();
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); renderSummary(); });
}

/// Rows currently in the DOM, by VM id. A row is rebuilt only when what it
/// shows changed, so a click never lands on an element being replaced.
const rendered = new Map();

function signature(vm, index) {
  const st = statusOf(vm);
  return JSON.stringify([index, vm.name, vm.account, vm.state, vm.raw_state, vm.tools, vm.stale, vm.last_state_change_at,
    st.kind, st.text, st.since, state.selected.has(vm.id), state.detailsFor === vm.id, actionsFor(vm)]);
}

function render() {
  const first = Math.max(0, Math.floor(grid.scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(state.shown.length, Math.ceil((grid.scrollTop + grid.clientHeight) / ROW_HEIGHT) + OVERSCAN);
  const keep = new Set();
  for (let i = first; i < last; i++) {
    const vm = state.vms.get(state.shown[i]);
    if (!vm) continue;
    keep.add(vm.id);
    const sig = signature(vm, i);
    const had = rendered.get(vm.id);
    if (had && had.sig === sig) continue;
    const fresh = rowFor(vm, i);
    if (had) had.el.replaceWith(fresh); else rowsEl.append(fresh);
    rendered.set(vm.id, { el: fresh, sig });
  }
  for (const [id, r] of rendered) {
    if (!keep.has(id)) { r.el.remove(); rendered.delete(id); }
  }
}

/// The once-a-second tick: only the clocks move.
function tick() {
  // Writing an unchanged text still costs a layout and a repaint: skip those.
  const set = (e, text) => { if (e.textContent !== text) e.textContent = text; };
  for (const e of rowsEl.querySelectorAll("[data-since]")) set(e, elapsed(Number(e.dataset.since)));
  for (const e of rowsEl.querySelectorAll("[data-at]")) set(e, ago(Number(e.dataset.at)));
  // A row whose operation ran past its deadline must stop spinning.
  if ([...state.ops.values()].some((o) => !TERMINAL.has(o.phase) && Date.now() > o.deadline_at + 5000)) scheduleRender();
}

function rowFor(vm, index) {
  const status = statusOf(vm);
  const row = el("div", { class: `row${state.selected.has(vm.id) ? " selected" : ""}${state.detailsFor === vm.id ? " focused" : ""}`, "data-vm-id": vm.id, "data-vm-name": vm.name });
  row.style.top = `${index * ROW_HEIGHT}px`;
  const box = el("input", { type: "checkbox", checked: state.selected.has(vm.id), title: "Select" });
  box.addEventListener("click", (e) => { e.stopPropagation(); toggleSelect(vm.id, box.checked); });
  const statusCell = el("span", { class: `c-status status-${status.kind}` });
  if (status.kind === "waiting") statusCell.append(el("span", { class: "spinner" }), `${status.text} `, el("span", { class: "elapsed", "data-since": status.since }, elapsed(status.since)));
  else statusCell.append(status.text);
  const actions = el("span", { class: "c-actions" });
  for (const a of actionsFor(vm)) {
    const b = el("button", { class: `act act-${a}`, "data-action": a, title: ACTION_LABELS[a] }, ACTION_LABELS[a]);
    b.addEventListener("click", (e) => { e.stopPropagation(); requestOps([vm.id], a); });
    actions.append(b);
  }
  row.append(
    el("span", { class: "c-sel" }, box),
    el("span", { class: "c-name", title: vm.provider_id }, vm.name),
    el("span", { class: "c-account" }, `${vm.account} · ${state.accounts.get(vm.account_id)?.kind ?? ""}`),
    el("span", { class: "c-state" }, el("span", { class: `badge state-${vm.state}${vm.stale ? " stale" : ""}` }, vm.stale ? `${vm.state} (stale)` : vm.state)),
    el("span", { class: "c-raw" }, vm.raw_state),
    el("span", { class: "c-tools" }, vm.tools ?? "—"),
    el("span", { class: "c-change", title: new Date(vm.last_state_change_at).toLocaleString(), "data-at": vm.last_state_change_at }, ago(vm.last_state_change_at)),
    statusCell,
    actions,
  );
  row.addEventListener("click", () => openDetails(vm.id));
  return row;
}

function renderSummary() {
  const inFlight = [...state.ops.values()].filter((o) => !TERMINAL.has(o.phase)).length;
  const stale = [...state.vms.values()].filter((v) => v.stale).length;
  let text = `${state.vms.size} VMs`;
  if (state.shown.length !== state.vms.size) text += ` (${state.shown.length} shown)`;
  if (inFlight) text += ` · ${inFlight} in flight`;
  if (stale) text += ` · ${stale} stale`;
  $("#summary").textContent = text;
  const bulk = $("#bulk");
  bulk.hidden = state.selected.size === 0;
  $("#bulk-count").textContent = `${state.selected.size} selected`;
}

function toggleSelect(id, on) {
  if (on) state.selected.add(id); else state.selected.delete(id);
  scheduleRender();
}

// ---------- details panel ----------

async function openDetails(vmId) {
  state.detailsFor = vmId;
  scheduleRender();
  const panel = $("#details");
  panel.hidden = false;
  // The grid makes room beside the panel rather than hiding under it.
  $("#inventory").classList.add("with-details");
  try {
    const d = await invoke("vm_details", { vmId });
    if (state.detailsFor !== vmId) return;
    const vm = d.vm;
    const close = el("button", { class: "quiet close", title: "Close" }, "×");
    close.addEventListener("click", () => { state.detailsFor = null; panel.hidden = true; $("#inventory").classList.remove("with-details"); scheduleRender(); });
    const ops = el("ol", { class: "ops" }, ...d.operations.map((o) => el("li", { class: `op phase-${o.phase}` },
      el("strong", {}, `${ACTION_LABELS[o.kind]} — ${o.phase}`),
      ` ${o.previous_state ?? "?"} → ${o.new_state ?? "…"}`,
      o.shutdown_method ? ` · ${o.shutdown_method}` : "",
      o.finished_at ? ` · ${((o.finished_at - o.requested_at) / 1000).toFixed(1)} s` : "",
      o.job_id ? ` · job ${o.job_id}` : "",
      o.error ? el("div", { class: "error" }, o.error) : null,
      el("div", { class: "when" }, new Date(o.requested_at).toLocaleString()))));
    const history = el("ol", { class: "history" }, ...d.history.map((h) => el("li", { "data-to": h.to_state },
      el("span", { class: "when" }, new Date(h.at).toLocaleTimeString()),
      ` ${h.from_state ?? "—"} → `, el("strong", {}, h.to_state),
      ` (${h.raw_state}) `, el("span", { class: `source source-${h.source}` }, h.source))));
    const star = el("button", { class: `quiet star${vm.watched ? " on" : ""}`, title: vm.watched ? "Favourite: polled every 30 s, quick actions in the tray. Click to remove." : "Add to favourites (tray quick actions, polled every 30 s)" }, vm.watched ? "★ Favourite" : "☆ Add to favourites");
    star.addEventListener("click", async () => {
      try {
        const on = await invoke("set_favourite", { vmId: vm.id, on: !vm.watched });
        const cur = state.vms.get(vm.id);
        if (cur) cur.watched = on;
        openDetails(vm.id);
      } catch (e) { toast(String(e)); }
    });
    panel.replaceChildren(
      close,
      el("h2", {}, vm.name),
      star,
      el("dl", {},
        el("dt", {}, "State"), el("dd", {}, el("span", { class: `badge state-${vm.state}` }, vm.state), ` raw: ${vm.raw_state}`),
        el("dt", {}, "Provider id"), el("dd", {}, vm.provider_id),
        el("dt", {}, "Account"), el("dd", {}, vm.account),
        el("dt", {}, "Location"), el("dd", {}, vm.location ?? "—"),
        ...Object.entries(vm.facts || {}).flatMap(([k, v]) => [el("dt", {}, FACT_LABELS[k] ?? k), el("dd", {}, v)]),
        el("dt", {}, "Guest tools"), el("dd", {}, vm.tools ?? "not reported"),
        el("dt", {}, "Last seen"), el("dd", {}, `${ago(vm.last_seen_at)}${vm.stale ? " (provider unreachable)" : ""}`)),
      el("h3", {}, "Operations"), d.operations.length ? ops : el("p", { class: "quiet" }, "None yet."),
      el("h3", {}, "History"), history);
  } catch (e) {
    panel.replaceChildren(el("p", { class: "error" }, String(e)));
  }
}

// ---------- operations ----------

/// Ask before acting. Only a click on (or Enter on a focused) confirm button
/// says yes; every other way out (Escape, Cancel, a click outside) says no.
/// The dialog's `returnValue` is never consulted: it survives from one
/// showing to the next, so a stale "ok" once turned an Escape into a reboot.
function confirmDialog(text, offerForce) {
  const dlg = $("#confirm");
  const ok = $("#confirm-ok");
  const cancel = $("#confirm-cancel");
  $("#confirm-text").textContent = text;
  $("#confirm-force-label").hidden = !offerForce;
  $("#confirm-force").checked = false;
  return new Promise((resolve) => {
    let confirmed = false;
    const onOk = () => { confirmed = true; dlg.close(); };
    const onCancel = () => dlg.close();
    // The dialog's own box covers its content; a click landing on the dialog
    // element outside that box is a click on the backdrop.
    const onBackdrop = (e) => {
      if (e.target !== dlg) return;
      const r = dlg.getBoundingClientRect();
      if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) dlg.close();
    };
    ok.addEventListener("click", onOk);
    cancel.addEventListener("click", onCancel);
    dlg.addEventListener("click", onBackdrop);
    dlg.addEventListener("close", () => {
      ok.removeEventListener("click", onOk);
      cancel.removeEventListener("click", onCancel);
      dlg.removeEventListener("click", onBackdrop);
      resolve(confirmed ? { force: $("#confirm-force").checked } : null);
    }, { once: true });
    dlg.returnValue = "";
    dlg.showModal();
    // Destructive: the safe answer has the focus, so a reflexive Enter cancels.
    cancel.focus();
  });
}

async function requestOps(ids, kind) {
  let force = kind === "force-stop";
  if (DESTRUCTIVE.has(kind) || ids.length > 1) {
    const names = ids.slice(0, 5).map((id) => state.vms.get(id)?.name).join(", ");
    const more = ids.length > 5 ? ` and ${ids.length - 5} more` : "";
    const answer = await confirmDialog(`${ACTION_LABELS[kind]} ${names}${more}?`, kind === "stop" || kind === "reboot");
    if (!answer) return;
    force = force || answer.force;
  }
  try {
    const results = await invoke("request_operation", { vmIds: ids, kind, force });
    for (const r of results) {
      if (r.operation) state.ops.set(r.vm_id, r.operation);
      if (r.error) toast(`${state.vms.get(r.vm_id)?.name ?? r.vm_id}: ${r.error}`);
    }
  } catch (e) {
    toast(String(e));
  }
  scheduleRender();
}

// ---------- events from the engine ----------

function applyEvents(events) {
  let structural = false;
  for (const ev of events) {
    switch (ev.type) {
      case "vms-changed":
        for (const c of ev.changes) {
          if (!state.vms.has(c.vm.id)) structural = true;
          state.vms.set(c.vm.id, c.vm);
        }
        break;
      case "vms-stale":
        for (const vm of state.vms.values()) if (vm.account_id === ev.account_id && vm.state !== "missing") vm.stale = true;
        break;
      case "operation": {
        const prev = state.ops.get(ev.op.vm_id);
        if (!prev || prev.id <= ev.op.id) state.ops.set(ev.op.vm_id, ev.op);
        break;
      }
      case "account-error":
        toast(`${ev.account}: ${ev.message}`);
        break;
    }
  }
  if (structural || $("#filter-state").value || $("#search").value || $("#filter-kind").value || $("#filter-account").value) recompute(); else scheduleRender();
  if (state.detailsFor !== null && events.some((e) => (e.type === "vms-changed" && e.changes.some((c) => c.vm.id === state.detailsFor)) || (e.type === "operation" && e.op.vm_id === state.detailsFor))) {
    openDetails(state.detailsFor);
  }
  if (!$("#activity").hidden) renderActivity();
}

async function load() {
  const inv = await invoke("list_vms");
  state.vms = new Map(inv.vms.map((v) => [v.id, v]));
  state.accounts = new Map(inv.accounts.map((a) => [a.id, a]));
  for (const op of inv.operations) state.ops.set(op.vm_id, op);
  const states = [...new Set(inv.vms.map((v) => v.state))].sort();
  $("#filter-state").replaceChildren(el("option", { value: "" }, "All states"), ...states.map((s) => el("option", { value: s }, s)));
  $("#filter-account").replaceChildren(el("option", { value: "" }, "All accounts"), ...inv.accounts.map((a) => el("option", { value: String(a.id) }, `${a.name} (${a.kind})`)));
  const kinds = [...new Set(inv.accounts.map((a) => a.kind))].sort();
  $("#filter-kind").replaceChildren(el("option", { value: "" }, "All providers"), ...kinds.map((k) => el("option", { value: k }, k)));
  recompute();
}

async function renderActivity() {
  try {
    const activity = await invoke("recent_activity");
    $("#activity-ops").replaceChildren(...activity.operations.map((o) => el("li", { class: `phase-${o.phase}` },
      el("span", { class: "when" }, new Date(o.requested_at).toLocaleTimeString()),
      ` ${ACTION_LABELS[o.kind]} ${o.vm_name} (${o.account}): `, el("strong", {}, o.phase),
      o.error ? ` — ${o.error}` : "")));
    $("#activity-drift").replaceChildren(...activity.drift.map((d) => el("li", {},
      el("span", { class: "when" }, new Date(d.entry.at).toLocaleString()), ` ${d.vm} (${d.account}): ${d.entry.from_state ?? "?"} → ${d.entry.to_state} (${d.entry.raw_state}, seen by ${d.entry.source})`)));
  } catch (e) {
    toast(String(e));
  }
}

// ---------- wiring ----------

grid.addEventListener("scroll", () => scheduleRender(), { passive: true });
window.addEventListener("resize", () => scheduleRender());
for (const id of ["#search", "#filter-state", "#filter-account", "#filter-kind"]) {
  $(id).addEventListener("input", recompute);
  $(id).addEventListener("change", recompute);
}
for (const h of document.querySelectorAll(".sortable")) {
  h.addEventListener("click", () => {
    const key = h.dataset.sort;
    state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 };
    recompute();
  });
}
$("#select-all").addEventListener("change", (e) => {
  state.selected = e.target.checked ? new Set(state.shown) : new Set();
  scheduleRender();
});
$("#bulk-clear").addEventListener("click", () => { state.selected.clear(); $("#select-all").checked = false; scheduleRender(); });
for (const b of document.querySelectorAll("[data-bulk]")) b.addEventListener("click", () => requestOps([...state.selected], b.dataset.bulk));
$("#refresh-all").addEventListener("click", async () => {
  try { await invoke("sync_all"); } catch (e) { toast(String(e)); }
});
for (const t of document.querySelectorAll(".tab")) {
  t.addEventListener("click", () => {
    for (const x of document.querySelectorAll(".tab")) x.classList.toggle("active", x === t);
    for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== t.dataset.view;
    if (t.dataset.view === "activity") renderActivity();
    if (t.dataset.view === "accounts") renderAccounts();
    if (t.dataset.view === "settings") renderSettings();
  });
}
// ---------- accounts ----------

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

async function renderAccounts() {
  const body = $("#accounts-table tbody");
  try {
    const accounts = await invoke("list_accounts");
    body.replaceChildren(...accounts.map((a) => {
      const test = el("button", {}, "Test");
      test.addEventListener("click", async () => {
        $("#accounts-result").textContent = `Testing ${a.name}…`;
        try { $("#accounts-result").textContent = `${a.name}: ${await invoke("test_account", { name: a.name })}`; }
        catch (e) { $("#accounts-result").textContent = `${a.name}: ${e}`; }
      });
      const remove = el("button", { class: "act-force-stop" }, "Remove");
      remove.addEventListener("click", async () => {
        const ok = await confirmDialog(`Remove the account ${a.name} and its local inventory? Nothing changes at the provider.`, false);
        if (!ok) return;
        try { $("#accounts-result").textContent = await invoke("remove_account", { name: a.name }); await load(); renderAccounts(); }
        catch (e) { $("#accounts-result").textContent = String(e); }
      });
      const cells = [test, " "];
      if (a.kind === "ec2" || a.kind === "vsphere") {
        const editBtn = el("button", {}, "Edit");
        editBtn.addEventListener("click", () => startEdit(a.name, a.kind));
        cells.push(editBtn, " ");
      }
      cells.push(remove);
      return el("tr", { "data-account": a.name }, el("td", {}, a.is_demo ? `${a.name} (demo)` : a.name), el("td", {}, a.kind), el("td", {}, capsText(a.capabilities)), el("td", {}, ...cells));
    }));
  } catch (e) {
    $("#accounts-result").textContent = String(e);
  }
}

const form = $("#account-form");
let editing = null; // the account name while the form edits an existing account

const SECRET_FIELDS = ["secret", "secret_env", "vs_password", "vs_password_env"];

/// Load an account's settings into the form; saving updates it in place (a
/// renewed vSphere certificate is accepted again this way).
async function startEdit(name, kind) {
  try {
    const cfg = await invoke("account_config", { name });
    editing = name;
    form.account_name.value = name;
    form.account_name.readOnly = true;
    form.kind.value = kind;
    form.kind.disabled = true;
    form.kind.dispatchEvent(new Event("change"));
    if (kind === "ec2") {
      form.regions.value = (cfg.regions || []).join(", ");
      form.endpoint.value = cfg.endpoint || "";
      form.access_key_id.value = cfg.access_key_id || "";
      form.profile.value = cfg.profile || "";
    } else {
      form.vs_endpoint.value = cfg.endpoint || "";
      form.vs_username.value = cfg.username || "";
      form.vs_thumbprint.value = cfg.thumbprint || "";
    }
    for (const f of SECRET_FIELDS) {
      form[f].disabled = true;
      form[f].placeholder = "unchanged (remove and add the account to change it)";
    }
    form.querySelector('button[type="submit"]').textContent = `Save ${name}`;
  } catch (e) {
    $("#accounts-result").textContent = String(e);
  }
}

function endEdit() {
  editing = null;
  form.reset();
  form.account_name.readOnly = false;
  form.kind.disabled = false;
  for (const f of SECRET_FIELDS) {
    form[f].disabled = false;
    form[f].placeholder = "";
  }
  form.secret.placeholder = form.vs_password.placeholder = "stored in the OS keychain";
  certPrompt.hidden = true;
  form.querySelector('button[type="submit"]').textContent = "Add account";
  form.kind.dispatchEvent(new Event("change"));
}
form.kind.addEventListener("change", () => {
  for (const f of form.querySelectorAll("fieldset")) f.hidden = f.dataset.kind !== form.kind.value;
});
// Trust on first use: before a vSphere account is saved, look at the host's
// certificate; if this computer does not trust it, show its thumbprint and
// let the admin accept exactly that certificate.
const certPrompt = $("#cert-prompt");
let presented = null;
$("#cert-trust").addEventListener("click", () => {
  form.vs_thumbprint.value = presented;
  certPrompt.hidden = true;
  form.requestSubmit();
});
$("#cert-cancel").addEventListener("click", () => { certPrompt.hidden = true; });

/// Whether the add or save may go on (shows the certificate prompt if not),
/// and a warning to keep beside the outcome.
async function certificateAccepted() {
  const endpoint = form.vs_endpoint.value.trim();
  let check;
  try {
    check = await invoke("check_certificate", { endpoint });
  } catch (err) {
    $("#accounts-result").textContent = `Cannot reach ${endpoint}: ${err}`;
    return { ok: false };
  }
  const pinned = form.vs_thumbprint.value.trim().toUpperCase().replace(/[^0-9A-F]/g, "");
  if (check.trust === "untrusted" && pinned !== check.thumbprint.replace(/:/g, "")) {
    presented = check.thumbprint;
    $("#cert-thumbprint").textContent = check.thumbprint;
    $("#cert-reason").textContent = pinned ? "It is not the certificate pinned for this account: the host's certificate changed." : "";
    certPrompt.hidden = false;
    $("#accounts-result").textContent = "Check the host's certificate before going on.";
    return { ok: false };
  }
  const warning = check.trust === "not-tls" ? " Warning: plain HTTP, so the password crosses the network unencrypted." : "";
  return { ok: true, warning };
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const kind = form.kind.value;
  let warning = "";
  if (kind === "vsphere") {
    const cert = await certificateAccepted();
    if (!cert.ok) return;
    warning = cert.warning;
  }
  let config;
  if (kind === "ec2") {
    config = { regions: form.regions.value.split(",").map((r) => r.trim()).filter(Boolean) };
    if (form.endpoint.value.trim()) config.endpoint = form.endpoint.value.trim();
    if (form.access_key_id.value.trim()) config.access_key_id = form.access_key_id.value.trim();
    if (form.profile.value.trim()) config.profile = form.profile.value.trim();
  } else if (kind === "vsphere") {
    config = { endpoint: form.vs_endpoint.value.trim(), username: form.vs_username.value.trim() };
    if (form.vs_thumbprint.value.trim()) config.thumbprint = form.vs_thumbprint.value.trim();
  } else {
    config = { size: Number(form.size.value), seed: Number(form.seed.value) };
  }
  if (editing) {
    try {
      $("#accounts-result").textContent = (await invoke("update_account", { name: editing, config })) + warning;
      endEdit();
      await load();
      renderAccounts();
    } catch (err) {
      $("#accounts-result").textContent = String(err);
    }
    return;
  }
  const secret = kind === "ec2" ? form.secret.value : kind === "vsphere" ? form.vs_password.value : null;
  const secretEnv = kind === "ec2" ? form.secret_env.value : kind === "vsphere" ? form.vs_password_env.value : null;
  // Never kept in the page longer than the call.
  form.secret.value = "";
  form.vs_password.value = "";
  try {
    const a = await invoke("add_account", { name: form.account_name.value, kind, config, secret: secret || null, secretEnv: secretEnv || null });
    $("#accounts-result").textContent = `Added ${a.name}. Its inventory is on the way.${warning}`;
    form.reset();
    await load();
    renderAccounts();
  } catch (err) {
    $("#accounts-result").textContent = String(err);
  }
});

// ---------- settings ----------

const TIERS = ["inflight_interval_ms", "transitional_interval_ms", "watched_interval_ms", "full_interval_ms"];
let loadedSettings = null;

async function renderSettings() {
  try {
    loadedSettings = await invoke("get_settings");
    const f = $("#settings-form");
    for (const k of ["operation_done", "operation_failed", "drift"]) f[k].checked = loadedSettings.notifications[k];
    f.start_waits_for_tools.checked = loadedSettings.operations.start_waits_for_tools;
    f.sync_paused.checked = loadedSettings.sync_paused;
    for (const k of TIERS) f[k].value = loadedSettings.engine[k] / 1000;
  } catch (e) {
    $("#settings-result").textContent = String(e);
  }
}

$("#settings-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  const engine = { ...loadedSettings.engine };
  for (const k of TIERS) engine[k] = Math.round(Number(f[k].value) * 1000);
  const notifications = { operation_done: f.operation_done.checked, operation_failed: f.operation_failed.checked, drift: f.drift.checked };
  try {
    const operations = { start_waits_for_tools: f.start_waits_for_tools.checked };
    await invoke("save_settings", { settings: { engine, notifications, operations, sync_paused: f.sync_paused.checked } });
    await invoke("set_sync_paused", { paused: f.sync_paused.checked });
    $("#settings-result").textContent = "Saved.";
  } catch (err) {
    $("#settings-result").textContent = String(err);
  }
});

// Elapsed times and "… ago" move on by themselves.
setInterval(tick, 1000);

/// Timings the benchmarks read (tests/e2e/bench_app.py); cheap to keep.
const perf = { firstPaintMs: null, lastApply: null };
window.__powerdeckPerf = perf;

await listen("powerdeck://events", (e) => {
  const t = performance.now();
  applyEvents(e.payload);
  const changes = e.payload.reduce((n, ev) => n + (ev.changes?.length ?? 0), 0);
  // Until the frame that shows it (the render is scheduled for that frame).
  requestAnimationFrame(() => requestAnimationFrame(() => { perf.lastApply = { events: e.payload.length, changes, ms: performance.now() - t }; }));
});
await listen("powerdeck://resync", () => load());
await load();
// The first frame with rows in it.
requestAnimationFrame(() => { perf.firstPaintMs = performance.now(); document.body.dataset.ready = "true"; });
