// The details panel: one VM's state and what its provider says about it,
// its actions, copy buttons for its ids and addresses, its operations and
// its history. The live parts (state, status, actions) come from the
// window's state; the history is asked for when the VM changes.

import { $, copyText, el, setText, toast } from "../dom.js";
import { ago, clock, duration, timestamp } from "../format.js";
import { ACTION_LABELS, actionsFor, clockChangesIn, inFlightControls, opProgress, retryWithForce, stateText, statusOf, withoutName } from "../state.js";
import { HARD } from "../vocabulary.js";
import { ipc } from "../ipc.js";

/** @typedef {import("../context.js").App} App */
/** @typedef {import("../types").Vm} Vm */
/** @typedef {import("../types").VmDetails} VmDetails */

const FACT_LABELS = /** @type {Record<string, string>} */ ({
  instance_uuid: "Instance UUID", guest_os: "Guest OS", ip_address: "IP address", guest_hostname: "Guest host name",
  instance_type: "Instance type", private_ip: "Private IP", public_ip: "Public IP", host: "Host",
});
/** Facts worth a copy button: ids and addresses. */
const COPYABLE = /(uuid|_ip$|^ip_|address|id$)/;
/** A VM that keeps changing is asked about at most this often. */
const REFRESH_MS = 300;

