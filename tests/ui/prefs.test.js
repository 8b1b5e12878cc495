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
