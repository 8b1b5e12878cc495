// CSV as RFC 4180 describes it: fields separated by commas, records by
// CRLF; a field holding a comma, a double quote, CR or LF is enclosed in
// double quotes, and each double quote inside it is doubled.
//
// One addition: a field that a spreadsheet would read as a formula (it
// begins with =, +, -, @, a tab or CR) gets a leading apostrophe, because
// VM names and error messages come from providers, not from us.

const NEEDS_QUOTES = /[",\r\n]/;
const FORMULA = /^[=+\-@\t\r]/;

/** @param {string | number | null | undefined} value */
export function field(value) {
  let s = value === null || value === undefined ? "" : String(value);
  if (FORMULA.test(s)) s = `'${s}`;
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** @param {string[]} header @param {(string | number | null | undefined)[][]} rows */
export function toCsv(header, rows) {
  return [header, ...rows].map((r) => r.map(field).join(",")).join("\r\n") + "\r\n";
}
