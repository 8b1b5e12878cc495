import assert from "node:assert/strict";
import { test } from "node:test";
import { ago, agoChangesIn, clock, count, duration, untilNextStep } from "../../ui/format.js";

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

test("an 'ago' is looked at again exactly when its words change, and never once it is a date", () => {
  // At every moment, the text stays the same until the time given and differs right after it.
  for (const e of [0, 400, 1200, 59_400, 59_600, 61_000, 119_499, 3_599_400, 3_600_000, 7_300_000, 86_399_400]) {
    const wait = agoChangesIn(0, e);
    assert.ok(wait > 0 && wait <= 3_600_000, `${e}: ${wait}`);
    assert.equal(ago(0, e + wait - 1), ago(0, e), `unchanged just before, at ${e}`);
    assert.notEqual(ago(0, e + wait), ago(0, e), `changed at the time given, at ${e}`);
  }
  assert.equal(agoChangesIn(0, 90_000_000), Infinity);
  // A minute clock: "1 min" until 119.5 s.
  assert.equal(untilNextStep(61_000, 60), 58_500);
});
