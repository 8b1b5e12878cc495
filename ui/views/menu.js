// One pop-up menu, used by the toolbar's "Power ▾" button and by the
// context menu on rows. Arrow keys move, Enter or Space acts, Escape, Tab or
// a click elsewhere closes it without acting.

import { $, el } from "../dom.js";

/**
 * @typedef {object} MenuItem
 * @property {string} label
 * @property {string} [hint]     a count or note beside the label
 * @property {string} [shortcut] shown, and given as aria-keyshortcuts
 * @property {boolean} [disabled]
 * @property {boolean} [danger]
 * @property {string} [id]       data-item, for tests and styling
 * @property {() => void} run
 */

/** @type {{ close: (refocus: boolean) => void, refresh: () => void } | null} */
let open = null;

export function isOpen() {
  return open !== null;
}

/** Close the open menu, if any, without acting. @param {boolean} [refocus] */
export function closeMenu(refocus = true) {
  open?.close(refocus);
}

/** Rebuild the open menu's items (the selection's VMs changed state). */
export function refreshMenu() {
  open?.refresh();
}

/**
 * @param {() => MenuItem[]} items   called again by refreshMenu()
 * @param {{ x: number, y: number } | HTMLElement} at a point, or the button it drops from
 * @param {HTMLElement} returnFocus  where the focus goes back when it closes
 * @param {string} label
 */
export function openMenu(items, at, returnFocus, label) {
  closeMenu(false);
  const menu = $("#menu");
  menu.setAttribute("aria-label", label);
  const opener = at instanceof HTMLElement ? at : null;

  const fill = () => {
    const active = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.item : undefined;
    menu.replaceChildren(...items().map((it) => {
      const b = el("button", {
        role: "menuitem", tabindex: "-1", class: `menu-item${it.danger ? " danger-text" : ""}`,
        "data-item": it.id ?? it.label, "aria-disabled": it.disabled ? "true" : null, "aria-keyshortcuts": it.shortcut ?? null,
      }, el("span", { class: "menu-label" }, it.label), it.hint ? el("span", { class: "menu-hint" }, it.hint) : null, it.shortcut ? el("kbd", { "aria-hidden": "true" }, it.shortcut) : null);
      b.addEventListener("click", () => {
        if (it.disabled) return;
        close(false);
        it.run();
      });
      return b;
    }));
    const again = active && [...menu.children].find((b) => /** @type {HTMLElement} */ (b).dataset.item === active);
    if (again) /** @type {HTMLElement} */ (again).focus();
  };

  /** @param {boolean} refocus */
  const close = (refocus) => {
    if (open === null) return;
    open = null;
    menu.hidden = true;
    opener?.setAttribute("aria-expanded", "false");
    document.removeEventListener("pointerdown", outside, true);
    menu.removeEventListener("keydown", keys);
    if (refocus) returnFocus.focus();
  };
  /** @param {PointerEvent} e */
  const outside = (e) => {
    if (!menu.contains(/** @type {Node} */ (e.target)) && e.target !== opener) close(false);
  };
  /** @param {KeyboardEvent} e */
  const keys = (e) => {
    const entries = /** @type {HTMLElement[]} */ ([...menu.querySelectorAll('[role="menuitem"]')]);
    const i = entries.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    const move = (/** @type {number} */ d) => entries[(i + d + entries.length) % entries.length]?.focus();
    if (e.key === "ArrowDown") move(1);
    else if (e.key === "ArrowUp") move(-1);
    else if (e.key === "Home") entries[0]?.focus();
    else if (e.key === "End") entries[entries.length - 1]?.focus();
    else if (e.key === "Escape") close(true);
    else if (e.key === "Tab") { close(true); return; }
    else if (e.key === "Enter" || e.key === " ") { if (i >= 0) entries[i].click(); }
    else return;
    e.preventDefault();
    e.stopPropagation();
  };

  fill();
  menu.hidden = false;
  // Place it below the button or at the pointer, inside the window.
  const r = opener ? opener.getBoundingClientRect() : null;
  const x = r ? r.left : /** @type {{ x: number }} */ (at).x;
  const y = r ? r.bottom + 2 : /** @type {{ y: number }} */ (at).y;
  const m = menu.getBoundingClientRect();
  menu.style.left = `${Math.max(4, Math.min(x, window.innerWidth - m.width - 4))}px`;
  menu.style.top = `${Math.max(4, y + m.height > window.innerHeight - 4 ? y - m.height - (r ? r.height + 4 : 0) : y)}px`;
  opener?.setAttribute("aria-expanded", "true");
  document.addEventListener("pointerdown", outside, true);
  menu.addEventListener("keydown", keys);
  open = { close, refresh: fill };
  const first = /** @type {HTMLElement | null} */ (menu.querySelector('[role="menuitem"]:not([aria-disabled="true"])') ?? menu.querySelector('[role="menuitem"]'));
  first?.focus();
}
