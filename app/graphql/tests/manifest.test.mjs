// Whole-API checks: every manifest resolver runs, the manifest grants exactly what the resolvers use,
// and the code AppSync receives (each file bundled with its lib/ imports) stays inside what the
// APPSYNC_JS runtime accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadApi, run, observed, control, codeFiles as manifestCodeFiles, RESOLVERS_DIR } from './runtime/harness.mjs';
import { bundleFiles, bundles } from './runtime/bundles.mjs';
import { util, extensions } from './runtime/appsync-utils.mjs';
import { HAPPY_PATHS, NOW, seededDatabase } from './fixtures.mjs';

const CODE_LIMIT_BYTES = 32 * 1024;
const api = await loadApi();
const codeFiles = manifestCodeFiles(api.manifest);
const bundled = bundles(codeFiles);
const source = (file) => readFileSync(join(RESOLVERS_DIR, file), 'utf8');
const libFiles = readdirSync(join(RESOLVERS_DIR, 'lib')).filter((f) => f.endsWith('.js')).map((f) => `lib/${f}`);

test('every resolver succeeds on its happy path, and the manifest grants exactly what they use', async () => {
  assert.deepEqual(Object.keys(HAPPY_PATHS).sort(), [...api.resolvers.keys()].sort(), 'one happy path per manifest resolver');
  for (const [field, options] of Object.entries(HAPPY_PATHS)) {
    control.reset();
    control.setNow(NOW);
    const out = await run(field, { db: seededDatabase(), ...options() });
    assert.deepEqual(out.errors, [], `${field} failed: ${JSON.stringify(out.errors)}`);
  }
  // No resolver has a data-source call that only some paths make, so the happy paths exercise every
  // grant a resolver can need: `observed` must equal what the manifest grants.
  const granted = new Set();
  for (const [name, source_] of Object.entries(api.manifest.dataSources)) {
    if (source_.type === 'AMAZON_DYNAMODB') {
      source_.tableActions.forEach((a) => granted.add(`${name} ${a}`));
      for (const [index, actions] of Object.entries(source_.indexes)) actions.forEach((a) => granted.add(`${name} ${a} index/${index}`));
    }
    if (source_.type === 'AWS_LAMBDA') source_.actions.forEach((a) => granted.add(`${name} ${a}`));
  }
  assert.deepEqual([...observed].sort(), [...granted].sort());
});

test('subscription filters test exactly the manifest\'s filterFields (what publishers must select)', async () => {
  for (const { field, filterFields } of api.manifest.subscriptions) {
    const options = HAPPY_PATHS[field]();
    const tested = new Set();
    // With and without the optional narrowing argument, so every filter the resolver can set is seen.
    for (const args of [options.args, { ...options.args, id: 'some-id' }]) {
      const out = await run(field, { ...options, args });
      out.subscriptionFilter.filterGroup.forEach((g) => g.filters.forEach((f) => tested.add(f.fieldName)));
    }
    assert.deepEqual([...tested].sort(), [...filterFields].sort(), field);
  }
});

test('every list field caps limit at 100 and defaults it to 20', async () => {
  const lists = Object.keys(HAPPY_PATHS).filter((field) => field.startsWith('Query.list'));
  assert.ok(lists.length >= 6);
  for (const field of lists) {
    const options = HAPPY_PATHS[field]();
    const args = { ...options.args };
    delete args.limit;
    const bad = await run(field, { db: seededDatabase(), ...options, args: { ...args, limit: 101 } });
    assert.deepEqual(bad.errors.map((e) => [e.errorType, e.message]), [['BadRequest', 'limit must be between 1 and 100, got 101']], field);
    assert.deepEqual(bad.calls, [], `${field} reads nothing with a bad limit`);
    const defaulted = await run(field, { db: seededDatabase(), ...options, args });
    const last = defaulted.calls[defaulted.calls.length - 1].request;
    assert.equal(last.limit ?? last.payload.arguments.limit, 20, field);
  }
});

test('resolver code fits the 32 KB AppSync limit once bundled', () => {
  for (const file of codeFiles) {
    const bytes = Buffer.byteLength(bundled[file].code);
    assert.ok(bytes <= CODE_LIMIT_BYTES, `${file} bundles to ${bytes} bytes`);
  }
});

