// What the window says about a failure, chosen by its kind (the shell sends
// kinds: src-tauri/src/ipc_error.rs), never by reading the sentence: the
// engine's sentence, then what to do about it.

/** @type {Record<string, string>} */
const NEXT = {
  auth: "Check the account's credentials; to change its secret, remove the account and add it again.",
  unreachable: "Check the endpoint and this computer's network; Powerdeck keeps trying.",
  untrusted: "Compare the certificate the host presents with the one you expect, and pin it if it is the host's.",
  timeout: "The provider is slow to answer; Powerdeck keeps trying.",
  throttled: "Powerdeck slows down and tries again.",
  configuration: "Edit the account's settings.",
  "outcome-unknown": "The request may still have been carried out: Powerdeck reads the VM again before anything else.",
  "in-flight": "Wait for it to end, or use Force now or Cancel operation in the VM's details.",
};

/**
 * The message, then what to do next when the kind says. Takes what a
 * command threw (an IpcError from ipc.js) or a refusal from `request_operation`.
 * @param {{ kind?: string, message?: string } | unknown} e @returns {string}
 */
export function errorText(e) {
  if (!e || typeof e !== "object" || !("message" in e)) return String(e);
  const err = /** @type {{ kind?: string, message: string }} */ (e);
  const next = err.kind ? NEXT[err.kind] : undefined;
  return next ? `${err.message}. ${next}`.replace(/\.\. /, ". ") : err.message;
}
