// Times and durations in words. Pure: every function is told the time.

/** "12 s ago", "3 min ago", "2 h ago", else the date. @param {number} ms @param {number} now */
export function ago(ms, now) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ms).toLocaleString();
}

/**
 * Milliseconds until a count of whole `unitS`-second steps of `elapsedMs`
 * (seconds rounded, as the texts here round them) moves on.
 * @param {number} elapsedMs @param {number} unitS
 */
export function untilNextStep(elapsedMs, unitS) {
  const s = Math.max(0, Math.round(elapsedMs / 1000));
  const next = (Math.floor(s / unitS) + 1) * unitS;
  return Math.max(1, (next - 0.5) * 1000 - elapsedMs);
}

/** Milliseconds until `ago(ms, now)` reads differently; Infinity once it is a date. @param {number} ms @param {number} now */
export function agoChangesIn(ms, now) {
  const e = Math.max(0, now - ms);
  const s = Math.round(e / 1000);
  if (s >= 86400) return Infinity;
  return untilNextStep(e, s < 60 ? 1 : s < 3600 ? 60 : 3600);
}

/** How long since `ms`: "42 s", "3 min 5 s". @param {number} ms @param {number} now */
export function elapsed(ms, now) {
  return duration(now - ms);
}

/** A duration: "0.8 s", "42 s", "3 min 5 s", "2 h 4 min". @param {number} ms */
export function duration(ms) {
  if (ms < 0) ms = 0;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Whole seconds for live clocks (a clock that shows tenths repaints ten times as often). @param {number} ms @param {number} now */
export function clock(ms, now) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Local date and time to the second, sortable: "2026-11-25 14:03:07". @param {number} ms */
export function timestamp(ms) {
  const d = new Date(ms);
  const p = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** 100040 → "100 040" (a thin space groups thousands). @param {number} n */
export function count(n) {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, "\u2009");
}