/** @param {App} app */
export function initDetails(app) {
  const s = app.s;
  const panel = $("#details");
  /** @type {number | null} */
  let vmId = null;
  /** @type {VmDetails | null} */
  let fetched = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let pending = null;
  let actionsKey = "";
  let controlsKey = "";

  /** @param {string} label @param {string} value */
  const copyButton = (label, value) => el("button", {
    class: "copy", "aria-label": `Copy ${label}`, title: `Copy ${label}`,
    onclick: async () => {
      try {
        await copyText(value);
        toast(`Copied ${label}: ${value}`, "info");
      } catch (e) {
        toast(`Could not copy: ${e}`);
      }
    },
  }, "Copy");

  /** @param {string} label @param {Node | string} value @param {string | null} [copy] */
  const fact = (label, value, copy = null) => [el("dt", {}, label), el("dd", {}, el("span", { class: "value" }, value), copy ? copyButton(label, copy) : null)];

  function renderLive() {
    const vm = vmId === null ? undefined : s.vms.get(vmId);
    if (!vm) return;
    const now = Date.now();
    const st = statusOf(s, vm, now);
    const status = $("#details-status", panel);
    status.className = `details-status status-${st.kind}`;
    const text = st.since !== undefined ? `${st.text} ${clock(st.since, now)}` : st.seenAt !== undefined ? `${st.text} ${ago(st.seenAt, now)}` : st.text;
    setText(status, text);
    status.hidden = st.kind === "ok";
    const op = s.inFlight.get(vm.id);
    const progress = op ? opProgress(op, now) : null;
    const progressLine = $("#details-progress", panel);
    setText(progressLine, progress?.text ?? "");
    progressLine.hidden = !progress;
    renderControls(vm);
    const badge = $("#details-badge", panel);
    badge.className = `badge state-${vm.state}${vm.stale ? " stale" : ""}`;
    setText(badge, stateText(vm));
    setText($("#details-raw", panel), `provider: ${vm.raw_state}`);
    const actions = actionsFor(s, vm);
    const controls = inFlightControls(s, vm);
    const controlled = !!(controls && (controls.force || controls.cancel));
    const key = `${actions.join(",")}:${controlled}`;
    if (key !== actionsKey) {
      actionsKey = key;
      const bar = $("#details-actions", panel);
      const focused = document.activeElement instanceof HTMLElement && bar.contains(document.activeElement) ? document.activeElement.dataset.action : null;
      bar.replaceChildren(...(actions.length ? actions.map((a) => el("button", {
        class: HARD.has(a) ? "danger-outline" : a === "start" ? "primary" : "", "data-action": a,
        onclick: () => app.act([vm.id], a),
      }, ACTION_LABELS[a])) : [el("span", { class: "muted" }, s.inFlight.has(vm.id) ? (controlled ? "" : "An operation is in flight.") : "No action available now.")]));
      const again = focused ? bar.querySelector(`[data-action="${focused}"]`) : null;
      if (again instanceof HTMLElement) again.focus();
      else if (focused) /** @type {HTMLElement} */ ($(".close", panel)).focus();
    }
    setText($("#details-seen", panel), `${ago(vm.last_seen_at, now)}${vm.stale ? " (provider unreachable)" : ""}`);
    setText($("#details-change", panel), `${ago(vm.last_state_change_at, now)} · ${timestamp(vm.last_state_change_at)}`);
  }

  /** Force now / Cancel for the operation in flight, Retry with force after a graceful failure. @param {Vm} vm */
  function renderControls(vm) {
    const c = inFlightControls(s, vm);
    const retry = retryWithForce(s, vm);
    const key = c ? `op${c.op.id}:${c.force}:${c.cancel}` : retry ? `retry:${retry}:${s.ops.get(vm.id)?.id}` : "";
    if (key === controlsKey) return;
    controlsKey = key;
    const bar = $("#details-controls", panel);
    const focused = document.activeElement instanceof HTMLElement && bar.contains(document.activeElement) ? document.activeElement.id : null;
    /** @type {HTMLElement[]} */
    const buttons = [];
    if (c?.force) buttons.push(el("button", { id: "details-force", class: "danger-outline", onclick: () => app.forceOp(vm.id) }, "Force now"));
    if (c?.cancel) buttons.push(el("button", { id: "details-cancel-op", onclick: () => app.cancelOp(vm.id) }, "Cancel operation"));
    if (!c && retry) buttons.push(el("button", { id: "details-retry-force", class: "danger-outline", onclick: () => app.retryForce(vm.id) }, `Retry ${ACTION_LABELS[retry].toLowerCase()} with force`));
    bar.replaceChildren(...buttons);
    bar.hidden = buttons.length === 0;
    const again = focused ? bar.querySelector(`#${focused}`) : null;
    if (again instanceof HTMLElement) again.focus();
    else if (focused) /** @type {HTMLElement} */ ($(".close", panel)).focus();
  }

  /** The full panel, once per VM and again when its history may have grown. */
  function renderAll() {
    const vm = vmId === null ? undefined : s.vms.get(vmId);
    if (!vm) {
      panel.replaceChildren(el("p", { class: "error" }, "This VM is no longer listed."));
      return;
    }
    const d = fetched;
    const focusedKey = document.activeElement instanceof HTMLElement && panel.contains(document.activeElement) ? focusKey(document.activeElement) : null;
    const star = el("button", {
      class: `quiet star${vm.watched ? " on" : ""}`, "aria-pressed": String(vm.watched),
      title: vm.watched ? "Favourite: polled every 30 s, quick actions in the tray. Click to remove." : "Add to favourites (tray quick actions, polled every 30 s)",
      onclick: async () => {
        try {
          const on = await ipc.setFavourite(vm.id, !vm.watched);
          const cur = s.vms.get(vm.id);
          if (cur) s.vms.set(vm.id, { ...cur, watched: on });
          renderAll();
        } catch (e) { toast(String(e)); }
      },
    }, vm.watched ? "★ Favourite" : "☆ Add to favourites");
    const facts = Object.entries(vm.facts).flatMap(([k, v]) => (v === undefined ? [] : fact(FACT_LABELS[k] ?? k, v, COPYABLE.test(k) ? v : null)));
    const ops = d && d.operations.length
      ? el("ol", { class: "ops" }, ...d.operations.map((o) => el("li", { class: `op phase-${o.phase}` },
        el("strong", {}, `${ACTION_LABELS[o.kind]} — ${o.phase}`),
        ` ${o.previous_state ?? "?"} → ${o.new_state ?? "…"}`,
        o.shutdown_method ? ` · ${o.shutdown_method}` : "",
        o.finished_at ? ` · ${duration(o.finished_at - o.requested_at)}` : "",
        o.job_id ? ` · job ${o.job_id}` : "",
        o.error ? el("div", { class: "error" }, withoutName(vm.name, o.error)) : null,
        el("div", { class: "when" }, timestamp(o.requested_at)))))
      : el("p", { class: "muted" }, d ? "None yet." : "Loading…");
    const history = d
      ? el("ol", { class: "history" }, ...d.history.map((h) => el("li", { "data-to": h.to_state },
        el("span", { class: "when" }, timestamp(h.at)),
        ` ${h.from_state ?? "—"} → `, el("strong", {}, h.to_state),
        ` (${h.raw_state}) `, el("span", { class: `source source-${h.source}` }, h.source))))
      : el("p", { class: "muted" }, "Loading…");
    panel.replaceChildren(
      el("div", { class: "details-head" },
        el("h2", { id: "details-title" }, vm.name),
        el("button", { class: "quiet close", "aria-label": "Close details", title: "Close details (Escape)", onclick: () => app.closeDetails() }, "×")),
      el("div", { class: "details-state" }, el("span", { id: "details-badge", class: "badge" }), " ", el("span", { id: "details-raw", class: "muted" })),
      el("p", { id: "details-status", class: "details-status", role: "status" }),
      el("p", { id: "details-progress", class: "details-progress", hidden: true }),
      el("div", { id: "details-controls", class: "details-actions", role: "group", "aria-label": "The operation in flight", hidden: true }),
      el("div", { id: "details-actions", class: "details-actions", role: "group", "aria-label": "Actions" }),
      star,
      el("dl", {},
        ...fact("Provider id", vm.provider_id, vm.provider_id),
        ...fact("Powerdeck id", String(vm.id), String(vm.id)),
        ...fact("Account", vm.account),
        ...fact("Location", vm.location ?? "—"),
        ...facts,
        ...fact("Guest tools", vm.tools ?? "not reported"),
        ...fact("Last seen", el("span", { id: "details-seen" })),
        ...fact("Last change", el("span", { id: "details-change" }))),
      el("h3", {}, "Operations"), ops,
      el("h3", {}, "History"), history,
    );
    actionsKey = "\u0000";
    controlsKey = "\u0000";
    renderLive();
    if (focusedKey) {
      const again = [...panel.querySelectorAll("button")].find((b) => focusKey(b) === focusedKey);
      if (again) again.focus();
    }
  }

  /** @param {HTMLElement} e */
  const focusKey = (e) => e.getAttribute("aria-label") ?? e.dataset.action ?? e.textContent ?? "";

  async function fetchDetails() {
    pending = null;
    const id = vmId;
    if (id === null) return;
    try {
      const d = await ipc.vmDetails(id);
      if (vmId !== id) return;
      fetched = d;
      const cur = s.vms.get(id);
      // The store may know more than the last event (facts, the star).
      if (cur && cur.last_seen_at <= d.vm.last_seen_at) s.vms.set(id, { ...cur, facts: d.vm.facts, watched: d.vm.watched });
      renderAll();
    } catch (e) {
      if (vmId === id) panel.replaceChildren(el("p", { class: "error" }, String(e)));
    }
  }

  return {
    /** @param {number} id */
    open(id) {
      const same = vmId === id;
      vmId = id;
      panel.hidden = false;
      panel.setAttribute("aria-labelledby", "details-title");
      if (!same) {
        fetched = null;
        renderAll();
      }
      fetchDetails();
    },
    close() {
      vmId = null;
      fetched = null;
      panel.hidden = true;
      panel.replaceChildren();
    },
    vmId: () => vmId,
    /** The engine said something about these VMs. @param {Set<number>} changed */
    changed(changed) {
      if (vmId === null || !changed.has(vmId)) return;
      renderLive();
      if (pending === null) pending = setTimeout(fetchDetails, REFRESH_MS);
    },
    /** Returns the ms until the panel next reads differently with time alone. */
    tick() {
      const vm = vmId === null ? undefined : s.vms.get(vmId);
      if (!vm) return Infinity;
      renderLive();
      return clockChangesIn(s, vm, Date.now(), true);
    },
    /** Focus the first action, else the close button. */
    focus() {
      const first = panel.querySelector("#details-actions button") ?? panel.querySelector(".close");
      if (first instanceof HTMLElement) first.focus();
    },
  };
}
