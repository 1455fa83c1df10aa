// APPSYNC_JS resolver benchmark: p50/p95 of one field's handlers (request + response, and for pipelines
// the before/after steps and every function's handlers) over N iterations, with data-source results
// replayed from a recorded happy-path call so only resolver code is timed. Also prints each code file's
// size and exits 1 if one exceeds AppSync's 32 KB limit.
//
//   node bench/resolvers_bench.mjs [iterations]      (default 10000)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadApi, run, executeField, newContext, control, RESOLVERS_DIR } from '../app/graphql/tests/runtime/harness.mjs';
import { HAPPY_PATHS, NOW, seededDatabase } from '../app/graphql/tests/fixtures.mjs';

const CODE_LIMIT_BYTES = 32 * 1024;
const iterations = Number(process.argv[2] ?? 10000);
if (!Number.isInteger(iterations) || iterations < 1) {
  console.error(`iterations must be a positive integer, got ${process.argv[2]}`);
  process.exit(2);
}

const api = await loadApi();

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const rows = [];
for (const [field, options] of Object.entries(HAPPY_PATHS)) {
  control.reset();
  control.setNow(NOW);
  const opts = { db: seededDatabase(), ...options() };
  const recorded = await run(field, opts);
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

const files = [...new Set([...api.manifest.resolvers, ...api.manifest.functions].map((e) => e.file))].sort();
console.log(`\ncode size (AppSync limit ${CODE_LIMIT_BYTES} bytes per resolver/function)`);
const tooBig = [];
for (const file of files) {
  const bytes = Buffer.byteLength(readFileSync(join(RESOLVERS_DIR, file)));
  if (bytes > CODE_LIMIT_BYTES) tooBig.push(file);
  console.log(`${file.padEnd(44)} ${String(bytes).padStart(6)} bytes${bytes > CODE_LIMIT_BYTES ? '  OVER THE LIMIT' : ''}`);
}
if (tooBig.length) {
  console.error(`\n${tooBig.length} file(s) exceed the 32 KB APPSYNC_JS code limit: ${tooBig.join(', ')}`);
  process.exit(1);
}
