// The inventory arrives in columns (src-tauri/src/inventory.rs): the
// strings many VMs share are sent once, and each VM is a position in every
// column. The window keeps it that way (`fleet.js`).

/** @typedef {import("./types").Inventory} Inventory */
/** @typedef {import("./types").InventoryWire} InventoryWire */

import { Fleet } from "./fleet.js";

/** @param {InventoryWire} wire @returns {Inventory} */
export function decodeInventory(wire) {
  const accountNames = new Map(wire.accounts.map((a) => [a.id, a.name]));
  return { vms: Fleet.fromColumns(wire.vms, accountNames), operations: wire.operations, accounts: wire.accounts };
}
