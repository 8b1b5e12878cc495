// What the Groups view says and reads, without the DOM (so `node --test`
// checks it): a rule in words, the form's fields as a rule, and back.

/** @typedef {import("./types").GroupRule} GroupRule */
/** @typedef {import("./types").Group} Group */

/** "web-* on lab (vsphere), tag:env=test, running"; "" for no rule. @param {GroupRule | null} rule */
export function ruleText(rule) {
  if (!rule) return "";
  const parts = [];
  if (rule.name) parts.push(`named ${rule.name}`);
  if (rule.account) parts.push(`on ${rule.account}`);
  if (rule.kind) parts.push(`${rule.kind} accounts`);
  for (const [k, v] of Object.entries(rule.facts ?? {})) parts.push(`${k}=${v}`);
  if (rule.state) parts.push(rule.state);
  return parts.join(", ");
}

/**
 * The rule the form's fields describe, or an error naming the field.
 * @param {{ account: string, kind: string, pattern: string, facts: string, state: string }} f
 * @returns {{ rule: GroupRule | null, error: string | null }}
 */
export function ruleOf(f) {
  /** @type {GroupRule} */
  const rule = {};
  if (f.account) rule.account = f.account;
  if (f.kind) rule.kind = f.kind;
  if (f.pattern.trim()) rule.name = f.pattern.trim();
  if (f.state) rule.state = /** @type {import("./types").PowerState} */ (f.state);
  /** @type {Record<string, string>} */
  const facts = {};
  for (const part of f.facts.split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) return { rule: null, error: `'${part}' is not key=value (such as tag:env=test)` };
    facts[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  if (Object.keys(facts).length) rule.facts = facts;
  return { rule: Object.keys(rule).length ? rule : null, error: null };
}

/** The form's facts field for a saved rule. @param {GroupRule | null} rule */
export function factsField(rule) {
  return Object.entries(rule?.facts ?? {}).map(([k, v]) => `${k}=${v}`).join(", ");
}

/** VM references typed in the form: names, ids or account/name, by commas or lines. @param {string} text */
export function references(text) {
  return text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
}
