// Runs resolvers the way AppSync does, from the manifest: unit resolvers (request -> data source ->
// response) and pipelines (before -> functions -> after), with errors raised by util.error /
// util.unauthorized turned into GraphQL errors. Data sources: the fake DynamoDB (only the actions and
// indexes the manifest grants the data source: anything else fails like an IAM AccessDenied would),
// a Lambda stand-in supplied by the test, and NONE.
//
// Resolver code comes in two forms: 'source' (the files as written, lib/ imports resolved by Node) and
// 'bundled' (what AppSync receives, see bundles.mjs). Tests use RESOLVER_CODE (default source), so
// `RESOLVER_CODE=bundled node --test app/graphql/tests/` runs every test on the bundles.
import './register.mjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { AppSyncError, control } from './appsync-utils.mjs';
import { bundles, RESOLVERS_DIR } from './bundles.mjs';
import { FakeDynamoDB } from './dynamodb.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export { RESOLVERS_DIR };
export const TABLES = JSON.parse(readFileSync(join(HERE, '..', 'tables.json'), 'utf8'));

export { control };

export function newDatabase() {
  return new FakeDynamoDB(TABLES);
}

// Identities as AppSync puts them in ctx.identity.
export function cognito(sub, groups = []) {
  return {
    sub,
    issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test',
    username: sub,
    claims: { sub, 'cognito:groups': groups, token_use: 'id' },
    sourceIp: ['203.0.113.10'],
    defaultAuthStrategy: 'ALLOW',
    groups: groups.length ? groups : null,
  };
}

export function iamRole(name = 'sessions-task-state-1a2b3c4') {
  return {
    accountId: '123456789012',
    cognitoIdentityPoolId: null,
    cognitoIdentityId: null,
    sourceIp: ['10.0.0.1'],
    username: 'AROAEXAMPLE:session',
    userArn: `arn:aws:sts::123456789012:assumed-role/${name}/session`,
  };
}

export const API_KEY = null; // API_KEY callers have no identity

// Every (dataSource, action, index) a resolver actually used, for the least-privilege check.
export const observed = new Set();

const CODE_FORMS = ['source', 'bundled'];
export const RESOLVER_CODE = process.env.RESOLVER_CODE || 'source';
if (!CODE_FORMS.includes(RESOLVER_CODE)) throw new Error(`RESOLVER_CODE must be one of ${CODE_FORMS.join(', ')}, got ${RESOLVER_CODE}`);

export function codeFiles(manifest) {
  return [...new Set([...manifest.resolvers, ...manifest.functions].map((e) => e.file))];
}

const loaded = new Map();

export async function loadApi(form = RESOLVER_CODE) {
  if (!CODE_FORMS.includes(form)) throw new Error(`resolver code form must be one of ${CODE_FORMS.join(', ')}, got ${form}`);
  if (loaded.has(form)) return loaded.get(form);
  const manifest = JSON.parse(readFileSync(join(RESOLVERS_DIR, 'manifest.json'), 'utf8'));
  const bundled = form === 'bundled' ? bundles(codeFiles(manifest)) : null;
  const load = (file) => import(pathToFileURL(bundled ? bundled[file].path : join(RESOLVERS_DIR, file)).href);
  const functions = new Map();
  for (const fn of manifest.functions) functions.set(fn.name, { ...fn, code: await load(fn.file) });
  const resolvers = new Map();
  for (const entry of manifest.resolvers) {
    resolvers.set(`${entry.typeName}.${entry.fieldName}`, { ...entry, code: await load(entry.file) });
  }
  const api = { form, manifest, functions, resolvers };
  loaded.set(form, api);
  return api;
}

