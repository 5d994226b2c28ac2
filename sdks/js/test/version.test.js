import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import * as sdk from "../dist/index.js";

test("the exported VERSION is the package's, and the public surface is exported", () => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  assert.equal(sdk.VERSION, pkg.version);
  for (const name of ["createClient", "BaasError", "isBaasError", "memoryPersistence", "localStoragePersistence",
    "asyncStoragePersistence", "increment", "arrayUnion", "arrayRemove", "serverTimestamp", "deleteField", "maximum",
    "minimum", "where", "and", "or"]) {
    assert.equal(typeof sdk[name], "function", name);
  }
  assert.throws(() => sdk.localStoragePersistence(undefined), /localStorage is not available/);
});
