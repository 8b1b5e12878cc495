// Small inventories for the state tests, shaped like what the shell sends.
// The vocabulary and the demo account's offers are the backend's own, as
// served (tests/ui/vocabulary.json is checked against the core by
// `cargo test -p powerdeck-core vocabulary`).

import { readFileSync } from "node:fs";
import { Fleet } from "../../ui/fleet.js";
import { useVocabulary } from "../../ui/vocabulary.js";

const served = JSON.parse(readFileSync(new URL("./vocabulary.json", import.meta.url), "utf8"));
useVocabulary(served.vocabulary);

/** The offers the backend serves for an account with SIM_CAPS. @type {import("../../ui/types").AccountOffers} */
export const SIM_OFFERS = served.sim_offers;
/** …and for an account that can deallocate but not suspend or reset (Azure). @type {import("../../ui/types").AccountOffers} */
export const AZURE_OFFERS = served.azure_offers;

/** @typedef {import("../../ui/types").Vm} Vm */
/** @typedef {import("../../ui/types").Operation} Operation */
/** @typedef {import("../../ui/types").Capabilities} Capabilities */

/** @type {Capabilities} */
export const SIM_CAPS = {
  graceful_stop: true, force_stop: true, guest_reboot: true, reset: true, suspend: true, hibernate: false,
  deallocate: false, tools_status: true, change_feed: true, reboot_visible: true, max_refresh_batch: 500,
};

/** @type {import("../../ui/types").Health} */
export const OK = { status: "ok", since: 0, last_error: null, last_error_at: null };

/** @param {number} id @param {string} name @param {Partial<Vm>} [more] @returns {Vm} */
export function vm(id, name, more = {}) {
  return {
    id, account_id: 1, account: "demo", provider_id: `vm-${id}`, name, state: "running", raw_state: "RUNNING", tools: "running",
    location: "eu-west-1", facts: {}, stale: false, watched: false, last_seen_at: 1000, last_state_change_at: 1000 + id, ...more,
  };
}

/** @param {number} id @param {number} vmId @param {Partial<Operation>} [more] @returns {Operation} */
export function op(id, vmId, more = {}) {
  return {
    id, vm_id: vmId, vm_name: `vm-${vmId}`, account: "demo", kind: "stop", phase: "tracking", allow_force: false,
    graceful_timeout_ms: 120000, timeout_ms: 180000, requested_at: 5000, deadline_at: 185000, forced_at: null, finished_at: null,
    previous_state: "running", new_state: null, shutdown_method: null, job_id: null, error: null, wait_for_tools: false, ...more,
  };
}

/** @param {Vm[]} vms @param {Operation[]} [operations] */
export function inventory(vms, operations = []) {
  return { vms: Fleet.of(vms), operations, accounts: [{ id: 1, name: "demo", kind: "sim", is_demo: true, capabilities: SIM_CAPS, offers: SIM_OFFERS, health: OK, last_contact_at: 1000 }] };
}

/** A "vms-changed" event for these VMs. @param {Vm[]} vms @param {boolean} [drift] */
export function changed(vms, drift = false) {
  return /** @type {const} */ ({ type: "vms-changed", source: "feed", changes: vms.map((v) => ({ vm: v, from: null, drift, operation_id: null })) });
}
