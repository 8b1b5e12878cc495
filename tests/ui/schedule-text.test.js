import assert from "node:assert/strict";
import { test } from "node:test";
import "./fixtures.js"; // the served vocabulary
import { bothClocks, doesText, draftOf, edgeText, runNowQuestion, splitDates, targetText, wallClock } from "../../ui/schedule-text.js";

// 2026-12-24 18:00 UTC (a Thursday; Berlin is UTC+1 in winter).
const XMAS = Date.UTC(2026, 11, 24, 18, 0);

test("a run reads as the schedule's wall clock, and as this computer's when that differs", () => {
  assert.equal(wallClock(XMAS, "Europe/Berlin"), "Thu 2026-12-24 19:00 CET");
  assert.equal(wallClock(XMAS, "UTC"), "Thu 2026-12-24 18:00 UTC");
  assert.equal(bothClocks(XMAS, "Europe/Berlin", "Europe/Berlin"), "Thu 2026-12-24 19:00 CET", "once when the zones are the same");
  // The zone's short name is the engine's (ICU's) to choose: "EST" or "GMT-5".
  assert.match(bothClocks(XMAS, "Europe/Berlin", "America/New_York"), /^Thu 2026-12-24 19:00 CET · here 13:00 (EST|GMT-5)$/);
  assert.equal(wallClock(XMAS, "Not/AZone"), "Thu 2026-12-24 18:00 UTC", "an unknown zone falls back to UTC, saying so");
});

/** @type {import("../../ui/types").ScheduleView} */
const period = {
  schedule: { name: "office", enabled: true, zone: "Europe/Berlin", when: { period: { days: "mon-fri", from: "08:00", to: "18:00", enforce: true } }, target: { group: "dev" }, action: "stop", force: true, skip_dates: ["2026-12-24"], grace_minutes: 15 },
  when_text: "mon-fri 08:00-18:00 (enforced)", next: [], last: null, problem: null,
};

test("what a schedule does, in words", () => {
  assert.equal(targetText({ vms: ["a", "b"] }), "VMs a, b");
  assert.equal(doesText(period.schedule), "Start / Stop group 'dev' (force allowed)");
  assert.equal(doesText({ ...period.schedule, when: { cron: "0 2 * * sun" }, target: { runbook: "patch" }, action: undefined }), "Run runbook 'patch'");
  assert.equal(doesText({ ...period.schedule, when: { cron: "0 19 * * 1-5" }, force: false, action: "deallocate" }), "Deallocate group 'dev'");
  assert.equal(edgeText({ runbook: false, action: "suspend" }, "end"), "suspend");
  assert.equal(edgeText({ runbook: false, action: "suspend" }, "start"), "start");
});

test("a saved schedule goes back into the form as it was typed", () => {
  const d = draftOf(period);
  assert.equal(d.when, "mon-fri 08:00-18:00", "'(enforced)' is the checkbox, not the text");
  assert.equal(d.enforce, true);
  assert.equal(d.target_kind, "group");
  assert.equal(d.target, "dev");
  assert.deepEqual(d.skip_dates, ["2026-12-24"]);
  assert.deepEqual(splitDates(" 2026-12-24, 2026-12-31\n2027-01-01 "), ["2026-12-24", "2026-12-31", "2027-01-01"]);
});

test("run now says what it will do to how many VMs; only a start is not destructive", () => {
  const stop = runNowQuestion("nightly", { action: "stop", force: true, vms: ["a", "b", "c", "d"], missing: ["gone-1"], runbook: null, period_side: null });
  assert.equal(stop.title, "Stop 4 VMs now?");
  assert.equal(stop.ok, "Stop 4 VMs");
  assert.equal(stop.destructive, true);
  assert.match(stop.text, /a, b, c and 1 more/);
  assert.equal(stop.notes.length, 2, "force and the missing VM are both said");
  const start = runNowQuestion("office", { action: "start", force: false, vms: ["a"], missing: [], runbook: null, period_side: "inside its period now, so its VMs are started" });
  assert.equal(start.destructive, false);
  assert.equal(start.title, "Start 1 VM now?");
  assert.match(start.notes[0], /inside its period/);
  assert.equal(runNowQuestion("x", { action: null, force: false, vms: [], missing: [], runbook: "patch", period_side: null }).destructive, true);
  assert.match(runNowQuestion("x", { action: "stop", force: false, vms: [], missing: [], runbook: null, period_side: null }).text, /no VMs now/);
});
