import assert from "node:assert/strict";
import { test } from "node:test";
import { factsField, references, ruleOf, ruleText } from "../../ui/group-text.js";

test("a rule reads as words, and no rule as nothing", () => {
  assert.equal(ruleText({ name: "web-*", account: "lab", facts: { "tag:env": "test" }, state: "running" }), "named web-*, on lab, tag:env=test, running");
  assert.equal(ruleText(null), "");
});

test("the form's fields become a rule; an empty form is no rule; a bad fact names itself", () => {
  assert.deepEqual(ruleOf({ account: "", kind: "ec2", pattern: " web-* ", facts: "tag:env=test, owner = ops", state: "" }),
    { rule: { kind: "ec2", name: "web-*", facts: { "tag:env": "test", owner: "ops" } }, error: null });
  assert.deepEqual(ruleOf({ account: "", kind: "", pattern: "  ", facts: "", state: "" }), { rule: null, error: null });
  assert.match(ruleOf({ account: "", kind: "", pattern: "", facts: "env", state: "" }).error ?? "", /'env' is not key=value/);
  assert.equal(factsField({ facts: { a: "1", b: "2" } }), "a=1, b=2");
});

test("VM references split on commas and lines", () => {
  assert.deepEqual(references("web-1, lab/db-2\n42\n\n"), ["web-1", "lab/db-2", "42"]);
});
