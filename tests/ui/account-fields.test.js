import assert from "node:assert/strict";
import { test } from "node:test";
import { bareThumbprint, publishedCaField, readConfig, shownValue, trustingKeptCa, wantsCertificateCheck } from "../../ui/account-fields.js";

/** @typedef {import("../../ui/types").KindDescriptor} KindDescriptor */

/** A kind shaped like the registry's oVirt and EC2 descriptors (what `account_kinds` sends). @type {KindDescriptor} */
const ovirt = {
  name: "ovirt", label: "oVirt / OLVM", summary: "",
  secret: { label: "password", need: "required" },
  tls: { endpoint: "endpoint", thumbprint: "thumbprint", insecure: "insecure" },
  fields: [
    { name: "endpoint", label: "Engine API URL", kind: { type: "url" }, required: true, help: "", placeholder: "", advanced: false, flag: null },
    { name: "username", label: "User name", kind: { type: "text" }, required: true, help: "", placeholder: "", advanced: false, flag: null },
    { name: "ca_file", label: "Engine CA file", kind: { type: "ca-file", published_at: "/pki" }, required: false, help: "", placeholder: "", advanced: true, flag: null },
    { name: "thumbprint", label: "Thumbprint", kind: { type: "thumbprint" }, required: false, help: "", placeholder: "", advanced: true, flag: null },
    { name: "insecure", label: "Accept any certificate", kind: { type: "bool", default: false, off_flag: null }, required: false, help: "", placeholder: "", advanced: true, flag: null },
    { name: "page_size", label: "Inventory page size", kind: { type: "integer", min: 10, max: 5000 }, required: false, help: "", placeholder: "500", advanced: true, flag: null },
  ],
};
/** @type {KindDescriptor} */
const ec2 = {
  name: "ec2", label: "Amazon EC2", summary: "", secret: { label: "secret access key", need: "optional" }, tls: null,
  fields: [
    { name: "regions", label: "Regions", kind: { type: "list" }, required: false, help: "", placeholder: "", advanced: false, flag: "region" },
    { name: "seed", label: "Seed", kind: { type: "integer", min: 0, max: 9223372036854775807 }, required: false, help: "", placeholder: "", advanced: false, flag: null },
    { name: "rate", label: "Rate", kind: { type: "number", min: 0, max: 1 }, required: false, help: "", placeholder: "", advanced: false, flag: null },
    { name: "auth", label: "Sign in with", kind: { type: "choice", options: [["a", "A"], ["b", "B"]] }, required: false, help: "", placeholder: "", advanced: false, flag: null },
  ],
};

test("a new account's settings hold what was typed, typed as the engine reads it", () => {
  const { config, errors } = readConfig(ovirt, { endpoint: " https://engine.example ", username: "admin@internal", ca_file: "", thumbprint: "", insecure: false, page_size: "200" });
  assert.deepEqual(errors, []);
  assert.deepEqual(config, { endpoint: "https://engine.example", username: "admin@internal", page_size: 200 }, "empty inputs and switches at their default add nothing");
  const lists = readConfig(ec2, { regions: "eu-west-1, us-east-1  ap-south-1,", seed: "7", rate: "0.25", auth: "b" });
  assert.deepEqual(lists.config, { regions: ["eu-west-1", "us-east-1", "ap-south-1"], seed: 7, rate: 0.25, auth: "b" });
});

test("required, out-of-range and unknown values are named, with the field they belong to", () => {
  const { errors } = readConfig(ovirt, { endpoint: "", username: "u", page_size: "5" });
  assert.deepEqual(errors.map((e) => e.field), ["endpoint", "page_size"]);
  assert.match(errors[0].message, /Engine API URL is required/);
  assert.match(errors[1].message, /whole number from 10 to 5000/);
  const bad = readConfig(ec2, { seed: "1.5", rate: "2", auth: "c" }).errors;
  assert.deepEqual(bad.map((e) => e.field), ["seed", "rate", "auth"]);
  assert.match(bad[0].message, /0 or more/, "an i64::MAX bound is not spelled out");
});

test("editing keeps settings the form does not show, and an emptied input removes its setting", () => {
  const base = { endpoint: "https://old", username: "u", page_size: 300, insecure: false, filled_in_by_engine: "x" };
  const { config } = readConfig(ovirt, { endpoint: "https://new", username: "u", page_size: "", insecure: false }, base);
  assert.deepEqual(config, { endpoint: "https://new", username: "u", insecure: false, filled_in_by_engine: "x" });
});

test("stored settings show in their inputs", () => {
  assert.equal(shownValue(ec2.fields[0], ["a", "b"]), "a, b");
  assert.equal(shownValue(ovirt.fields[4], undefined), false, "a switch shows its default");
  assert.equal(shownValue(ovirt.fields[4], true), true);
  assert.equal(shownValue(ovirt.fields[5], 500), "500");
  assert.equal(shownValue(ovirt.fields[0], undefined), "");
});

test("the certificate is checked unless a CA file or 'accept any' decides trust, and only for TLS kinds", () => {
  assert.equal(wantsCertificateCheck(ovirt, { endpoint: "https://engine.example" }), true);
  assert.equal(wantsCertificateCheck(ovirt, { endpoint: "https://engine.example", ca_file: "/etc/ca.pem" }), false);
  assert.equal(wantsCertificateCheck(ovirt, { endpoint: "https://engine.example", insecure: true }), false);
  assert.equal(wantsCertificateCheck(ovirt, { endpoint: "engine.example" }), false, "not a URL: the engine's own check says why");
  assert.equal(wantsCertificateCheck(ec2, { endpoint: "https://x" }), false);
  assert.equal(bareThumbprint("ab:cd:EF"), "ABCDEF");
});

test("a host's published CA, once kept, is the one way the account trusts it", () => {
  assert.equal(publishedCaField(ovirt)?.name, "ca_file");
  assert.equal(publishedCaField(ec2), null, "no TLS fields, nothing published");
  const unpublished = { ...ovirt, fields: ovirt.fields.map((f) => (f.name === "ca_file" ? { ...f, kind: { type: "ca-file", published_at: null } } : f)) };
  assert.equal(publishedCaField(/** @type {KindDescriptor} */ (unpublished)), null, "a CA file the admin names, but no published CA to fetch");
  const typed = { endpoint: "https://engine.example/ovirt-engine/api", username: "admin@internal", ca_file: "", thumbprint: "AB:CD", insecure: true };
  const values = trustingKeptCa(ovirt, typed, "/data/certs/lab-1a2b3c4d.pem");
  assert.deepEqual(values, { ...typed, ca_file: "/data/certs/lab-1a2b3c4d.pem", thumbprint: "", insecure: false });
  const { config, errors } = readConfig(ovirt, values);
  assert.deepEqual(errors, []);
  assert.equal(config.ca_file, "/data/certs/lab-1a2b3c4d.pem");
  assert.equal(config.thumbprint, undefined, "the pin is dropped");
  assert.equal(wantsCertificateCheck(ovirt, config), false, "the CA decides trust: no second certificate prompt");
  assert.deepEqual(trustingKeptCa(ec2, { regions: "eu-west-1" }, "/x.pem"), { regions: "eu-west-1" }, "a kind without a published CA is left as it is");
});
