// The test runtime itself: the @aws-appsync/utils stand-in follows the AppSync reference, and the fake
// DynamoDB refuses what DynamoDB/AppSync would refuse. Without these, resolver tests could pass on a
// runtime that accepts anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { util, extensions, control, AppSyncError } from './runtime/appsync-utils.mjs';
import { RequestError } from './runtime/dynamodb.mjs';
import { newDatabase } from './runtime/harness.mjs';

test('util.dynamodb converts the way AppSync documents', () => {
  assert.deepEqual(util.dynamodb.toDynamoDB('foo'), { S: 'foo' });
  assert.deepEqual(util.dynamodb.toDynamoDB(12345), { N: '12345' });
  assert.deepEqual(util.dynamodb.toDynamoDB(true), { BOOL: true });
  assert.deepEqual(util.dynamodb.toDynamoDB(null), { NULL: true });
  assert.deepEqual(util.dynamodb.toDynamoDB(['foo', 123, { bar: 'baz' }]), { L: [{ S: 'foo' }, { N: '123' }, { M: { bar: { S: 'baz' } } }] });
  assert.deepEqual(util.dynamodb.toMapValues({ foo: 'bar', baz: 1234, beep: ['boop'] }), { foo: { S: 'bar' }, baz: { N: '1234' }, beep: { L: [{ S: 'boop' }] } });
  assert.throws(() => util.dynamodb.toMapValues({ missing: undefined }), /cannot convert a value of type undefined/);
});

