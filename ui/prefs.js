// The window's own choices (theme, density, columns, sort, the page shown, the demo banner),
// remembered in the webview's localStorage. They belong to this window, not
// to the engine, so they live here rather than in the shared settings.

const KEY = "powerdeck.window";

/**
 * @typedef {object} Prefs
 * @property {"system" | "light" | "dark"} theme
 * @property {"comfortable" | "compact"} density
 * @property {string[]} hiddenColumns  column ids the admin hid
 * @property {string[]} shownColumns   optional column ids the admin showed
 * @property {Record<string, number>} widths column id → width in px, once resized
 * @property {boolean} demoBannerHidden
 * @property {string} view  the page shown last (one of VIEWS)
 * @property {{ key: string, dir: 1 | -1 }} sort  the inventory's order
 */

/** The window's pages, as their sections' ids. */
export const VIEWS = ["inventory", "activity", "schedules", "groups", "runbooks", "reports", "accounts", "settings"];

/** @returns {Prefs} */
export function defaults() {
  return { theme: "system", density: "comfortable", hiddenColumns: [], shownColumns: [], widths: {}, demoBannerHidden: false, view: "inventory", sort: { key: "name", dir: 1 } };
}

/**
 * What was saved, with anything unreadable or unknown replaced by the default.
 * @param {Pick<Storage, "getItem">} storage @returns {Prefs}
 */
export function loadPrefs(storage) {
  const d = defaults();
  let saved;
  try {
    saved = JSON.parse(storage.getItem(KEY) ?? "{}");
  } catch {
    return d;
  }
  if (typeof saved !== "object" || saved === null) return d;
  const strings = (/** @type {unknown} */ v) => (Array.isArray(v) ? v.filter((x) => typeof x === "string") : []);
  /** @type {Record<string, number>} */
  const widths = {};
  if (typeof saved.widths === "object" && saved.widths !== null) {
    for (const [k, v] of Object.entries(saved.widths)) if (typeof v === "number" && v >= 40 && v <= 2000) widths[k] = Math.round(v);
  }
  return {
    theme: ["system", "light", "dark"].includes(saved.theme) ? saved.theme : d.theme,
    density: ["comfortable", "compact"].includes(saved.density) ? saved.density : d.density,
    hiddenColumns: strings(saved.hiddenColumns),
    shownColumns: strings(saved.shownColumns),
    widths,
    demoBannerHidden: saved.demoBannerHidden === true,
    view: VIEWS.includes(saved.view) ? saved.view : d.view,
    sort: typeof saved.sort?.key === "string" && (saved.sort.dir === 1 || saved.sort.dir === -1) ? { key: saved.sort.key, dir: saved.sort.dir } : d.sort,
  };
}

/** @param {Pick<Storage, "setItem">} storage @param {Prefs} prefs */
export function savePrefs(storage, prefs) {
  try {
    storage.setItem(KEY, JSON.stringify(prefs));
  } catch {
    // A full or disabled storage only costs the memory of a choice.
  }
}
