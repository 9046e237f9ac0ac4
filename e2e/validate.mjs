// Validates an OpenAPI document with @apidevtools/swagger-parser, an
// independent validator of OpenAPI 3.0 and 3.1.
// Usage: node validate.mjs FILE
// Prints one JSON line: {"valid":true,"operations":[operationId...]} or
// {"valid":false,"error":"..."}.
import { readFile } from 'node:fs/promises';
import SwaggerParser from '@apidevtools/swagger-parser';

const [file] = process.argv.slice(2);
try {
  const doc = JSON.parse(await readFile(file, 'utf8'));
  const operations = [];
  for (const item of Object.values(doc.paths || {})) {
    for (const op of Object.values(item)) {
      if (op && op.operationId) operations.push(op.operationId);
    }
  }
  await SwaggerParser.validate(structuredClone(doc));
  console.log(JSON.stringify({ valid: true, operations }));
} catch (err) {
  console.log(JSON.stringify({ valid: false, error: String(err && err.message || err) }));
  process.exit(1);
}
