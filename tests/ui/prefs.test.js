import assert from "node:assert/strict";
import { test } from "node:test";
import { defaults, loadPrefs, savePrefs } from "../../ui/prefs.js";

/** @returns {Storage} */
function memory() {
  /** @type {Map<string, string>} */
  const m = new Map();
  return /** @type {any} */ ({ getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, v) });
}

test("choices survive a restart", () => {
  const st = memory();
  const p = { ...defaults(), theme: /** @type {const} */ ("dark"), density: /** @type {const} */ ("compact"), hiddenColumns: ["raw"], widths: { name: 240 }, demoBannerHidden: true };
  savePrefs(st, p);
  assert.deepEqual(loadPrefs(st), p);
});

test("anything unreadable falls back to the defaults", () => {
  const st = memory();
  st.setItem("powerdeck.window", "{not json");
  assert.deepEqual(loadPrefs(st), defaults());
  st.setItem("powerdeck.window", JSON.stringify({ theme: "purple", widths: { name: -5, status: 300 }, hiddenColumns: [1, "raw"] }));
  const p = loadPrefs(st);
  assert.equal(p.theme, "system");
  assert.deepEqual(p.widths, { status: 300 });
  assert.deepEqual(p.hiddenColumns, ["raw"]);
});

test("the page shown and the inventory's order come back; unknown ones fall back", () => {
  const st = memory();
  savePrefs(st, { ...defaults(), view: "activity", sort: { key: "last_state_change_at", dir: -1 } });
  const p = loadPrefs(st);
  assert.equal(p.view, "activity");
  assert.deepEqual(p.sort, { key: "last_state_change_at", dir: -1 });
  st.setItem("powerdeck.window", JSON.stringify({ view: "nowhere", sort: { key: "name", dir: 2 } }));
  assert.equal(loadPrefs(st).view, "inventory");
  assert.deepEqual(loadPrefs(st).sort, { key: "name", dir: 1 });
});
