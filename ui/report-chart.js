// What the Reports view draws, computed before anything is drawn: month
// ranges in this computer's time, each state's share of a stretch of hours,
// and where each share sits in a bar. The engine has already aggregated
// (hours per state per account, per time bucket), so a 10 000-VM fleet is a
// handful of numbers here.

/**
 * @typedef {import("./types").Hours} Hours
 * @typedef {{ state: string, label: string, ms: number, fraction: number }} Share
 */

/** States in the order a bar stacks them, with their words. */
export const STATES = /** @type {const} */ ([
  ["running", "Running"],
  ["transition", "In transition"],
  ["suspended", "Suspended"],
  ["stopped", "Stopped"],
  ["deallocated", "Deallocated"],
  ["unknown", "Unknown (not seen)"],
  ["absent", "Not present"],
]);

/** @param {Hours} h */
export function total(h) {
  return STATES.reduce((sum, [k]) => sum + (h[k] ?? 0), 0);
}

/** Time Powerdeck saw the VMs in a known state (not unknown, not absent). @param {Hours} h */
export function seen(h) {
  return total(h) - h.unknown - h.absent;
}

/**
 * Each state's share of the hours, in stacking order, zero shares left out.
 * With `seenOnly`, shares of the time Powerdeck saw (a fleet added this
 * morning has a month that is nearly all unknown, which says nothing);
 * when it saw nothing, the unknown time is all there is to draw.
 * @param {Hours} h @param {boolean} [seenOnly] @returns {Share[]}
 */
export function shares(h, seenOnly = false) {
  /** @type {ReadonlyArray<readonly [keyof Hours, string]>} */
  const states = seenOnly && seen(h) > 0 ? STATES.filter(([k]) => k !== "unknown" && k !== "absent") : STATES;
  const all = states.reduce((sum, [k]) => sum + (h[k] ?? 0), 0);
  if (all <= 0) return [];
  return states.filter(([k]) => (h[k] ?? 0) > 0).map(([state, label]) => ({ state, label, ms: h[state], fraction: h[state] / all }));
}

/**
 * The shares laid end to end over `width` (x and w per share), so that
 * they fill it exactly whatever the rounding.
 * @param {Share[]} parts @param {number} width
 * @returns {(Share & { x: number, w: number })[]}
 */
export function layout(parts, width) {
  let acc = 0;
  return parts.map((p) => {
    const x = Math.round(acc * width);
    acc += p.fraction;
    const end = Math.round(acc * width);
    return { ...p, x, w: end - x };
  });
}

/** Hours with one decimal ("12.5 h"). @param {number} ms */
export function hoursText(ms) {
  // A fleet added minutes ago has minutes, not "0.0 h".
  if (ms <= 0) return "0 h";
  if (ms < 60_000) return "under 1 min";
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/**
 * The month that holds `now` and the `count - 1` before it, newest first,
 * each from local midnight on its first day to local midnight on the next
 * month's (so a month with a DST change is 1 hour shorter or longer).
 * @param {Date} now @param {number} count
 * @returns {{ value: string, label: string, from: number, to: number }[]}
 */
export function recentMonths(now, count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const start = new Date(now.getFullYear(), now.getMonth() - i, 1);
    const end = new Date(start.getFullYear(), start.getMonth() + 1, 1);
    const value = `${start.getFullYear()}-${String(start.getMonth() + 1).padStart(2, "0")}`;
    out.push({ value, label: start.toLocaleDateString(undefined, { month: "long", year: "numeric" }), from: start.getTime(), to: end.getTime() });
  }
  return out;
}

/**
 * The twelve local months that end with the month starting at `from`: the
 * range a report by month covers.
 * @param {number} from the chosen month's first instant @returns {{ from: number, to: number }}
 */
export function yearTo(from) {
  const start = new Date(from);
  return { from: new Date(start.getFullYear(), start.getMonth() - 11, 1).getTime(), to: new Date(start.getFullYear(), start.getMonth() + 1, 1).getTime() };
}

/**
 * A timeline's span ending at `now`: its start and how many buckets
 * (an hour each for a day, six hours for a week, a day for a month).
 * @param {"day" | "week" | "month"} span @param {number} now
 * @returns {{ from: number, to: number, buckets: number }}
 */
export function timelineSpan(span, now) {
  const hour = 3_600_000;
  const [length, buckets] = span === "day" ? [24 * hour, 48] : span === "week" ? [7 * 24 * hour, 56] : [30 * 24 * hour, 60];
  return { from: now - length, to: now, buckets };
}