test('util.time: ISO 8601 in UTC with milliseconds, offsets normalised', () => {
  control.setNow('2024-01-02T03:04:05.678Z');
  assert.equal(util.time.nowISO8601(), '2024-01-02T03:04:05.678Z');
  control.setNow(null);
  assert.match(util.time.nowISO8601(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(util.time.epochMilliSecondsToISO8601(util.time.parseISO8601ToEpochMilliSeconds('2024-01-02T12:00:00+09:00')), '2024-01-02T03:00:00.000Z');
});

test('util.autoId is a v4 UUID unless a test queued ids', () => {
  assert.match(util.autoId(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  control.queueIds('fixed');
  assert.equal(util.autoId(), 'fixed');
});

test('util.error and util.unauthorized stop the handler with a GraphQL error', () => {
  control.beginField('Query', 'getThing');
  assert.throws(() => util.error('boom', 'Custom', { a: 1 }, { b: 2 }), (e) => e instanceof AppSyncError && e.errorType === 'Custom' && e.data.a === 1 && e.errorInfo.b === 2);
  assert.throws(() => util.unauthorized(), { message: 'Not Authorized to access getThing on type Query', errorType: 'Unauthorized' });
});

test('toSubscriptionFilter / setSubscriptionFilter produce and accept the documented filter shape', () => {
  const filter = util.transform.toSubscriptionFilter({ owner: { eq: 'u1' }, severity: { ge: 7 } });
  assert.deepEqual(filter, { filterGroup: [{ filters: [{ fieldName: 'owner', operator: 'eq', value: 'u1' }, { fieldName: 'severity', operator: 'ge', value: 7 }] }] });
  control.beginField('Subscription', 'onThing');
  extensions.setSubscriptionFilter(filter);
  assert.deepEqual(control.subscriptionFilter(), filter);
  assert.throws(() => util.transform.toSubscriptionFilter({ owner: 'u1' }), /needs \{operator: value\}/);
  assert.throws(() => util.transform.toSubscriptionFilter({ owner: { equals: 'u1' } }), /unknown operator equals/);
  assert.throws(() => util.transform.toSubscriptionFilter({ owner: { in: [1, 2, 3, 4, 5, 6] } }), /at most 5 values/);
  assert.throws(() => extensions.setSubscriptionFilter({ owner: { eq: 'u1' } }), /filterGroup/);
});

const put = (extra = {}) => ({ operation: 'PutItem', key: { id: { S: 'c1' } }, attributeValues: { owner: { S: 'alice' } }, ...extra });

test('fake DynamoDB refuses undefined and unused placeholders, bare names and untyped values', () => {
  const db = newDatabase();
  const cases = [
    [put({ condition: { expression: 'attribute_not_exists(#id)' } }), /attribute name used in the document path is not defined; attribute name: #id/],
    [put({ condition: { expression: 'attribute_not_exists(#id)', expressionNames: { '#id': 'id', '#x': 'x' } } }), /ExpressionAttributeNames unused.*#x/],
    [put({ condition: { expression: 'attribute_not_exists(#id)', expressionNames: { '#id': 'id' }, expressionValues: { ':v': { S: 'a' } } } }), /ExpressionAttributeValues unused.*:v/],
    [put({ condition: { expression: '#o = :o', expressionNames: { '#o': 'owner' } } }), /attribute value used in expression is not defined; attribute value: :o/],
    [put({ condition: { expression: 'attribute_not_exists(id)' } }), /bare attribute name "id"/],
    [put({ attributeValues: { owner: 'alice' } }), /not a typed DynamoDB value/],
    [put({ attributeValues: { n: { N: 'twelve' } } }), /malformed N value/],
    [put({ key: { id: { S: 'c1' } }, attributeValues: { id: { S: 'c2' } } }), /given in both key and attributeValues/],
    [{ operation: 'GetItem', key: { id: { S: 'c1' }, extra: { S: 'x' } } }, /does not match the schema of conversations/],
    [{ operation: 'GetItem', key: { id: { N: '1' } } }, /key.id must be of type S/],
    [{ operation: 'GetItem', key: { id: { S: '' } } }, /empty string is not a valid key value/],
    [{ operation: 'GetItem', key: { id: { S: 'c1' } }, consistentReads: true }, /field consistentReads is not valid/],
    [{ operation: 'BatchGetItem', tables: {} }, /unsupported DynamoDB operation BatchGetItem/],
  ];
  for (const [request, error] of cases) assert.throws(() => db.execute('conversations', request), (e) => e instanceof RequestError && error.test(e.message), JSON.stringify(request));
});

test('fake DynamoDB refuses invalid queries and updates', () => {
  const db = newDatabase();
  const query = (extra) => ({
    operation: 'Query',
    index: 'byOwner',
    query: { expression: '#o = :o', expressionNames: { '#o': 'owner' }, expressionValues: { ':o': { S: 'alice' } } },
    ...extra,
  });
  const cases = [
    [query({ index: 'byStatus' }), /does not have the specified index: byStatus/],
    [query({ consistentRead: true }), /Consistent reads are not supported on global secondary indexes/],
    [query({ query: { expression: '#o > :o', expressionNames: { '#o': 'owner' }, expressionValues: { ':o': { S: 'a' } } } }), /key condition not supported/],
    [query({ query: { expression: '#t = :t', expressionNames: { '#t': 'title' }, expressionValues: { ':t': { S: 'a' } } } }), /key condition not supported/],
    [query({ filter: { expression: '#o = :o' } }), /Filter Expression can only contain non-primary key attributes: owner/],
    [query({ limit: 0 }), /limit must be a positive integer/],
    [query({ nextToken: 'not-a-token' }), /starting key is invalid/],
    [{ operation: 'UpdateItem', key: { id: { S: 'c1' } }, update: { expression: 'SET #i = :i', expressionNames: { '#i': 'id' }, expressionValues: { ':i': { S: 'x' } } } }, /part of the key/],
    [{ operation: 'UpdateItem', key: { id: { S: 'c1' } }, update: { expression: 'SET #a = :a, #a = :a', expressionNames: { '#a': 'a' }, expressionValues: { ':a': { S: 'x' } } } }, /paths overlap/],
    [{ operation: 'UpdateItem', key: { id: { S: 'c1' } }, update: { expression: 'SET #a = :a SET #b = :a', expressionNames: { '#a': 'a', '#b': 'b' }, expressionValues: { ':a': { S: 'x' } } } }, /SET section can only be used once/],
  ];
  for (const [request, error] of cases) assert.throws(() => db.execute('conversations', request), (e) => e instanceof RequestError && error.test(e.message), JSON.stringify(request));
});

test('fake DynamoDB evaluates conditions: a failed one leaves the item untouched', () => {
  const db = newDatabase();
  db.seed('conversations', [{ id: 'c1', owner: 'alice', title: 't' }]);
  const update = (sub) => db.execute('conversations', {
    operation: 'UpdateItem',
    key: { id: { S: 'c1' } },
    update: { expression: 'SET #t = :t', expressionNames: { '#t': 'title' }, expressionValues: { ':t': { S: `by ${sub}` } } },
    condition: { expression: 'attribute_exists(#id) AND #o = :sub', expressionNames: { '#id': 'id', '#o': 'owner' }, expressionValues: { ':sub': { S: sub } } },
  });
  assert.deepEqual(update('bob'), { error: { type: 'DynamoDB:ConditionalCheckFailedException', message: 'The conditional request failed (Service: DynamoDb, Status Code: 400)' }, result: null });
  assert.equal(db.item('conversations', { id: 'c1' }).title, 't');
  assert.equal(update('alice').result.title, 'by alice');
  const evaluate = (expression, values) => db.execute('conversations', {
    operation: 'DeleteItem',
    key: { id: { S: 'zz' } },
    condition: { expression, expressionNames: { '#o': 'owner' }, expressionValues: values },
  }).error === undefined;
  const ab = { ':a': { S: 'x' }, ':b': { S: 'y' } };
  assert.equal(evaluate('#o = :a OR #o = :b', ab), false, 'comparisons on a missing attribute are false');
  assert.equal(evaluate('NOT (#o = :a OR #o = :b)', ab), true);
  assert.equal(evaluate('attribute_exists(#o) OR #o IN (:a, :b)', ab), false);
  assert.equal(evaluate('attribute_not_exists(#o) AND NOT #o IN (:a, :b)', ab), true);
});

test('fake DynamoDB GSIs are sparse and sorted by their range key', () => {
  const db = newDatabase();
  db.seed('agentPresets', [
    { id: 'a', owner: 'u', visibility: 'PUBLIC', createdAt: '2024-01-02T00:00:00.000Z' },
    { id: 'b', owner: 'u', visibility: 'PUBLIC', createdAt: '2024-01-01T00:00:00.000Z' },
    { id: 'c', owner: 'u', createdAt: '2024-01-03T00:00:00.000Z' },
  ]);
  const { result } = db.execute('agentPresets', {
    operation: 'Query',
    index: 'byVisibility',
    query: { expression: '#v = :v AND begins_with(#c, :y)', expressionNames: { '#v': 'visibility', '#c': 'createdAt' }, expressionValues: { ':v': { S: 'PUBLIC' }, ':y': { S: '2024-01' } } },
  });
  assert.deepEqual(result.items.map((i) => i.id), ['b', 'a']);
  assert.equal(result.nextToken, null);
});

test('fake DynamoDB refuses items over 400 KB like DynamoDB does', () => {
  const db = newDatabase();
  const out = db.execute('conversations', put({ attributeValues: { owner: { S: 'alice' }, blob: { S: 'x'.repeat(410 * 1024) } } }));
  assert.deepEqual(out, { error: { type: 'DynamoDB:DynamoDbException', message: 'Item size has exceeded the maximum allowed size' }, result: null });
  assert.equal(db.item('conversations', { id: 'c1' }), null);
});
