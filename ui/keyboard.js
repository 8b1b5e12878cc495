// The keyboard: `/` or Ctrl+F search, arrows move through rows, Space
// selects, Enter opens the details, letters act on the selection, `?` shows
// them all. Keys typed into a text field stay there; an open dialog or menu
// handles its own keys.

import { closeMenu, isOpen as menuOpen } from "./views/menu.js";

/** @typedef {import("./types").OpKind} OpKind */

/** Letter → action on the selection (or the VM the keyboard is on). */
export const ACTION_KEYS = /** @type {Record<string, OpKind>} */ ({ s: "start", o: "stop", O: "force-stop", r: "reboot", u: "suspend", h: "hibernate" });

/** @param {EventTarget | null} t */
function typingIn(t) {
  if (!(t instanceof HTMLElement)) return false;
  if (t instanceof HTMLTextAreaElement || t.isContentEditable) return true;
  if (t instanceof HTMLSelectElement) return true;
  return t instanceof HTMLInputElement && !["checkbox", "radio", "button", "submit", "reset"].includes(t.type);
}

/**
 * @param {object} h
 * @param {() => boolean} h.inventoryShown
 * @param {() => void} h.showInventory
 * @param {() => void} h.focusSearch
 * @param {(e: KeyboardEvent) => boolean} h.gridKey
 * @param {() => HTMLElement} h.grid
 * @param {() => HTMLElement} h.search
 * @param {() => void} h.help
 * @param {(kind: OpKind) => void} h.act
 * @param {() => void} h.powerMenu
 * @param {() => void} h.contextMenu
 * @param {() => boolean} h.escape   close what is open (details, selection); true if something was
 */
export function initKeyboard(h) {
  document.addEventListener("keydown", (e) => {
    if (document.querySelector("dialog[open]")) return;
    if (menuOpen()) {
      // The menu handles its keys when it has the focus; Escape closes it from anywhere.
      if (e.key === "Escape") { e.preventDefault(); closeMenu(true); }
      return;
    }
    const t = e.target;
    const mod = e.ctrlKey || e.metaKey || e.altKey;
    if ((e.key === "f" || e.key === "F") && (e.ctrlKey || e.metaKey) && !e.altKey) {
      e.preventDefault();
      h.showInventory();
      h.focusSearch();
      return;
    }
    if (typingIn(t)) {
      // From the search box, Down or Escape goes to the results.
      if (t === h.search() && (e.key === "ArrowDown" || (e.key === "Escape" && !(/** @type {HTMLInputElement} */ (t)).value))) {
        e.preventDefault();
        h.grid().focus();
      }
      return;
    }
    if (e.key === "/" && !mod) {
      e.preventDefault();
      h.showInventory();
      h.focusSearch();
      return;
    }
    if (e.key === "?" && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      h.help();
      return;
    }
    if (!h.inventoryShown()) return;
    const selectAll = (e.key === "a" || e.key === "A") && (e.ctrlKey || e.metaKey) && !e.altKey;
    if (t === h.grid() && (!mod || selectAll) && h.gridKey(e)) {
      e.preventDefault();
      return;
    }
    if (t === h.grid() && (e.key === "ContextMenu" || (e.key === "F10" && e.shiftKey))) {
      e.preventDefault();
      h.contextMenu();
      return;
    }
    if (mod) return;
    if (e.key === "Escape") {
      if (h.escape()) e.preventDefault();
      return;
    }
    if (e.key === "p" || e.key === "P") {
      e.preventDefault();
      h.powerMenu();
      return;
    }
    const kind = ACTION_KEYS[e.key];
    if (kind) {
      e.preventDefault();
      h.act(kind);
    }
  });
}
