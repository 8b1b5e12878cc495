import assert from "node:assert/strict";
import { test } from "node:test";
import { ago, clock, count, duration } from "../../ui/format.js";

test("times in words", () => {
  assert.equal(ago(0, 12_400), "12 s ago");
  assert.equal(ago(0, 185_000), "3 min ago");
  assert.equal(ago(0, 7_300_000), "2 h ago");
  assert.equal(duration(800), "0.8 s");
  assert.equal(duration(42_000), "42 s");
  assert.equal(duration(185_000), "3 min 5 s");
  assert.equal(clock(0, 45_200), "45 s");
  assert.equal(count(100040), "100\u2009040");
});
