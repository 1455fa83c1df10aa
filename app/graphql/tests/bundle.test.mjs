// The bundles AppSync receives (components/appsync_code.py: lib/ imports inlined) behave exactly like
// the resolver files as written, which the other tests exercise: for every manifest resolver, a
// representative request/response (its happy path, then other callers) gives the same data, errors,
// data-source calls and subscription filter. (RESOLVER_CODE=bundled runs the whole suite on them too.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadApi, run, control, codeFiles, iamRole } from './runtime/harness.mjs';
import { bundles } from './runtime/bundles.mjs';
import { HAPPY_PATHS, NOW, admin, bob, seededDatabase } from './fixtures.mjs';

const source = await loadApi('source');
const bundled = await loadApi('bundled');

async function both(field, options) {
  const outcomes = [];
  for (const form of ['source', 'bundled']) {
    control.reset();
    control.setNow(NOW);
    control.queueIds('id-1', 'id-2');
    outcomes.push(await run(field, { db: seededDatabase(), ...options, form }));
  }
  return outcomes;
}

test('every bundle is one module: only @aws-appsync/utils imported, exporting request and response', () => {
  const files = codeFiles(source.manifest);
  const code = bundles(files);
  for (const file of files) {
    const imports = [...code[file].code.matchAll(/^import\s[^;]*?from\s+'([^']+)';/gm)].map((m) => m[1]);
    assert.deepEqual(imports, ['@aws-appsync/utils'], file);
  }
  for (const api of [source, bundled]) {
    for (const entry of [...api.resolvers.values(), ...api.functions.values()]) {
      assert.deepEqual(Object.keys(entry.code).sort(), ['request', 'response'], `${api.form} ${entry.file}`);
    }
  }
  assert.notEqual(source.resolvers.get('Query.getUser').code.request, bundled.resolvers.get('Query.getUser').code.request, 'two separate module instances');
});

test('each resolver\'s bundle answers its happy path exactly like its source', async () => {
  assert.deepEqual(Object.keys(HAPPY_PATHS).sort(), [...bundled.resolvers.keys()].sort());
  for (const [field, options] of Object.entries(HAPPY_PATHS)) {
    const [fromSource, fromBundle] = await both(field, options());
    assert.deepEqual(fromSource.errors, [], field);
    assert.deepEqual(fromBundle, fromSource, field);
  }
});

test('each resolver\'s bundle refuses and authorizes other callers exactly like its source', async () => {
  let refused = 0;
  for (const [field, options] of Object.entries(HAPPY_PATHS)) {
    for (const identity of [null, bob, admin, iamRole()]) {
      const [fromSource, fromBundle] = await both(field, { ...options(), identity });
      assert.deepEqual(fromBundle, fromSource, `${field} as ${identity?.sub ?? identity?.userArn ?? 'no identity'}`);
      if (fromSource.errors.length) refused += 1;
    }
  }
  assert.ok(refused > 20, 'the variants reach the refusal paths');
});