// Code only: comments dropped, string and template text blanked (template ${...} code kept).
function codeOnly(text) {
  let out = '';
  let i = 0;
  const braces = []; // per open template: depth of ${ } nesting
  while (i < text.length) {
    const c = text[i];
    const n = text[i + 1];
    if (c === '/' && n === '/') {
      while (i < text.length && text[i] !== '\n') i += 1;
    } else if (c === '/' && n === '*') {
      i = text.indexOf('*/', i + 2) + 2;
    } else if (c === "'" || c === '"') {
      i += 1;
      while (text[i] !== c) i += text[i] === '\\' ? 2 : 1;
      i += 1;
      out += '""';
    } else if (c === '`' || (c === '}' && braces.length && braces[braces.length - 1] === 0)) {
      if (c === '}') braces.pop();
      i += 1;
      while (text[i] !== '`' && !(text[i] === '$' && text[i + 1] === '{')) i += text[i] === '\\' ? 2 : 1;
      if (text[i] === '`') {
        i += 1;
        out += '""';
      } else {
        i += 2;
        braces.push(0);
        out += '"" + (';
      }
    } else {
      if (braces.length && c === '{') braces[braces.length - 1] += 1;
      if (braces.length && c === '}') braces[braces.length - 1] -= 1;
      out += c;
      i += 1;
    }
  }
  return out;
}

// Methods the APPSYNC_JS runtime documents (supported-features: String, Number, Math, Array, Object,
// JSON, console). Notably absent: Array/String includes, Number.isInteger, Date, regular expressions.
const ES_METHODS = new Set([
  'charAt', 'concat', 'endsWith', 'indexOf', 'lastIndexOf', 'raw', 'replace', 'replaceAll', 'slice', 'split',
  'startsWith', 'toLowerCase', 'toUpperCase', 'trim', 'trimEnd', 'trimStart',
  'isFinite', 'isNaN',
  'random', 'min', 'max', 'round', 'floor', 'ceil',
  'fill', 'flat', 'join', 'pop', 'push', 'reverse', 'shift', 'sort', 'splice', 'unshift', 'forEach', 'map',
  'flatMap', 'filter', 'reduce', 'reduceRight', 'find', 'some', 'every', 'findIndex', 'findLast', 'findLastIndex',
  'assign', 'entries', 'hasOwn', 'keys', 'values',
  'parse', 'stringify',
  'error', 'log',
]);

// Names of the @aws-appsync/utils functions the stand-in provides (util.time.nowISO8601 -> nowISO8601).
function standInApi(object, names = new Set()) {
  for (const [name, value] of Object.entries(object)) {
    if (typeof value === 'function') names.add(name);
    else if (value && typeof value === 'object') standInApi(value, names);
  }
  return names;
}

