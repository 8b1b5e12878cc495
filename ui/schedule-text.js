// What the Schedules view says, worked out without the DOM (so `node
// --test` checks it): times in a schedule's zone and in this computer's,
// what a schedule does, the form's draft from a saved schedule, and the
// "Run now" confirmation.

import { plural } from "./state.js";
import { DESTRUCTIVE, FALLBACK, actionLabel } from "./vocabulary.js";

/** @typedef {import("./types").Schedule} Schedule */
/** @typedef {import("./types").ScheduleView} ScheduleView */
/** @typedef {import("./types").ScheduleDraft} ScheduleDraft */
/** @typedef {import("./types").RunNowPlan} RunNowPlan */
/** @typedef {import("./types").ScheduleAction} ScheduleAction */

/** This computer's IANA zone (what a new schedule defaults to). */
export function localZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** @type {Map<string, Intl.DateTimeFormat>} */
const formats = new Map();

/**
 * "Thu 2026-12-24 19:00 CET": a moment as a wall clock in `zone` reads it.
 * @param {number} ms @param {string} zone @param {boolean} [withDate]
 */
export function wallClock(ms, zone, withDate = true) {
  let f = formats.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-GB", {
        timeZone: zone, weekday: "short", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short",
      });
    } catch {
      // A zone this engine does not know: say the time in UTC, and that it is.
      f = new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", weekday: "short", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" });
    }
    formats.set(zone, f);
  }
  /** @type {Record<string, string>} */
  const p = {};
  for (const part of f.formatToParts(ms)) p[part.type] = part.value;
  const time = `${p.hour}:${p.minute} ${p.timeZoneName}`;
  return withDate ? `${p.weekday} ${p.year}-${p.month}-${p.day} ${time}` : time;
}

/**
 * A run's time in the schedule's zone, and in this computer's when that
 * reads differently ("Thu 2026-12-24 19:00 CET · here 13:00 EST").
 * @param {number} ms @param {string} zone @param {string} [here]
 */
export function bothClocks(ms, zone, here = localZone()) {
  const there = wallClock(ms, zone);
  const local = wallClock(ms, here);
  if (zone === here || local === there) return there;
  return `${there} · here ${wallClock(ms, here, false)}`;
}

/** "group 'dev'", "VMs web-01, web-02", "runbook 'patch'". @param {Schedule["target"]} t */
export function targetText(t) {
  if ("group" in t) return `group '${t.group}'`;
  if ("runbook" in t) return `runbook '${t.runbook}'`;
  return `VMs ${t.vms.join(", ")}`;
}

/** @param {ScheduleAction} kind */
const verb = (kind) => actionLabel(kind);

/** What a schedule does: "Stop group 'dev' (force allowed)", "Start / Stop VMs a, b", "Run runbook 'x'". @param {Schedule} s */
export function doesText(s) {
  const force = s.force ? " (force allowed)" : "";
  if ("runbook" in s.target) return `Run ${targetText(s.target)}`;
  const action = s.action ?? "stop";
  if ("period" in s.when) return `Start / ${verb(action)} ${targetText(s.target)}${force}`;
  return `${verb(action)} ${targetText(s.target)}${force}`;
}

/**
 * What an occurrence does ("start" at a period's start).
 * @param {{ runbook: boolean, action: ScheduleAction | null | undefined }} s @param {"start" | "end" | "run"} edge
 */
export function edgeText(s, edge) {
  if (s.runbook) return "run the runbook";
  if (edge === "start") return "start";
  return verb(s.action ?? "stop").toLowerCase();
}

/** The form's values for a saved schedule (its `when` as `pdk schedules add --when` reads it). @param {ScheduleView} v @returns {ScheduleDraft} */
export function draftOf(v) {
  const s = v.schedule;
  const enforce = "period" in s.when && !!s.when.period.enforce;
  const t = s.target;
  return {
    name: s.name,
    when: v.when_text.replace(/ \(enforced\)$/, ""),
    enforce,
    zone: s.zone,
    action: s.action ?? null,
    target_kind: "group" in t ? "group" : "runbook" in t ? "runbook" : "vms",
    target: "group" in t ? t.group : "runbook" in t ? t.runbook : t.vms.join(", "),
    force: !!s.force,
    grace_minutes: s.grace_minutes,
    skip_dates: s.skip_dates ?? [],
    enabled: s.enabled,
  };
}

/** Dates typed as "2026-12-24, 2026-12-31" (or one a line). @param {string} text */
export function splitDates(text) {
  return text.split(/[\s,]+/).map((d) => d.trim()).filter(Boolean);
}

/**
 * The "Run now" confirmation: what it will do to how many VMs, and whether
 * it is destructive (then the dialog opens on Cancel).
 * @param {string} name @param {RunNowPlan} plan
 * @returns {{ title: string, text: string, notes: string[], ok: string, destructive: boolean, vms: string[] }}
 */
export function runNowQuestion(name, plan) {
  if (plan.runbook) {
    return {
      title: `Run '${name}' now?`, text: `It starts the runbook '${plan.runbook}' now, step by step, each step verified before the next.`,
      notes: [], ok: "Run the runbook", destructive: true, vms: [],
    };
  }
  const action = plan.action ?? "stop";
  const n = plan.vms.length;
  const notes = [];
  if (plan.period_side) notes.push(`It is ${plan.period_side}.`);
  if (plan.force && FALLBACK.has(action)) notes.push("A guest that ignores the request is powered off hard (force allowed).");
  if (plan.missing.length) notes.push(`${plural(plan.missing.length, "VM")} it names no longer exist: ${plan.missing.join(", ")}.`);
  const shown = plan.vms.slice(0, 3).join(", ") + (n > 3 ? ` and ${n - 3} more` : "");
  return {
    title: n ? `${verb(action)} ${plural(n, "VM")} now?` : `Run '${name}' now?`,
    text: n ? `Schedule '${name}' will ${verb(action).toLowerCase()} ${shown} now. VMs already there are skipped.` : `Schedule '${name}' has no VMs now; running it does nothing.`,
    notes,
    ok: n ? `${verb(action)} ${plural(n, "VM")}` : "Run it",
    destructive: DESTRUCTIVE.has(action),
    vms: plan.vms,
  };
}
