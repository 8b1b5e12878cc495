// The window's inventory at 100 000 VMs in JavaScriptCore alone (the jsc
// shell of the WebKitGTK the app runs on): live heap after loading, and how
// long loading, sorting by state and filtering take. Run by
// scripts/bench-window-heap.sh; BENCHMARKS.md has the numbers.

/* global readFile, fullGC, gcHeapSize, print */
const root = import.meta.url.replace(/^file:\/\//, "").replace(/tests\/ui\/bench\/heap\.mjs$/, "");
const { decodeInventory } = await import(root + "ui/wire.js");
const state = await import(root + "ui/state.js");
const served = JSON.parse(readFile(root + "tests/ui/vocabulary.json"));
(await import(root + "ui/vocabulary.js")).useVocabulary(served.vocabulary);

/** The shell's columns for `n` demo-like VMs in four accounts, in name order. */
function wireText(n) {
  const c = {
    words: ["running", "stopped", "poweredOn", "poweredOff", "ok", "notRunning", "us-east-1/host-1", "us-east-1/host-2"],
    id: [], account_id: [], name: [], provider_id: [], state: [], raw_state: [], tools: [], location: [], flags: [], last_seen_at: [], last_state_change_at: [], facts: [],
  };
  const rows = Array.from({ length: n }, (_, i) => [`demo-${["web", "db", "app"][i % 3]}-${String(i).padStart(6, "0")}`, i]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  for (const [name, i] of rows) {
    c.id.push(i + 1); c.account_id.push(1 + (i % 4)); c.name.push(name); c.provider_id.push(`vm-${1000000 + i}`);
    c.state.push(i % 2); c.raw_state.push(2 + (i % 2)); c.tools.push(4 + (i % 2)); c.location.push(6 + (i % 2)); c.flags.push(0);
    c.last_seen_at.push(1795733609197 + i); c.last_state_change_at.push(1795733000000 + i * 7);
  }
  const accounts = [1, 2, 3, 4].map((id) => ({ id, name: `demo-${id}`, kind: "sim", is_demo: true, capabilities: null }));
  return JSON.stringify({ vms: c, operations: [], accounts });
}

const text = wireText(100000);
fullGC();
const base = gcHeapSize();
let t = Date.now();
const s = state.createState();
state.loadInventory(s, decodeInventory(JSON.parse(text)));
const load = Date.now() - t;
t = Date.now();
state.setSort(s, "state");
const sort = Date.now() - t;
t = Date.now();
state.setFilter(s, { query: "web-01" });
const filter = Date.now() - t;
state.setFilter(s, { query: "" });
state.setSort(s, "name");
fullGC();
print(`live heap after loading 100 000 VMs: ${((gcHeapSize() - base) / 1e6).toFixed(1)} MB; load ${load} ms, sort by state ${sort} ms, filter ${filter} ms`);
globalThis.kept = s;
