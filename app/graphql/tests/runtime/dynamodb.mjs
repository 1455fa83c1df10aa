// In-memory DynamoDB behind AppSync DynamoDB data sources, taking the request objects JS resolvers
// return (GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan). It rejects what AppSync or DynamoDB
// would reject (unknown request fields, key-schema mismatches, untyped values, undefined or unused
// expression placeholders, GSI consistent reads, key updates) and evaluates condition, key-condition,
// filter and update expressions, so an ownership condition is exercised rather than merely printed.
//
// Deliberately stricter than DynamoDB: attribute names must go through #placeholders (owner, status,
// name, role... are reserved words, and a bare name is one slip away from a runtime ValidationException).

export class RequestError extends Error {}

const CONDITIONAL_FAILED = {
  type: 'DynamoDB:ConditionalCheckFailedException',
  message: 'The conditional request failed (Service: DynamoDb, Status Code: 400)',
};
const MAX_ITEM_BYTES = 400 * 1024;

const REQUEST_FIELDS = {
  GetItem: ['key', 'consistentRead'],
  PutItem: ['key', 'attributeValues', 'condition'],
  UpdateItem: ['key', 'update', 'condition'],
  DeleteItem: ['key', 'condition'],
  Query: ['query', 'index', 'nextToken', 'limit', 'scanIndexForward', 'consistentRead', 'filter'],
  Scan: ['limit', 'nextToken', 'consistentRead', 'filter'],
  BatchPutItem: ['tables'],
};
const MAX_BATCH_WRITE = 25; // DynamoDB's BatchWriteItem limit

const TYPES = new Set(['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL']);
const NUMBER_RE = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function fail(message) {
  throw new RequestError(message);
}

// ---------------------------------------------------------------------------------------------
// Typed attribute values
// ---------------------------------------------------------------------------------------------
function checkValue(value, where) {
  const keys = value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : [];
  if (keys.length !== 1 || !TYPES.has(keys[0])) fail(`${where}: not a typed DynamoDB value: ${JSON.stringify(value)}`);
  const [type] = keys;
  const inner = value[type];
  const ok = {
    S: () => typeof inner === 'string',
    N: () => typeof inner === 'string' && NUMBER_RE.test(inner),
    B: () => typeof inner === 'string',
    BOOL: () => typeof inner === 'boolean',
    NULL: () => inner === true,
    M: () => inner && typeof inner === 'object' && !Array.isArray(inner),
    L: () => Array.isArray(inner),
    SS: () => Array.isArray(inner) && inner.length > 0 && new Set(inner).size === inner.length,
    NS: () => Array.isArray(inner) && inner.length > 0 && inner.every((n) => NUMBER_RE.test(n)),
    BS: () => Array.isArray(inner) && inner.length > 0,
  }[type]();
  if (!ok) fail(`${where}: malformed ${type} value: ${JSON.stringify(value)}`);
  if (type === 'M') for (const [k, v] of Object.entries(inner)) checkValue(v, `${where}.${k}`);
  if (type === 'L') inner.forEach((v, i) => checkValue(v, `${where}[${i}]`));
}

// What AppSync hands the response function: plain JSON, numbers as numbers.
function untyped(value) {
  const [type] = Object.keys(value);
  const inner = value[type];
  switch (type) {
    case 'N':
      return Number(inner);
    case 'NS':
      return inner.map(Number);
    case 'NULL':
      return null;
    case 'M':
      return untypedItem(inner);
    case 'L':
      return inner.map(untyped);
    default:
      return inner;
  }
}

function untypedItem(item) {
  const out = {};
  for (const [k, v] of Object.entries(item)) out[k] = untyped(v);
  return out;
}

function typedOf(value) {
  if (value === null) return { NULL: true };
  if (Array.isArray(value)) return { L: value.map(typedOf) };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = typedOf(v);
  return { M: out };
}

