// node validate.mjs FILE.glb -> the Khronos validator's report as JSON on stdout.
import { readFileSync } from "node:fs";
import validator from "gltf-validator";

const data = new Uint8Array(readFileSync(process.argv[2]));
const report = await validator.validateBytes(data, { maxIssues: 100 });
process.stdout.write(JSON.stringify(report));
