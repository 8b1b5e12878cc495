import assert from "node:assert/strict";
import { test } from "node:test";
import { hoursText, layout, recentMonths, shares, timelineSpan, total, yearTo } from "../../ui/report-chart.js";

const H = 3_600_000;
/** @param {Partial<import("../../ui/types").Hours>} h @returns {import("../../ui/types").Hours} */
const hours = (h) => ({ running: 0, stopped: 0, deallocated: 0, suspended: 0, transition: 0, unknown: 0, absent: 0, attributed: 0, billable: 0, saved: 0, ...h });

test("shares follow the stacking order, leave out empty states and ignore the derived counts", () => {
  const h = hours({ stopped: 6 * H, running: 18 * H, billable: 18 * H, saved: 6 * H, attributed: 2 * H });
  assert.equal(total(h), 24 * H, "billable, saved and attributed are views of the same time, not more of it");
  assert.deepEqual(shares(h).map((p) => [p.state, p.fraction]), [["running", 0.75], ["stopped", 0.25]]);
  assert.deepEqual(shares(hours({})), []);
});

test("shares of the time seen leave out unknown time, unless nothing was seen", () => {
  const h = hours({ unknown: 700 * H, running: 3 * H, stopped: 1 * H });
  assert.deepEqual(shares(h, true).map((p) => [p.state, p.fraction]), [["running", 0.75], ["stopped", 0.25]]);
  assert.equal(shares(h).find((p) => p.state === "unknown")?.ms, 700 * H, "all of it when asked");
  assert.deepEqual(shares(hours({ unknown: 5 * H }), true).map((p) => p.state), ["unknown"], "nothing seen: the unknown is what there is");
});

test("laid end to end, the shares fill the bar exactly", () => {
  const parts = layout(shares(hours({ running: 1, stopped: 1, unknown: 1 })), 100);
  assert.deepEqual(parts.map((p) => [p.x, p.w]), [[0, 33], [33, 34], [67, 33]]);
  assert.equal(parts.reduce((s, p) => s + p.w, 0), 100);
  assert.equal(hoursText(90 * 60_000), "1.5 h");
  assert.equal(hoursText(12 * 60_000 + 20_000), "12 min", "under an hour, minutes");
  assert.equal(hoursText(20_000), "under 1 min");
  assert.equal(hoursText(0), "0 h");
});

test("a month runs from local midnight on its first day to the next month's, newest first", () => {
  const months = recentMonths(new Date(2026, 0, 15, 12), 3);
  assert.deepEqual(months.map((m) => m.value), ["2026-01", "2025-12", "2025-11"]);
  assert.equal(months[0].from, new Date(2026, 0, 1).getTime());
  assert.equal(months[0].to, new Date(2026, 1, 1).getTime());
  assert.equal(months[1].to, months[0].from, "months meet without a gap");
});

test("a report by month covers the twelve local months up to the chosen one, across a year's turn", () => {
  const [march] = recentMonths(new Date(2026, 2, 10), 1);
  assert.deepEqual(yearTo(march.from), { from: new Date(2025, 3, 1).getTime(), to: new Date(2026, 3, 1).getTime() });
  const [december] = recentMonths(new Date(2026, 11, 31, 23), 1);
  assert.deepEqual(yearTo(december.from), { from: new Date(2026, 0, 1).getTime(), to: new Date(2027, 0, 1).getTime() });
});

test("a timeline's span ends now and is cut into equal buckets", () => {
  const now = 1_800_000_000_000;
  assert.deepEqual(timelineSpan("day", now), { from: now - 24 * H, to: now, buckets: 48 });
  assert.equal(timelineSpan("week", now).buckets, 56);
  assert.equal(timelineSpan("month", now).from, now - 30 * 24 * H);
});
