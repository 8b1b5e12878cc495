// What the views share: the state, the window's preferences, and the
// controller's verbs (app.js implements them). Views receive it rather than
// importing app.js, so none of them depends on another.

/**
 * @typedef {object} App
 * @property {import("./state.js").State} s
 * @property {import("./prefs.js").Prefs} prefs
 * @property {number} rowHeight          px, from the density
 * @property {() => void} savePrefs
 * @property {() => void} changed        something on screen may differ: draw on the next frame
 * @property {() => void} clocksShown    texts that move with time may be on screen: look at them within a second
 * @property {() => void} selectionChanged
 * @property {() => void} filtersChanged
 * @property {(id: number) => void} openDetails
 * @property {() => void} closeDetails
 * @property {() => boolean} detailsOpen
 * @property {() => number | null} detailsFor
 * @property {(at: { x: number, y: number }) => void} contextMenu
 * @property {(ids: number[], kind: import("./types").OpKind) => Promise<void>} act
 * @property {(vmId: number) => Promise<void>} cancelOp   cancel the VM's operation in flight (asks first)
 * @property {(vmId: number) => Promise<void>} forceOp    force the VM's graceful operation now (asks first)
 * @property {(vmId: number) => Promise<void>} retryForce retry the VM's failed graceful action with force (asks first)
 * @property {(view: string, focus?: boolean) => void} showView
 * @property {(id: number) => void} revealVm  show a VM in the inventory and open its details
 */

export {};
