// The backend's words and rules (crates/core/src/vocabulary.rs), served by
// the `vocabulary` command once at start: which states are transitional or
// gone, what each action is called, which phases end an operation. Nothing
// here is typed in the window; the containers are filled in place, so the
// modules that import them see the served values.

/** @typedef {import("./types").OpKind} OpKind */
/** @typedef {import("./types").Vocabulary} Vocabulary */

/** @type {Set<string>} */
export const TRANSITIONAL = new Set();
/** @type {Set<string>} powered off in any flavour */
export const OFF = new Set();
/** @type {Set<string>} nothing can be asked of a VM in these */
export const GONE = new Set();
/** @type {Set<string>} phases that end an operation */
export const TERMINAL = new Set();
/** @type {Set<string>} actions the window confirms first */
export const DESTRUCTIVE = new Set();
/** @type {Set<string>} actions that power off without asking the guest */
export const HARD = new Set();
/** @type {Set<string>} actions that ask the guest first and may fall back to force */
export const FALLBACK = new Set();
/** @type {OpKind[]} every action, in the order every front end lists them */
export const ACTIONS = [];
/** @type {Record<string, string>} */
export const ACTION_LABELS = {};
/** @type {Record<string, string>} where an action leads */
export const TARGETS = {};
/** @type {Record<string, string>} an account's health status in words */
export const HEALTH_LABELS = {};
/** @type {Set<string>} health statuses that need a person (banner, notification) */
export const BROKEN = new Set();

/** Take the served vocabulary. @param {Vocabulary} v */
export function useVocabulary(v) {
  for (const set of [TRANSITIONAL, OFF, GONE, TERMINAL, DESTRUCTIVE, HARD, FALLBACK, BROKEN]) set.clear();
  ACTIONS.length = 0;
  for (const st of v.states) {
    if (st.transitional) TRANSITIONAL.add(st.name);
    if (st.off) OFF.add(st.name);
    if (st.gone) GONE.add(st.name);
  }
  for (const a of v.actions) {
    ACTIONS.push(a.kind);
    ACTION_LABELS[a.kind] = a.label;
    TARGETS[a.kind] = a.target;
    if (a.destructive) DESTRUCTIVE.add(a.kind);
    if (a.hard) HARD.add(a.kind);
    if (a.forced_fallback) FALLBACK.add(a.kind);
  }
  for (const p of v.phases) if (p.terminal) TERMINAL.add(p.name);
  for (const h of v.health) {
    HEALTH_LABELS[h.status] = h.label;
    if (h.broken) BROKEN.add(h.status);
  }
}

/** An action's label, or its name when the vocabulary does not know it. @param {string} kind */
export function actionLabel(kind) {
  return ACTION_LABELS[kind] ?? kind;
}
