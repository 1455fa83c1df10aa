// APPSYNC_JS resolver benchmark: p50/p95 of one field's handlers (request + response, and for pipelines
// the before/after steps and every function's handlers) over N iterations, with data-source results
// replayed from a recorded happy-path call so only resolver code is timed. The timed code is what
// AppSync runs: each file bundled with its lib/ imports (components/appsync_code.py, run with $PYTHON or
// python3). Also prints each file's size as written and bundled, and exits 1 if a bundle exceeds
// AppSync's 32 KB limit.
//
//   node bench/resolvers_bench.mjs [iterations]      (default 10000)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadApi, run, executeField, newContext, control, codeFiles, RESOLVERS_DIR } from '../app/graphql/tests/runtime/harness.mjs';
import { bundles } from '../app/graphql/tests/runtime/bundles.mjs';
import { HAPPY_PATHS, NOW, seededDatabase } from '../app/graphql/tests/fixtures.mjs';

const CODE_LIMIT_BYTES = 32 * 1024;
const iterations = Number(process.argv[2] ?? 10000);
if (!Number.isInteger(iterations) || iterations < 1) {
  console.error(`iterations must be a positive integer, got ${process.argv[2]}`);
  process.exit(2);
}

const api = await loadApi('bundled');

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const rows = [];
for (const [field, options] of Object.entries(HAPPY_PATHS)) {
  control.reset();
  control.setNow(NOW);
  const opts = { db: seededDatabase(), ...options() };
  const recorded = await run(field, { ...opts, form: 'bundled' });
  if (recorded.errors.length) {
    console.error(`${field}: happy path failed: ${JSON.stringify(recorded.errors)}`);
    process.exit(1);
  }
  const entry = api.resolvers.get(field);
  const replay = () => {
    let call = 0;
    return () => {
      const { result, error } = recorded.calls[call];
      call += 1;
      return { result, error };
    };
  };
  const once = () => {
    const ctx = newContext(entry, opts.args ?? {}, opts.identity ?? null);
    const dispatch = replay();
    const start = process.hrtime.bigint();
    executeField(api, entry, ctx, dispatch);
    return Number(process.hrtime.bigint() - start) / 1000;
  };
  control.beginField(entry.typeName, entry.fieldName);
  for (let i = 0; i < Math.min(1000, iterations); i += 1) once(); // JIT warm-up
  const samples = Array.from({ length: iterations }, once).sort((a, b) => a - b);
  rows.push([field, entry.kind, percentile(samples, 50), percentile(samples, 95)]);
}

console.log(`resolver handlers, ${iterations} iterations each (microseconds; data-source results replayed)`);
console.log(`${'field'.padEnd(36)} ${'kind'.padEnd(8)} ${'p50 us'.padStart(8)} ${'p95 us'.padStart(8)}`);
for (const [field, kind, p50, p95] of rows) {
  console.log(`${field.padEnd(36)} ${kind.padEnd(8)} ${p50.toFixed(2).padStart(8)} ${p95.toFixed(2).padStart(8)}`);
}

const files = codeFiles(api.manifest).sort();
const bundled = bundles(files);
console.log(`\ncode size: as written, and bundled as AppSync receives it (limit ${CODE_LIMIT_BYTES} bytes per resolver/function)`);
console.log(`${'file'.padEnd(44)} ${'source'.padStart(8)} ${'bundled'.padStart(8)} ${'of limit'.padStart(9)}`);
const tooBig = [];
for (const file of files) {
  const written = Buffer.byteLength(readFileSync(join(RESOLVERS_DIR, file)));
  const bytes = Buffer.byteLength(bundled[file].code);
  if (bytes > CODE_LIMIT_BYTES) tooBig.push(file);
  const share = `${((100 * bytes) / CODE_LIMIT_BYTES).toFixed(1)}%`;
  console.log(`${file.padEnd(44)} ${String(written).padStart(8)} ${String(bytes).padStart(8)} ${share.padStart(9)}${bytes > CODE_LIMIT_BYTES ? '  OVER THE LIMIT' : ''}`);
}
if (tooBig.length) {
  console.error(`\n${tooBig.length} bundle(s) exceed the 32 KB APPSYNC_JS code limit: ${tooBig.join(', ')}`);
  process.exit(1);
}
