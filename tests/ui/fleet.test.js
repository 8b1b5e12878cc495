// The inventory in columns reads back exactly what was stored, whatever the ids.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Fleet } from "../../ui/fleet.js";
import { vm } from "./fixtures.js";

test("a VM reads back field for field, as an object of its own and through a cursor", () => {
  const a = vm(1, "a", { facts: { ip_address: "10.0.0.1" }, stale: true, tools: null, location: null });
  const b = vm(2, "b", { state: "stopped", raw_state: "STOPPED", watched: true, account_id: 2, account: "prod" });
  const f = Fleet.of([a, b]);
  assert.deepEqual(f.get(1), a);
  assert.deepEqual(f.get(2), b);
  const copy = /** @type {import("../../ui/types").Vm} */ (f.get(1));
  copy.name = "changed";
  assert.equal(f.get(1)?.name, "a", "an object from get is the caller's own");
  const cur = f.cursor();
  for (const want of [a, b]) {
    const seen = /** @type {Record<string, unknown>} */ ({});
    const at = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (cur.toId(want.id)));
    for (const k of Object.keys(want)) seen[k] = at[k];
    assert.deepEqual(seen, want);
  }
  assert.equal(cur.toId(3), undefined);
  assert.deepEqual([...f.keys()], [1, 2]);
});

test("a changed VM is changed in place; new ones are added past the first capacity", () => {
  const f = new Fleet();
  for (let id = 1; id <= 100; id++) f.set(id, vm(id, `vm-${id}`));
  f.set(7, vm(7, "vm-7", { state: "stopped", raw_state: "STOPPED", facts: { os: "Debian" } }));
  assert.equal(f.size, 100);
  assert.equal(f.get(7)?.state, "stopped");
  assert.deepEqual(f.get(7)?.facts, { os: "Debian" });
  f.set(7, vm(7, "vm-7"));
  assert.deepEqual(f.get(7)?.facts, {}, "facts that went away are gone");
  assert.equal(f.get(100)?.name, "vm-100");
  assert.deepEqual([...f.values()].map((v) => v.id), Array.from({ length: 100 }, (_, i) => i + 1));
});

test("ids far apart, negative or fractional are found or refused, never confused", () => {
  const ids = [3, 50_000_000, 2 ** 40, 12];
  const f = Fleet.of(ids.map((id) => vm(id, `vm-${id}`)));
  for (const id of ids) assert.equal(f.get(id)?.name, `vm-${id}`);
  for (const id of [0, -1, 1.5, 4, 50_000_001]) assert.equal(f.has(id), false, `${id}`);
  f.set(13, vm(13, "vm-13"));
  assert.equal(f.get(13)?.name, "vm-13");
});

test("an account that stops answering marks its own VMs stale, not those already stale or missing", () => {
  const f = Fleet.of([
    vm(1, "a"), vm(2, "b", { stale: true, last_seen_at: 5 }), vm(3, "c", { state: "missing", raw_state: "" }), vm(4, "d", { account_id: 2, account: "prod" }),
  ]);
  assert.deepEqual(f.markStale(1, 900), [1]);
  assert.deepEqual([1, 2, 3, 4].map((id) => [f.get(id)?.stale, f.get(id)?.last_seen_at]), [[true, 900], [true, 5], [false, 1000], [false, 1000]]);
  assert.deepEqual(f.markStale(2, null), [4]);
  assert.equal(f.get(4)?.last_seen_at, 1000, "no time given: the last one stays");
});

test("each account's count follows its VMs, and a name is found without a pass that makes objects", () => {
  const f = Fleet.of([vm(1, "a"), vm(2, "b"), vm(3, "c", { account_id: 2, account: "prod" })]);
  assert.deepEqual([f.countOf(1), f.countOf(2), f.countOf(3)], [2, 1, 0]);
  f.set(2, vm(2, "b", { account_id: 2, account: "prod" }));
  assert.deepEqual([f.countOf(1), f.countOf(2)], [1, 2]);
  assert.deepEqual(f.find((v) => v.name === "c"), vm(3, "c", { account_id: 2, account: "prod" }));
  assert.equal(f.find((v) => v.name === "nope"), undefined);
});

test("the shell's columns in name order, whose first ids are the largest, read back by id", () => {
  const n = 10000;
  const ids = Array.from({ length: n }, (_, i) => n - i);
  const f = Fleet.fromColumns({
    words: ["running", "RUNNING"], id: ids, account_id: ids.map(() => 1), name: ids.map((id) => `vm-${id}`), provider_id: ids.map((id) => `p-${id}`),
    state: ids.map(() => 0), raw_state: ids.map(() => 1), tools: ids.map(() => -1), location: ids.map(() => -1), flags: ids.map(() => 0),
    last_seen_at: ids.map(() => 1), last_state_change_at: ids.map(() => 2), facts: [],
  }, new Map([[1, "demo"]]));
  assert.ok(f.index.dense, "ids as dense as SQLite's stay in the dense index");
  for (const id of [1, 2, 999, n]) assert.equal(f.get(id)?.name, `vm-${id}`);
  assert.equal(f.countOf(1), n);
});