// AppSync serialises what request handlers return; a value that cannot cross that boundary is a bug.
function json(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function callDataSource(api, name, sent, env) {
  const source = api.manifest.dataSources[name];
  if (!source) throw new Error(`manifest names no data source ${name}`);
  if (source.type === 'NONE') {
    if (!sent || !Object.hasOwn(sent, 'payload')) throw new Error('a NONE data source request needs {payload}');
    return { result: sent.payload };
  }
  if (source.type === 'AWS_LAMBDA') {
    if (sent?.operation !== 'Invoke' || !Object.hasOwn(sent, 'payload')) throw new Error('a Lambda request needs {operation: "Invoke", payload}');
    if (!env.lambda) throw new Error(`test supplied no Lambda for data source ${name}`);
    observed.add(`${name} lambda:InvokeFunction`);
    try {
      return { result: json(env.lambda(sent.payload)) };
    } catch (e) {
      // A raised Lambda error reaches resolver code as its message with type "Lambda:Unhandled";
      // the function's own errorType does not survive (aws/aws-appsync-community#209).
      return { result: null, error: { message: e.errorMessage ?? e.message, type: 'Lambda:Unhandled' } };
    }
  }
  const action = `dynamodb:${IAM_ACTION[sent.operation] ?? sent.operation}`;
  const granted = sent.index === undefined ? source.tableActions : source.indexes[sent.index];
  if (!granted?.includes(action)) {
    throw new Error(`AccessDenied: data source ${name} is not granted ${action} on ${source.table}${sent.index ? `/index/${sent.index}` : ''}`);
  }
  observed.add(`${name} ${action}${sent.index ? ` index/${sent.index}` : ''}`);
  if (!env.db) throw new Error('test supplied no database');
  const outcome = env.db.execute(source.table, withTableName(sent, source.table));
  return Object.hasOwn(sent, 'tables') ? asSent(outcome, source.table) : outcome;
}

// AppSync answers a batch under the table names the request used: the resolver's TABLE_TOKEN here.
function asSent(outcome, table) {
  if (!outcome.result) return outcome;
  const rename = (byTable) => ({ [TABLE_TOKEN]: byTable[table] });
  return { ...outcome, result: { data: rename(outcome.result.data), unprocessedItems: rename(outcome.result.unprocessedItems) } };
}

// AppSync request operations whose IAM action has another name.
const IAM_ACTION = { BatchPutItem: 'BatchWriteItem', BatchDeleteItem: 'BatchWriteItem' };

// Batch requests name their table. Resolver code writes TABLE_TOKEN, which the API component replaces
// with the data source's physical table name at deploy time (components/api.py); here it becomes the
// logical name the fake database knows. Any other name would reach a table the role was not granted.
export const TABLE_TOKEN = '__DATA_SOURCE_TABLE__';

export function withTableName(sent, table) {
  if (!Object.hasOwn(sent, 'tables')) return sent;
  const names = Object.keys(sent.tables);
  if (names.length !== 1 || names[0] !== TABLE_TOKEN) {
    throw new Error(`AccessDenied: a batch may only name its data source's table (as ${TABLE_TOKEN}), got ${names.join(', ')}`);
  }
  return { ...sent, tables: { [table]: sent.tables[TABLE_TOKEN] } };
}

// The AppSync execution order for one field, synchronous and data-source agnostic:
// dispatch(dataSourceName, request) returns what AppSync would put in ctx.result / ctx.error.
export function executeField(api, entry, ctx, dispatch) {
  if (entry.kind === 'UNIT') {
    Object.assign(ctx, dispatch(entry.dataSource, entry.code.request(ctx)));
    return entry.code.response(ctx);
  }
  ctx.prev = { result: entry.code.request(ctx) };
  for (const name of entry.functions) {
    const fn = api.functions.get(name);
    ctx.result = undefined;
    ctx.error = undefined;
    Object.assign(ctx, dispatch(fn.dataSource, fn.code.request(ctx)));
    ctx.prev = { result: fn.code.response(ctx) };
  }
  return entry.code.response(ctx);
}

export function newContext(entry, args, identity) {
  const arguments_ = json(args);
  return {
    arguments: arguments_,
    args: arguments_,
    identity,
    source: null,
    stash: {},
    prev: undefined,
    result: undefined,
    error: undefined,
    info: { fieldName: entry.fieldName, parentTypeName: entry.typeName, variables: {}, selectionSetList: [] },
    request: { headers: {} },
  };
}

// One GraphQL field. Returns {data, errors, calls, subscriptionFilter}; `calls` lists every data-source
// call in order as {dataSource, request, result, error}. `form` picks the resolver code (see loadApi).
export async function run(field, { args = {}, identity = null, db, lambda, form } = {}) {
  const api = await loadApi(form);
  const entry = api.resolvers.get(field);
  if (!entry) throw new Error(`manifest has no resolver for ${field}`);
  const ctx = newContext(entry, args, identity);
  const calls = [];
  const dispatch = (name, request) => {
    const call = { dataSource: name, request: json(request) };
    calls.push(call);
    const outcome = callDataSource(api, name, call.request, { db, lambda });
    call.result = outcome.result;
    call.error = outcome.error;
    return { result: json(outcome.result), error: outcome.error };
  };
  control.beginField(entry.typeName, entry.fieldName);
  try {
    const data = json(executeField(api, entry, ctx, dispatch));
    return { data: data ?? null, errors: [], calls, subscriptionFilter: control.subscriptionFilter() };
  } catch (e) {
    if (!(e instanceof AppSyncError)) throw e;
    return {
      data: null,
      errors: [{ message: e.message, errorType: e.errorType, data: e.data, errorInfo: e.errorInfo }],
      calls,
      subscriptionFilter: control.subscriptionFilter(),
    };
  }
}

// AppSync's evaluation of an enhanced filter against a published payload: groups OR-ed, filters AND-ed.
// Only `eq` (all our resolvers use) is modelled.
export function filterAccepts(filter, payload) {
  const test = ({ fieldName, operator, value }) => {
    if (operator !== 'eq') throw new Error(`filterAccepts: operator ${operator} not modelled`);
    return fieldName.split('.').reduce((o, k) => o?.[k], payload) === value;
  };
  return filter.filterGroup.some((group) => group.filters.every(test));
}
