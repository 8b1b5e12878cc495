// Small DOM helpers every view uses.

/**
 * The element with this selector; a missing one is a bug in index.html.
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} selector @param {ParentNode} [root] @returns {T}
 */
export function $(selector, root = document) {
  const e = root.querySelector(selector);
  if (!e) throw new Error(`index.html has no ${selector}`);
  return /** @type {T} */ (e);
}

/**
 * @typedef {Record<string, string | number | boolean | null | undefined | ((e: any) => void)>} Attrs
 * Keys starting with "on" add listeners; `class`, `data-*`, `aria-*`,
 * `role` and `title` become attributes; anything else a property.
 */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag @param {Attrs} [attrs] @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === "function") e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = String(v);
    else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role" || k === "title" || k === "for") e.setAttribute(k, String(v));
    else /** @type {any} */ (e)[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

/** Set text only when it differs: an unchanged write still costs a layout. @param {Element} e @param {string} text */
export function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
}

/** @param {Element} e @param {string} name @param {string | null} value */
export function setAttr(e, name, value) {
  if (value === null) {
    if (e.hasAttribute(name)) e.removeAttribute(name);
  } else if (e.getAttribute(name) !== value) e.setAttribute(name, value);
}

/**
 * A message in the corner. Errors stay until closed or 12 s; news for 5 s.
 * @param {string} text @param {"error" | "info"} [kind]
 */
export function toast(text, kind = "error") {
  const box = $("#toasts");
  const close = el("button", { class: "quiet toast-close", "aria-label": "Dismiss", title: "Dismiss" }, "×");
  const t = el("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, el("span", {}, text), close);
  close.addEventListener("click", () => t.remove());
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 12000 : 5000);
}

/**
 * Copy text to the clipboard: the async Clipboard API where the webview
 * grants it, else the older selection-and-copy.
 * @param {string} text
 */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // Not granted here: fall back.
  }
  const area = el("textarea", { value: text, readOnly: true, class: "offscreen", "aria-hidden": "true" });
  document.body.append(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("the clipboard refused the text");
}