function lintAppsyncJs(raw) {
  const problems = [];
  const code = codeOnly(raw);
  const forbidden = [
    [/\b(try|catch|finally|throw)\b/, 'try/catch/finally/throw'],
    [/\b(while|do|continue)\b/, 'while, do-while and continue'],
    [/\+\+|--|~/, 'the ++, -- and ~ operators'],
    [/\b(async|await|yield|class|new)\b/, 'async functions, generators, classes and constructors'],
    [/^\s*[A-Za-z_$][\w$]*\s*:\s*(for|while|do)\b/m, 'labeled statements'],
    [/\brequire\s*\(|\bimport\s*\(/, 'dynamic imports'],
    [/\.(apply|call|bind)\s*\(/, 'apply/call/bind'],
    [/\//, 'a `/` (regular expressions are unsupported, and this lint cannot tell one from a division)'],
  ];
  for (const [pattern, what] of forbidden) if (pattern.test(code)) problems.push(what);
  for (const loop of code.match(/\bfor\s*\([^)]*\)/g) ?? []) {
    if (!/^for\s*\(\s*(const|let|var)\s+[^;]+\s(of|in)\s[^;]+\)$/.test(loop)) problems.push(`a classic for loop (${loop})`);
  }
  if (/\bin\b/.test(code.replace(/\bfor\s*\([^)]*\)/g, ''))) problems.push('the `in` operator (use Object.hasOwn)');
  const allowed = new Set([...ES_METHODS, ...standInApi({ util, extensions })]);
  for (const [, name] of code.matchAll(/\.\s*([A-Za-z_$][\w$]*)\s*\(/g)) {
    if (!allowed.has(name)) problems.push(`method ${name}() (not in the APPSYNC_JS runtime or the modelled utils)`);
  }
  const declared = new Set([...code.matchAll(/\bfunction\s+([A-Za-z_$][\w$]*)/g)].map((m) => m[1]));
  for (const [, name] of code.matchAll(/(?<![.\w$])([A-Za-z_$][\w$]*)\s*\(/g)) {
    if (!declared.has(name) && !['if', 'for', 'while', 'switch', 'catch', 'return', 'typeof', 'void', 'function'].includes(name)) {
      problems.push(`global function ${name}() (none exist in APPSYNC_JS)`);
    }
  }
  const imports = [...raw.matchAll(/^import\s[^;]*?from\s+'([^']+)';/gm)].map((m) => m[1]);
  if (JSON.stringify([...new Set(imports)]) !== JSON.stringify(['@aws-appsync/utils'])) problems.push(`imports other than @aws-appsync/utils: ${imports}`);
  if (!/^export function request\(/m.test(raw)) problems.push('no exported request()');
  if (!/^export function response\(/m.test(raw)) problems.push('no exported response()');
  return [...new Set(problems)];
}

test('resolver code, as bundled for AppSync, uses only what APPSYNC_JS 1.0.0 supports', () => {
  // https://docs.aws.amazon.com/appsync/latest/devguide/supported-features.html
  for (const file of codeFiles) assert.deepEqual(lintAppsyncJs(bundled[file].code), [], file);
  // Every lib module reaches AppSync (and so this lint) through some bundle.
  for (const lib of libFiles) {
    assert.ok(codeFiles.some((file) => bundled[file].code.includes(`// ${file.startsWith('functions/') ? '../' : ''}${lib}\n`)), lib);
  }
});

test('the lint sees lib code: an unsupported call in a lib fails the bundle that imports it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'appsync-lint-'));
  try {
    mkdirSync(join(dir, 'lib'));
    writeFileSync(join(dir, 'lib', 'roles.js'), "export function hasRole(list, role) {\n  return list.includes(role);\n}\n");
    const entry = "import { util } from '@aws-appsync/utils';\nimport { hasRole } from './lib/roles.js';\n\n"
      + "export function request(ctx) {\n  if (!hasRole(ctx.identity.groups, 'ADMIN')) util.unauthorized();\n  return {};\n}\n\n"
      + 'export function response(ctx) {\n  return ctx.result;\n}\n';
    writeFileSync(join(dir, 'Query.x.js'), entry);
    assert.deepEqual(lintAppsyncJs(entry), ['global function hasRole() (none exist in APPSYNC_JS)', 'imports other than @aws-appsync/utils: @aws-appsync/utils,./lib/roles.js']);
    const code = bundleFiles(dir, ['Query.x.js'])['Query.x.js'];
    assert.deepEqual(lintAppsyncJs(code), ['method includes() (not in the APPSYNC_JS runtime or the modelled utils)']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the APPSYNC_JS lint catches what it claims to', () => {
  const head = "import { util } from '@aws-appsync/utils';\nexport function request(ctx) {\n";
  const tail = '\n}\nexport function response(ctx) {\n  return ctx.result;\n}\n';
  const lint = (body) => lintAppsyncJs(head + body + tail);
  assert.deepEqual(lint("  const s = 'try again; while /x/'; // in catch\n  return { payload: `in ${s} in` };"), []);
  assert.deepEqual(lint('  try { f(); } catch (e) {}'), ['try/catch/finally/throw', 'global function f() (none exist in APPSYNC_JS)']);
  assert.deepEqual(lint('  return [1].includes(1);'), ['method includes() (not in the APPSYNC_JS runtime or the modelled utils)']);
  assert.deepEqual(lint('  return `a ${ x in y } b`;'), ['the `in` operator (use Object.hasOwn)']);
  assert.deepEqual(lint('  for (let i = 0; i < 3; i += 1) {}'), ['a classic for loop (for (let i = 0; i < 3; i += 1))']);
  assert.deepEqual(lint('  return new Date();'), ['async functions, generators, classes and constructors', 'global function Date() (none exist in APPSYNC_JS)']);
  assert.deepEqual(lint("  return 'a'.replace(/a/g, 'b');"), ['a `/` (regular expressions are unsupported, and this lint cannot tell one from a division)']);
  assert.deepEqual(lint('  return util.time.nowEpochSeconds();'), ['method nowEpochSeconds() (not in the APPSYNC_JS runtime or the modelled utils)']);
});

// Shared helpers live once, in lib/ (the bundler inlines them per resolver): no function is declared in
// two modules, every lib export is used, and resolvers import only lib modules and @aws-appsync/utils.
test('a helper is declared in one module only, and every lib export is imported somewhere', () => {
  const declared = new Map();
  const imported = new Set();
  for (const file of [...codeFiles, ...libFiles]) {
    const text = source(file);
    for (const [, name] of text.matchAll(/^(?:export )?function (\w+)\(/gm)) {
      if (name === 'request' || name === 'response') continue;
      assert.ok(!declared.has(name), `${name} is declared in ${declared.get(name)} and ${file}: import it from lib/`);
      declared.set(name, file);
    }
    for (const [, names, from] of text.matchAll(/^import \{([^}]*)\} from '([^']+)';$/gm)) {
      const lib = from === '@aws-appsync/utils' || /^(\.\/|\.\.\/)lib\/\w+\.js$/.test(from) || (file.startsWith('lib/') && /^\.\/\w+\.js$/.test(from));
      assert.ok(lib, `${file} imports ${from}`);
      names.split(',').forEach((n) => imported.add(n.trim()));
    }
  }
  const exported = libFiles.flatMap((file) => [...source(file).matchAll(/^export (?:function|const|let) (\w+)/gm)].map((m) => [m[1], file]));
  assert.ok(exported.length >= 10, 'the check sees the lib helpers');
  for (const [name, file] of exported) assert.ok(imported.has(name), `${file} exports ${name}, which nothing imports`);
});
