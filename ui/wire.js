// The inventory arrives in columns (src-tauri/src/inventory.rs): the
// strings many VMs share are sent once, and each VM is a position in every
// column. The rest of the window works with one object per VM.

/** @typedef {import("./types").Inventory} Inventory */
/** @typedef {import("./types").InventoryWire} InventoryWire */
/** @typedef {import("./types").Vm} Vm */

/** One shared object for VMs without facts (most of a big fleet). */
const NO_FACTS = Object.freeze({});

/**
 * The inventory arrives in columns (src-tauri/src/inventory.rs); the rest
 * of the window works with one object per VM.
 * @param {InventoryWire} wire @returns {Inventory}
 */
export function decodeInventory(wire) {
  const c = wire.vms;
  const w = c.words;
  const accountNames = new Map(wire.accounts.map((a) => [a.id, a.name]));
  const n = c.id.length;
  /** @type {Vm[]} */
  const vms = new Array(n);
  for (let i = 0; i < n; i++) {
    const tools = c.tools[i], location = c.location[i], flags = c.flags[i];
    vms[i] = {
      id: c.id[i],
      account_id: c.account_id[i],
      account: accountNames.get(c.account_id[i]) ?? "",
      provider_id: c.provider_id[i],
      name: c.name[i],
      state: /** @type {Vm["state"]} */ (w[c.state[i]]),
      raw_state: w[c.raw_state[i]],
      tools: tools < 0 ? null : /** @type {Vm["tools"]} */ (w[tools]),
      location: location < 0 ? null : w[location],
      facts: NO_FACTS,
      stale: (flags & 1) !== 0,
      watched: (flags & 2) !== 0,
      last_seen_at: c.last_seen_at[i],
      last_state_change_at: c.last_state_change_at[i],
    };
  }
  for (const [i, facts] of c.facts) vms[i].facts = facts;
  return { vms, operations: wire.operations, accounts: wire.accounts };
}
