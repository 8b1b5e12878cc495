import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeInventory } from "../../ui/wire.js";

test("the inventory's columns read back as one VM each, every field intact", () => {
  const inv = decodeInventory({
    vms: {
      words: ["running", "RUNNING", "eu-west-1", "stopped", "STOPPED"],
      id: [1, 2], account_id: [7, 7], name: ["a", "b"], provider_id: ["vm-1", "vm-2"], state: [0, 3], raw_state: [1, 4], tools: [0, -1], location: [2, -1],
      flags: [1, 2], last_seen_at: [10, 20], last_state_change_at: [11, 21], facts: [[1, { ip_address: "10.0.0.2" }]],
    },
    operations: [],
    accounts: [{ id: 7, name: "demo", kind: "sim", is_demo: true, capabilities: null }],
  });
  assert.deepEqual(inv.vms.get(1), { id: 1, account_id: 7, account: "demo", provider_id: "vm-1", name: "a", state: "running", raw_state: "RUNNING", tools: "running", location: "eu-west-1", facts: {}, stale: true, watched: false, last_seen_at: 10, last_state_change_at: 11 });
  assert.deepEqual(inv.vms.get(2), { id: 2, account_id: 7, account: "demo", provider_id: "vm-2", name: "b", state: "stopped", raw_state: "STOPPED", tools: null, location: null, facts: { ip_address: "10.0.0.2" }, stale: false, watched: true, last_seen_at: 20, last_state_change_at: 21 });
});