function sameValue(a, b) {
  const [ta] = Object.keys(a);
  const [tb] = Object.keys(b);
  if (ta !== tb) return false;
  if (ta === 'N') return Number(a.N) === Number(b.N);
  return JSON.stringify(a) === JSON.stringify(b);
}

// <0, 0, >0 for two S or two N values; null when DynamoDB would not order them.
function order(a, b) {
  const [ta] = Object.keys(a);
  const [tb] = Object.keys(b);
  if (ta !== tb) return null;
  if (ta === 'N') return Number(a.N) - Number(b.N);
  if (ta === 'S') return a.S < b.S ? -1 : a.S > b.S ? 1 : 0;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Expressions
// ---------------------------------------------------------------------------------------------
const TOKEN_RE = /\s*(?:(#[A-Za-z0-9_]+)|(:[A-Za-z0-9_]+)|([A-Za-z_][A-Za-z0-9_]*)|(<>|<=|>=|[=<>(),.+-]))/y;
const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'SET', 'REMOVE', 'ADD', 'DELETE']);
const FUNCTIONS = new Set(['attribute_exists', 'attribute_not_exists', 'begins_with']);
const COMPARATORS = new Set(['=', '<>', '<', '<=', '>', '>=']);

function tokenize(expression) {
  if (typeof expression !== 'string' || !expression.trim()) fail('an expression must be a non-empty string');
  const tokens = [];
  let at = 0;
  while (expression.slice(at).trim()) {
    TOKEN_RE.lastIndex = at;
    const m = TOKEN_RE.exec(expression);
    if (!m) fail(`Invalid expression: unexpected "${expression.slice(at).trim()}" in "${expression}"`);
    if (m[3] && !KEYWORDS.has(m[3].toUpperCase()) && !FUNCTIONS.has(m[3])) {
      fail(`bare attribute name "${m[3]}" in "${expression}": use an #placeholder`);
    }
    tokens.push(
      m[1] ? { kind: 'name', text: m[1] }
        : m[2] ? { kind: 'value', text: m[2] }
          : m[3] ? { kind: 'word', text: m[3] }
            : { kind: 'op', text: m[4] },
    );
    at = TOKEN_RE.lastIndex;
  }
  return tokens;
}

class Parser {
  constructor(expression) {
    this.expression = expression;
    this.tokens = tokenize(expression);
    this.at = 0;
  }

  peek() {
    return this.tokens[this.at];
  }

  isWord(word) {
    const t = this.peek();
    return t?.kind === 'word' && t.text.toUpperCase() === word;
  }

  isOp(op) {
    const t = this.peek();
    return t?.kind === 'op' && t.text === op;
  }

  take(kind, text) {
    const t = this.tokens[this.at];
    if (!t || t.kind !== kind || (text !== undefined && t.text.toUpperCase() !== text)) {
      fail(`Invalid expression "${this.expression}": expected ${text ?? kind} at token ${this.at + 1}`);
    }
    this.at += 1;
    return t;
  }

  done() {
    if (this.at !== this.tokens.length) fail(`Invalid expression "${this.expression}": unexpected trailing tokens`);
  }

  condition() {
    let left = this.conjunction();
    while (this.isWord('OR')) {
      this.at += 1;
      left = { kind: 'or', a: left, b: this.conjunction() };
    }
    return left;
  }

  conjunction() {
    let left = this.unary();
    while (this.isWord('AND')) {
      this.at += 1;
      left = { kind: 'and', a: left, b: this.unary() };
    }
    return left;
  }

  unary() {
    if (this.isWord('NOT')) {
      this.at += 1;
      return { kind: 'not', a: this.unary() };
    }
    if (this.isOp('(')) {
      this.at += 1;
      const inner = this.condition();
      this.take('op', ')');
      return inner;
    }
    const t = this.peek();
    if (t?.kind === 'word' && FUNCTIONS.has(t.text)) {
      this.at += 1;
      this.take('op', '(');
      const args = [this.path()];
      if (t.text === 'begins_with') {
        this.take('op', ',');
        args.push(this.operand());
      }
      this.take('op', ')');
      return { kind: 'fn', name: t.text, args };
    }
    const left = this.operand();
    if (this.isWord('IN')) {
      this.at += 1;
      this.take('op', '(');
      const list = [this.operand()];
      while (this.isOp(',')) {
        this.at += 1;
        list.push(this.operand());
      }
      this.take('op', ')');
      return { kind: 'in', x: left, list };
    }
    const op = this.take('op');
    if (!COMPARATORS.has(op.text)) fail(`Invalid expression "${this.expression}": ${op.text} is not a comparator`);
    return { kind: 'cmp', op: op.text, a: left, b: this.operand() };
  }

  operand() {
    const t = this.peek();
    if (t?.kind === 'value') {
      this.at += 1;
      return { kind: 'value', name: t.text };
    }
    return this.path();
  }

  path() {
    const names = [this.take('name').text];
    while (this.isOp('.')) {
      this.at += 1;
      names.push(this.take('name').text);
    }
    return { kind: 'path', names };
  }

  // SET a = operand, ... REMOVE a, ...
  update() {
    const clauses = {};
    while (this.peek()) {
      const word = this.take('word').text.toUpperCase();
      if (clauses[word]) fail(`Invalid UpdateExpression "${this.expression}": the ${word} section can only be used once`);
      if (word === 'SET') {
        clauses.SET = [this.setAction()];
        while (this.isOp(',')) {
          this.at += 1;
          clauses.SET.push(this.setAction());
        }
      } else if (word === 'REMOVE') {
        clauses.REMOVE = [this.path()];
        while (this.isOp(',')) {
          this.at += 1;
          clauses.REMOVE.push(this.path());
        }
      } else {
        fail(`UpdateExpression section ${word} is not modelled by the test DynamoDB`);
      }
    }
    return clauses;
  }

  setAction() {
    const path = this.path();
    this.take('op', '=');
    return { path, value: this.operand() };
  }
}

function placeholders(expression) {
  const names = new Set();
  const values = new Set();
  for (const t of tokenize(expression)) {
    if (t.kind === 'name') names.add(t.text);
    if (t.kind === 'value') values.add(t.text);
  }
  return { names, values };
}

// DynamoDB checks placeholders across the whole call; AppSync merges the request's expression parts.
function mergedPlaceholders(parts) {
  const names = {};
  const values = {};
  const used = { names: new Set(), values: new Set() };
  for (const [label, part] of parts) {
    if (!part || typeof part !== 'object') fail(`${label} must be an object with an expression`);
    for (const key of Object.keys(part)) {
      if (!['expression', 'expressionNames', 'expressionValues'].includes(key)) fail(`${label}: unknown field ${key}`);
    }
    const p = placeholders(part.expression);
    p.names.forEach((n) => used.names.add(n));
    p.values.forEach((v) => used.values.add(v));
    for (const [k, v] of Object.entries(part.expressionNames ?? {})) {
      if (!k.startsWith('#') || typeof v !== 'string') fail(`${label}: bad expression name ${k}`);
      if (Object.hasOwn(names, k) && names[k] !== v) fail(`${label}: ${k} defined twice with different names`);
      names[k] = v;
    }
    for (const [k, v] of Object.entries(part.expressionValues ?? {})) {
      if (!k.startsWith(':')) fail(`${label}: bad expression value ${k}`);
      checkValue(v, `${label} ${k}`);
      if (Object.hasOwn(values, k) && !sameValue(values[k], v)) fail(`${label}: ${k} defined twice with different values`);
      values[k] = v;
    }
  }
  for (const n of used.names) if (!Object.hasOwn(names, n)) fail(`An expression attribute name used in the document path is not defined; attribute name: ${n}`);
  for (const v of used.values) if (!Object.hasOwn(values, v)) fail(`An expression attribute value used in expression is not defined; attribute value: ${v}`);
  const unusedNames = Object.keys(names).filter((n) => !used.names.has(n));
  if (unusedNames.length) fail(`Value provided in ExpressionAttributeNames unused in expressions: keys: {${unusedNames.join(', ')}}`);
  const unusedValues = Object.keys(values).filter((v) => !used.values.has(v));
  if (unusedValues.length) fail(`Value provided in ExpressionAttributeValues unused in expressions: keys: {${unusedValues.join(', ')}}`);
  return { names, values };
}

function attributePath(path, env) {
  return path.names.map((n) => env.names[n]);
}

function lookup(item, path, env) {
  const [first, ...rest] = attributePath(path, env);
  let value = item[first];
  for (const segment of rest) value = value?.M?.[segment];
  return value;
}

function operandValue(operand, item, env) {
  return operand.kind === 'value' ? env.values[operand.name] : lookup(item, operand, env);
}

function evaluate(node, item, env) {
  switch (node.kind) {
    case 'or':
      return evaluate(node.a, item, env) || evaluate(node.b, item, env);
    case 'and':
      return evaluate(node.a, item, env) && evaluate(node.b, item, env);
    case 'not':
      return !evaluate(node.a, item, env);
    case 'fn': {
      const target = lookup(item, node.args[0], env);
      if (node.name === 'attribute_exists') return target !== undefined;
      if (node.name === 'attribute_not_exists') return target === undefined;
      const prefix = operandValue(node.args[1], item, env);
      return target?.S !== undefined && prefix?.S !== undefined && target.S.startsWith(prefix.S);
    }
    case 'in': {
      const x = operandValue(node.x, item, env);
      return !!x && node.list.some((o) => {
        const v = operandValue(o, item, env);
        return !!v && sameValue(x, v);
      });
    }
    case 'cmp': {
      const a = operandValue(node.a, item, env);
      const b = operandValue(node.b, item, env);
      if (!a || !b) return false;
      if (node.op === '=') return sameValue(a, b);
      if (node.op === '<>') return !sameValue(a, b);
      const o = order(a, b);
      if (o === null) return false;
      return { '<': o < 0, '<=': o <= 0, '>': o > 0, '>=': o >= 0 }[node.op];
    }
    default:
      return fail(`cannot evaluate ${node.kind}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------
function keyAttributes(schema) {
  return [schema.hashKey, schema.rangeKey].filter(Boolean);
}

function itemBytes(item) {
  return Buffer.byteLength(JSON.stringify(item));
}

export class FakeDynamoDB {
  // tables: {name: {hashKey: {name, type}, rangeKey?, indexes: {name: {hashKey, rangeKey?}}}}
  constructor(tables) {
    this.tables = tables;
    this.data = new Map(Object.keys(tables).filter((t) => !t.startsWith('_')).map((t) => [t, new Map()]));
  }

  spec(table) {
    const spec = this.tables[table];
    if (!spec || table.startsWith('_')) fail(`Requested resource not found: table ${table}`);
    return spec;
  }

  storageKey(table, key) {
    const spec = this.spec(table);
    const attrs = keyAttributes(spec);
    const names = Object.keys(key ?? {});
    if (names.length !== attrs.length || !attrs.every((a) => names.includes(a.name))) {
      fail(`The provided key element does not match the schema of ${table}: got {${names.join(', ')}}, want {${attrs.map((a) => a.name).join(', ')}}`);
    }
    for (const a of attrs) {
      checkValue(key[a.name], `key.${a.name}`);
      const [type] = Object.keys(key[a.name]);
      if (type !== a.type) fail(`key.${a.name} must be of type ${a.type}, got ${type}`);
      if (type === 'S' && key[a.name].S === '') fail(`key.${a.name}: an empty string is not a valid key value`);
    }
    return JSON.stringify(attrs.map((a) => key[a.name]));
  }

  // Test set-up: plain JSON items in, as a PutItem would store them.
  seed(table, items) {
    const spec = this.spec(table);
    for (const plain of items) {
      const item = typedOf(plain).M;
      const key = Object.fromEntries(keyAttributes(spec).map((a) => [a.name, item[a.name]]));
      this.data.get(table).set(this.storageKey(table, key), item);
    }
  }

  items(table) {
    this.spec(table);
    return [...this.data.get(table).values()].map(untypedItem);
  }

  item(table, plainKey) {
    const stored = this.data.get(table).get(this.storageKey(table, typedOf(plainKey).M));
    return stored ? untypedItem(stored) : null;
  }

  // One data-source call: {result} or {error: {type, message}} as AppSync would put in ctx.
  execute(table, request) {
    const op = request?.operation;
    if (!Object.hasOwn(REQUEST_FIELDS, op)) fail(`unsupported DynamoDB operation ${op}`);
    for (const field of Object.keys(request)) {
      if (field !== 'operation' && !REQUEST_FIELDS[op].includes(field)) fail(`${op}: field ${field} is not valid here (or not modelled)`);
    }
    return this[op.charAt(0).toLowerCase() + op.slice(1)](table, request);
  }

  conditionHolds(request, existing, env) {
    if (!request.condition) return true;
    const parser = new Parser(request.condition.expression);
    const ast = parser.condition();
    parser.done();
    return evaluate(ast, existing ?? {}, env);
  }

  getItem(table, request) {
    const stored = this.data.get(table)?.get(this.storageKey(table, request.key));
    return { result: stored ? untypedItem(stored) : null };
  }

  putItem(table, request) {
    const storageKey = this.storageKey(table, request.key);
    const attributes = request.attributeValues ?? {};
    for (const [k, v] of Object.entries(attributes)) {
      if (Object.hasOwn(request.key, k)) fail(`PutItem: ${k} is given in both key and attributeValues`);
      checkValue(v, `attributeValues.${k}`);
    }
    const env = mergedPlaceholders(request.condition ? [['condition', request.condition]] : []);
    const existing = this.data.get(table).get(storageKey);
    if (!this.conditionHolds(request, existing, env)) return { error: CONDITIONAL_FAILED, result: null };
    const item = { ...request.key, ...attributes };
    if (itemBytes(item) > MAX_ITEM_BYTES) return { error: { type: 'DynamoDB:DynamoDbException', message: 'Item size has exceeded the maximum allowed size' }, result: null };
    this.data.get(table).set(storageKey, item);
    return { result: untypedItem(item) };
  }

  updateItem(table, request) {
    const storageKey = this.storageKey(table, request.key);
    const parts = [['update', request.update]];
    if (request.condition) parts.push(['condition', request.condition]);
    const env = mergedPlaceholders(parts);
    const parser = new Parser(request.update.expression);
    const clauses = parser.update();
    parser.done();
    const existing = this.data.get(table).get(storageKey);
    if (!this.conditionHolds(request, existing, env)) return { error: CONDITIONAL_FAILED, result: null };
    const before = existing ?? { ...request.key };
    const after = { ...before };
    const touched = new Set();
    const keyNames = keyAttributes(this.spec(table)).map((a) => a.name);
    const touch = (path) => {
      const attr = attributePath(path, env);
      if (attr.length !== 1) fail('nested update paths are not modelled by the test DynamoDB');
      if (keyNames.includes(attr[0])) fail(`Cannot update attribute ${attr[0]}. This attribute is part of the key`);
      if (touched.has(attr[0])) fail(`Invalid UpdateExpression: Two document paths overlap: ${attr[0]}`);
      touched.add(attr[0]);
      return attr[0];
    };
    // Every operand reads the item as it was before this update, as DynamoDB does.
    for (const { path, value } of clauses.SET ?? []) {
      const attr = touch(path);
      const v = operandValue(value, before, env);
      if (v === undefined) fail(`The provided expression refers to an attribute that does not exist in the item: ${attr}`);
      after[attr] = v;
    }
    for (const path of clauses.REMOVE ?? []) delete after[touch(path)];
    if (itemBytes(after) > MAX_ITEM_BYTES) return { error: { type: 'DynamoDB:DynamoDbException', message: 'Item size has exceeded the maximum allowed size' }, result: null };
    this.data.get(table).set(storageKey, after);
    return { result: untypedItem(after) };
  }

  // Every item written (no conditions in a batch); the result lists them under their table, with no
  // unprocessed items. The data source's table is the only one a batch may name (see the harness).
  batchPutItem(table, request) {
    const names = Object.keys(request.tables ?? {});
    if (names.length !== 1 || names[0] !== table) fail(`BatchPutItem: must name exactly table ${table}, got ${names.join(', ')}`);
    const items = request.tables[table];
    if (!Array.isArray(items) || items.length < 1 || items.length > MAX_BATCH_WRITE) {
      fail(`BatchPutItem: 1-${MAX_BATCH_WRITE} items per batch, got ${items?.length}`);
    }
    const keyNames = keyAttributes(this.spec(table)).map((a) => a.name);
    const seen = new Set();
    const stored = items.map((item, i) => {
      for (const [k, v] of Object.entries(item)) checkValue(v, `tables.${table}[${i}].${k}`);
      const storageKey = this.storageKey(table, Object.fromEntries(keyNames.map((k) => [k, item[k]])));
      if (seen.has(storageKey)) fail('BatchWriteItem: Provided list of item keys contains duplicates');
      seen.add(storageKey);
      if (itemBytes(item) > MAX_ITEM_BYTES) fail('Item size has exceeded the maximum allowed size');
      return [storageKey, item];
    });
    for (const [storageKey, item] of stored) this.data.get(table).set(storageKey, item);
    const data = {};
    data[table] = stored.map(([, item]) => untypedItem(item));
    const unprocessedItems = {};
    unprocessedItems[table] = [];
    return { result: { data, unprocessedItems } };
  }

  deleteItem(table, request) {
    const storageKey = this.storageKey(table, request.key);
    const env = mergedPlaceholders(request.condition ? [['condition', request.condition]] : []);
    const existing = this.data.get(table).get(storageKey);
    if (!this.conditionHolds(request, existing, env)) return { error: CONDITIONAL_FAILED, result: null };
    this.data.get(table).delete(storageKey);
    return { result: existing ? untypedItem(existing) : null };
  }

  query(table, request) {
    const spec = this.spec(table);
    let schema = spec;
    if (request.index !== undefined) {
      schema = spec.indexes?.[request.index];
      if (!schema) fail(`The table does not have the specified index: ${request.index}`);
      if (request.consistentRead) fail('Consistent reads are not supported on global secondary indexes');
    }
    const parts = [['query', request.query]];
    if (request.filter) parts.push(['filter', request.filter]);
    const env = mergedPlaceholders(parts);
    const parser = new Parser(request.query.expression);
    const keyCondition = parser.condition();
    parser.done();
    checkKeyCondition(keyCondition, schema, env, request.query.expression);
    const filter = parseFilter(request.filter, schema, env);
    const candidates = this.indexed(table, schema).filter((item) => evaluate(keyCondition, item, env));
    const range = schema.rangeKey?.name;
    const position = (item) => ({ range: range ? item[range] : null, key: this.primaryKeyString(table, item) });
    const compare = (a, b) => (a.range && b.range ? order(a.range, b.range) : 0) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    const direction = request.scanIndexForward === false ? -1 : 1;
    candidates.sort((a, b) => direction * compare(position(a), position(b)));
    return this.page(candidates, request, filter, env, position, (p, start) => direction * compare(p, start) > 0);
  }

  scan(table, request) {
    this.spec(table);
    const env = mergedPlaceholders(request.filter ? [['filter', request.filter]] : []);
    const filter = parseFilter(request.filter, null, env);
    const items = [...this.data.get(table).values()];
    const position = (item) => ({ key: this.primaryKeyString(table, item) });
    items.sort((a, b) => (position(a).key < position(b).key ? -1 : 1));
    return this.page(items, request, filter, env, position, (p, start) => p.key > start.key);
  }

  // Items an index holds: GSIs are sparse (only items carrying the index key attributes, typed right).
  indexed(table, schema) {
    return [...this.data.get(table).values()].filter((item) => keyAttributes(schema).every((a) => item[a.name] && Object.keys(item[a.name])[0] === a.type));
  }

  primaryKeyString(table, item) {
    return JSON.stringify(keyAttributes(this.spec(table)).map((a) => item[a.name]));
  }

  // Limit counts items read before the filter; reaching it always yields a token, even on the last
  // item (DynamoDB cannot know nothing follows), so clients see a final empty page.
  page(sorted, request, filter, env, position, isAfter) {
    let rest = sorted;
    if (request.nextToken !== undefined) {
      let start;
      try {
        start = JSON.parse(Buffer.from(request.nextToken, 'base64').toString('utf8'));
      } catch {
        fail('The provided starting key is invalid');
      }
      if (start?.index !== (request.index ?? null)) fail('The provided starting key is invalid');
      rest = sorted.filter((item) => isAfter(position(item), start.position));
    }
    if (request.limit !== undefined && !(Number.isInteger(request.limit) && request.limit >= 1)) {
      fail(`limit must be a positive integer, got ${request.limit}`);
    }
    const evaluated = request.limit === undefined ? rest : rest.slice(0, request.limit);
    const items = filter ? evaluated.filter((item) => evaluate(filter, item, env)) : evaluated;
    const last = evaluated[evaluated.length - 1];
    const nextToken = request.limit !== undefined && evaluated.length === request.limit
      ? Buffer.from(JSON.stringify({ index: request.index ?? null, position: position(last) })).toString('base64')
      : null;
    return { result: { items: items.map(untypedItem), nextToken, scannedCount: evaluated.length } };
  }
}

function parseFilter(filter, schema, env) {
  if (!filter) return null;
  const parser = new Parser(filter.expression);
  const ast = parser.condition();
  parser.done();
  const keys = schema ? keyAttributes(schema).map((a) => a.name) : [];
  const mentioned = placeholders(filter.expression).names;
  for (const n of mentioned) {
    if (keys.includes(env.names[n])) fail(`Filter Expression can only contain non-primary key attributes: ${env.names[n]}`);
  }
  return ast;
}

// hash = :v [AND range (=|<|<=|>|>=) :v | begins_with(range, :v)]
function checkKeyCondition(ast, schema, env, expression) {
  const parts = ast.kind === 'and' ? [ast.a, ast.b] : [ast];
  const attr = (operand) => (operand?.kind === 'path' && operand.names.length === 1 ? env.names[operand.names[0]] : null);
  const bad = () => fail(`Query key condition not supported: "${expression}"`);
  const hash = parts.find((p) => p.kind === 'cmp' && p.op === '=' && attr(p.a) === schema.hashKey.name && p.b.kind === 'value');
  if (!hash) bad();
  for (const p of parts.filter((x) => x !== hash)) {
    if (!schema.rangeKey) bad();
    const onRange = (p.kind === 'cmp' && p.op !== '<>' && attr(p.a) === schema.rangeKey.name && p.b.kind === 'value')
      || (p.kind === 'fn' && p.name === 'begins_with' && attr(p.args[0]) === schema.rangeKey.name && p.args[1].kind === 'value');
    if (!onRange) bad();
  }
}
