// The page shown instead of the window when the data directory cannot be
// opened (src-tauri/src/start_error.rs puts the facts in `__POWERDECK_START_ERROR__`).

/** @type {{ what: string, where: string, fix: string } | undefined} */
const error = /** @type {any} */ (window).__POWERDECK_START_ERROR__;
if (error) {
  for (const [id, text] of [["error-what", error.what], ["error-where", error.where], ["error-fix", error.fix]]) {
    const el = document.getElementById(id);
    if (el) el.textContent = text;
  }
}
