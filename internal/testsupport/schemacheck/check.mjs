// check.mjs validates JSON documents against envelope/schema.json with Ajv
// (JSON Schema draft 2020-12, strict mode, ajv-formats for "date-time"): an
// implementation independent of sesq's Go decoder, so that the schema
// producers validate against says what envelope.Parse does.
//
//   node check.mjs [--schema PATH] [FILE...]
//
// Each FILE is one document; with no FILE, each line of stdin is one (JSON
// Lines). It prints one line per document, in order:
//
//   valid NAME
//   invalid NAME: AJV ERRORS
//
// where NAME is the file name or "line N". A document that is not JSON is
// invalid. It exits 2 when the schema does not compile in strict mode, 0
// otherwise. Ajv comes from localstack/node_modules (`make deps`), where it
// is pinned.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = new URL("../../../", import.meta.url);
const require = createRequire(new URL("localstack/package.json", root));
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats").default;

let args = process.argv.slice(2);
let schemaPath = fileURLToPath(new URL("envelope/schema.json", root));
if (args[0] === "--schema") {
  schemaPath = args[1];
  args = args.slice(2);
}

const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
let validate;
try {
  validate = ajv.compile(JSON.parse(readFileSync(schemaPath, "utf8")));
} catch (err) {
  console.error(`${schemaPath}: ${err.message}`);
  process.exit(2);
}

const docs = args.length > 0
  ? args.map((f) => [f, readFileSync(f, "utf8")])
  : readFileSync(0, "utf8").split("\n").map((l, i) => [`line ${i + 1}`, l]).filter(([, l]) => l.trim() !== "");

for (const [name, text] of docs) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    console.log(`invalid ${name}: not JSON (${err.message})`);
    continue;
  }
  if (validate(doc)) {
    console.log(`valid ${name}`);
  } else {
    console.log(`invalid ${name}: ${ajv.errorsText(validate.errors)}`);
  }
}
