// The accounts form's logic, from the provider kinds' descriptors (the
// shell's `account_kinds`, crates/core/src/provider/kind.rs): what each
// input shows for a stored setting, and the settings (JSON) the inputs make.
// Pure, so `node --test` checks it; views/accounts.js only draws.

/** @typedef {import("./types").KindDescriptor} KindDescriptor */
/** @typedef {import("./types").AccountField} AccountField */

/**
 * What an input shows for a stored setting (`undefined`: not set).
 * @param {AccountField} field @param {unknown} stored @returns {string | boolean}
 */
export function shownValue(field, stored) {
  const k = field.kind;
  if (k.type === "bool") return typeof stored === "boolean" ? stored : k.default;
  if (stored === undefined || stored === null) return "";
  if (k.type === "list") return Array.isArray(stored) ? stored.map(String).join(", ") : String(stored);
  return String(stored);
}

/**
 * The settings the inputs make. Starting from `base` (the stored settings
 * when editing) keeps what the form does not show, such as what the engine
 * filled in itself; an emptied input removes its setting, so the engine's
 * default applies again. A switch left at its default adds nothing to a new
 * account's settings.
 * @param {KindDescriptor} kind
 * @param {Record<string, string | boolean | undefined>} values input name → value (text or checkbox)
 * @param {Record<string, unknown>} [base]
 * @returns {{ config: Record<string, unknown>, errors: { field: string, message: string }[] }}
 */
export function readConfig(kind, values, base = {}) {
  /** @type {Record<string, unknown>} */
  const config = { ...base };
  /** @type {{ field: string, message: string }[]} */
  const errors = [];
  for (const f of kind.fields) {
    const raw = values[f.name];
    const k = f.kind;
    if (k.type === "bool") {
      const on = raw === true;
      if (on === k.default && !(f.name in base)) delete config[f.name]; else config[f.name] = on;
      continue;
    }
    const text = typeof raw === "string" ? raw.trim() : "";
    if (!text) {
      delete config[f.name];
      if (f.required) errors.push({ field: f.name, message: `${f.label} is required.` });
      continue;
    }
    if (k.type === "list") {
      const items = text.split(/[\s,]+/).filter(Boolean);
      config[f.name] = items;
    } else if (k.type === "integer" || k.type === "number") {
      const n = Number(text);
      const whole = k.type === "integer";
      if (!Number.isFinite(n) || (whole && !Number.isInteger(n)) || n < k.min || n > k.max) {
        const what = whole ? "a whole number" : "a number";
        // i64::MAX arrives rounded; "or more" says it without the digits.
        const range = k.max >= Number.MAX_SAFE_INTEGER ? `${k.min} or more` : `from ${k.min} to ${k.max}`;
        errors.push({ field: f.name, message: `${f.label} must be ${what} ${range}.` });
        continue;
      }
      config[f.name] = n;
    } else if (k.type === "choice" && !k.options.some(([v]) => v === text)) {
      errors.push({ field: f.name, message: `${f.label} must be one of ${k.options.map(([v]) => v).join(", ")}.` });
    } else {
      config[f.name] = text;
    }
  }
  return { config, errors };
}

/**
 * Whether the host's certificate should be checked before saving: the kind
 * names its TLS fields, and the settings neither accept any certificate nor
 * name a CA file (a private CA is trusted through the file, which this
 * computer's own check knows nothing of).
 * @param {KindDescriptor} kind @param {Record<string, unknown>} config
 */
export function wantsCertificateCheck(kind, config) {
  if (!kind.tls) return false;
  if (config[kind.tls.insecure] === true) return false;
  const caFile = kind.fields.find((f) => f.kind.type === "ca-file");
  if (caFile && typeof config[caFile.name] === "string" && config[caFile.name]) return false;
  return typeof config[kind.tls.endpoint] === "string" && /^https?:\/\//i.test(/** @type {string} */ (config[kind.tls.endpoint]));
}

/** A thumbprint as the certificate check spells it: upper-case hex, no separators. @param {unknown} t */
export function bareThumbprint(t) {
  return typeof t === "string" ? t.toUpperCase().replace(/[^0-9A-F]/g, "") : "";
}

/**
 * The kind's CA-file field when its hosts publish their CA (oVirt's engine
 * does), so the form can offer to fetch and trust it.
 * @param {KindDescriptor} kind @returns {AccountField | null}
 */
export function publishedCaField(kind) {
  if (!kind.tls) return null;
  return kind.fields.find((f) => f.kind.type === "ca-file" && typeof f.kind.published_at === "string") ?? null;
}

/**
 * The inputs once the host's CA is kept in `file`: the CA file names it,
 * and neither a pin nor "accept any" stays beside it (the engine refuses
 * more than one way of trusting a host).
 * @param {KindDescriptor} kind @param {Record<string, string | boolean | undefined>} values @param {string} file
 */
export function trustingKeptCa(kind, values, file) {
  const field = publishedCaField(kind);
  if (!field || !kind.tls) return values;
  return { ...values, [field.name]: file, [kind.tls.thumbprint]: "", [kind.tls.insecure]: false };
}
