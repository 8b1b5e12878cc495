import assert from "node:assert/strict";
import { test } from "node:test";
import { field, toCsv } from "../../ui/csv.js";

test("RFC 4180: commas, quotes and line breaks are quoted, quotes doubled, records end in CRLF", () => {
  assert.equal(toCsv(["a", "b"], [["plain", 'say "hi", then\nleave'], ["x", null]]), 'a,b\r\nplain,"say ""hi"", then\nleave"\r\nx,\r\n');
});

test("a field a spreadsheet would run as a formula is defused", () => {
  assert.equal(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
  assert.equal(field("+1"), "'+1");
  assert.equal(field("@sum"), "'@sum");
  assert.equal(field("running → stopped"), "running → stopped");
  assert.equal(field(12.5), "12.5");
});
