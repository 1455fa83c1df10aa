import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { run, control, filterAccepts } from './runtime/harness.mjs';
import { alice, bob, admin, NOW, T0, conversation, seededDatabase } from './fixtures.mjs';

let db;
beforeEach(() => {
  control.reset();
  control.setNow(NOW);
  db = seededDatabase();
});

const unauthorized = (out) => {
  assert.equal(out.data, null);
  assert.equal(out.errors[0]?.errorType, 'Unauthorized', JSON.stringify(out.errors));
};
const badRequest = (out, pattern) => {
  assert.equal(out.errors[0]?.errorType, 'BadRequest', JSON.stringify(out.errors));
  assert.match(out.errors[0].message, pattern);
  assert.deepEqual(out.calls, [], 'bad input is refused before any data-source call');
};

// ---------------------------------------------------------------------------------------------
// Conversations
// ---------------------------------------------------------------------------------------------
test('createConversation: server-side id, owner, status and timestamps; cannot overwrite', async () => {
  control.queueIds('conv-new');
  const input = { title: 'Chat', metadata: { topic: 'infra' }, owner: bob.sub, status: 'ARCHIVED' };
  const out = await run('Mutation.createConversation', { identity: alice, args: { input }, db });
  assert.deepEqual(out.calls[0].request, {
    operation: 'PutItem',
    key: { id: { S: 'conv-new' } },
    attributeValues: {
      owner: { S: alice.sub }, status: { S: 'ACTIVE' }, createdAt: { S: NOW }, updatedAt: { S: NOW },
      title: { S: 'Chat' }, metadata: { M: { topic: { S: 'infra' } } },
    },
    condition: { expression: 'attribute_not_exists(#id)', expressionNames: { '#id': 'id' } },
  });
  assert.deepEqual(out.data, { id: 'conv-new', owner: alice.sub, status: 'ACTIVE', createdAt: NOW, updatedAt: NOW, title: 'Chat', metadata: { topic: 'infra' } });
  control.queueIds('conv-new');
  const clash = await run('Mutation.createConversation', { identity: bob, args: { input: { title: 'x' } }, db });
  assert.equal(clash.errors[0].errorType, 'DynamoDB:ConditionalCheckFailedException');
  assert.equal(db.item('conversations', { id: 'conv-new' }).owner, alice.sub);
});

test('createConversation rejects a blank or over-long title and oversized metadata', async () => {
  badRequest(await run('Mutation.createConversation', { identity: alice, args: { input: { title: ' ' } }, db }), /title must be 1-200 characters/);
  badRequest(await run('Mutation.createConversation', { identity: alice, args: { input: { title: 'x'.repeat(201) } }, db }), /title/);
  badRequest(await run('Mutation.createConversation', { identity: alice, args: { input: { title: 'ok', metadata: { blob: 'x'.repeat(20000) } } }, db }), /metadata must serialize to at most 16384/);
});

test('getConversation: owner and ADMIN read it, anyone else is Unauthorized', async () => {
  const own = await run('Query.getConversation', { identity: alice, args: { id: 'conv-alice' }, db });
  assert.deepEqual(own.calls[0].request, { operation: 'GetItem', key: { id: { S: 'conv-alice' } } });
  assert.deepEqual(own.data, conversation('conv-alice', alice.sub));
  unauthorized(await run('Query.getConversation', { identity: bob, args: { id: 'conv-alice' }, db }));
  assert.equal((await run('Query.getConversation', { identity: admin, args: { id: 'conv-alice' }, db })).data.owner, alice.sub);
  assert.equal((await run('Query.getConversation', { identity: alice, args: { id: 'missing' }, db })).data, null);
});

test('listConversations queries byOwner for the caller, most recently updated first', async () => {
  db.seed('conversations', [conversation('conv-alice-2', alice.sub, { updatedAt: '2024-05-01T11:00:00.000Z' })]);
  const out = await run('Query.listConversations', { identity: alice, args: { limit: 10 }, db });
  assert.deepEqual(out.calls[0].request, {
    operation: 'Query',
    index: 'byOwner',
    query: { expression: '#owner = :owner', expressionNames: { '#owner': 'owner' }, expressionValues: { ':owner': { S: alice.sub } } },
    scanIndexForward: false,
    limit: 10,
  });
  assert.deepEqual(out.data.items.map((c) => c.id), ['conv-alice-2', 'conv-alice']);
  assert.equal(out.data.nextToken, null);
});

test('listConversations of another owner: ADMIN only, refused before reading', async () => {
  const denied = await run('Query.listConversations', { identity: alice, args: { owner: bob.sub }, db });
  unauthorized(denied);
  assert.deepEqual(denied.calls, []);
  const allowed = await run('Query.listConversations', { identity: admin, args: { owner: bob.sub }, db });
  assert.deepEqual(allowed.data.items.map((c) => c.id), ['conv-bob']);
});

test('updateConversation: owner-only via the write condition; owner fields stay', async () => {
  const out = await run('Mutation.updateConversation', { identity: alice, args: { input: { id: 'conv-alice', title: 'Renamed', status: 'ARCHIVED', metadata: null } }, db });
  const request = out.calls[0].request;
  assert.deepEqual(request.condition, {
    expression: 'attribute_exists(#id) AND #owner = :owner',
    expressionNames: { '#id': 'id', '#owner': 'owner' },
    expressionValues: { ':owner': { S: alice.sub } },
  });
  assert.equal(request.update.expression, 'SET #updatedAt = :updatedAt, #title = :title, #status = :status REMOVE #metadata');
  assert.deepEqual(out.data, { ...conversation('conv-alice', alice.sub), title: 'Renamed', status: 'ARCHIVED', updatedAt: NOW });
});

test('updateConversation by a non-owner, ADMIN, or on a missing id is Unauthorized and changes nothing', async () => {
  for (const identity of [bob, admin]) {
    unauthorized(await run('Mutation.updateConversation', { identity, args: { input: { id: 'conv-alice', title: 'pwned' } }, db }));
  }
  assert.deepEqual(db.item('conversations', { id: 'conv-alice' }), conversation('conv-alice', alice.sub));
  unauthorized(await run('Mutation.updateConversation', { identity: alice, args: { input: { id: 'nope', title: 'x' } }, db }));
  assert.equal(db.item('conversations', { id: 'nope' }), null);
});

test('updateConversation refuses nulls for required fields and empty updates', async () => {
  badRequest(await run('Mutation.updateConversation', { identity: alice, args: { input: { id: 'conv-alice', title: null } }, db }), /title cannot be null/);
  badRequest(await run('Mutation.updateConversation', { identity: alice, args: { input: { id: 'conv-alice', status: null } }, db }), /status cannot be null/);
  badRequest(await run('Mutation.updateConversation', { identity: alice, args: { input: { id: 'conv-alice' } }, db }), /names no field to update/);
});

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------
const newMessage = (extra = {}) => ({ conversationId: 'conv-alice', role: 'ASSISTANT', content: 'The answer', ...extra });

test('createMessage: ownership-checked conversation bump, then the message with sk = createdAt#id', async () => {
  control.queueIds('m-new');
  const input = newMessage({ agentResponses: [{ agent: 'melchior', text: 'a' }], judgeResponse: { verdict: 'a' }, traceId: '1-abc', executionTimeMs: 1234 });
  const out = await run('Mutation.createMessage', { identity: alice, args: { input }, db });
  assert.deepEqual(out.errors, []);
  assert.deepEqual(out.calls.map((c) => [c.dataSource, c.request.operation]), [['conversations', 'UpdateItem'], ['messages', 'PutItem']]);
  assert.deepEqual(out.calls[0].request.condition.expressionValues, { ':owner': { S: alice.sub } });
  assert.deepEqual(out.calls[1].request.key, { conversationId: { S: 'conv-alice' }, sk: { S: `${NOW}#m-new` } });
  assert.deepEqual(out.calls[1].request.condition, { expression: 'attribute_not_exists(#sk)', expressionNames: { '#sk': 'sk' } });
  assert.deepEqual(out.data, {
    conversationId: 'conv-alice', sk: `${NOW}#m-new`, id: 'm-new', owner: alice.sub, role: 'ASSISTANT', content: 'The answer',
    agentResponses: [{ agent: 'melchior', text: 'a' }], judgeResponse: { verdict: 'a' }, traceId: '1-abc', executionTimeMs: 1234,
    createdAt: NOW, updatedAt: NOW,
  });
  assert.equal(db.item('conversations', { id: 'conv-alice' }).updatedAt, NOW);
});

test('createMessage into someone else\'s (or a missing) conversation is Unauthorized and writes nothing', async () => {
  const before = db.items('messages');
  for (const conversationId of ['conv-alice', 'missing']) {
    const out = await run('Mutation.createMessage', { identity: bob, args: { input: newMessage({ conversationId }) }, db });
    unauthorized(out);
    assert.deepEqual(out.calls.map((c) => c.request.operation), ['UpdateItem'], 'the message write never happens');
  }
  assert.deepEqual(db.items('messages'), before);
  assert.equal(db.item('conversations', { id: 'conv-alice' }).updatedAt, T0);
});

test('createMessage validates before touching anything', async () => {
  badRequest(await run('Mutation.createMessage', { identity: alice, args: { input: newMessage({ content: '' }) }, db }), /content must be 1-100000/);
  badRequest(await run('Mutation.createMessage', { identity: alice, args: { input: newMessage({ executionTimeMs: -1 }) }, db }), /executionTimeMs must be at least 0/);
  badRequest(await run('Mutation.createMessage', { identity: alice, args: { input: newMessage({ agentResponses: ['x'.repeat(130000)] }) }, db }), /agentResponses must serialize/);
  badRequest(await run('Mutation.createMessage', { identity: alice, args: { input: newMessage({ traceId: 't'.repeat(129) }) }, db }), /traceId/);
});

test('listMessages: conversation owner only, in time order, both directions', async () => {
  const asc = await run('Query.listMessages', { identity: alice, args: { conversationId: 'conv-alice' }, db });
  assert.deepEqual(asc.calls.map((c) => [c.dataSource, c.request.operation]), [['conversations', 'GetItem'], ['messages', 'Query']]);
  assert.deepEqual(asc.calls[1].request, {
    operation: 'Query',
    query: { expression: '#conversationId = :conversationId', expressionNames: { '#conversationId': 'conversationId' }, expressionValues: { ':conversationId': { S: 'conv-alice' } } },
    scanIndexForward: true,
    limit: 20,
  });
  assert.deepEqual(asc.data.items.map((m) => m.id), ['m1', 'm2']);
  assert.deepEqual(asc.data.items[1].agentResponses, [{ agent: 'melchior', answer: 'yes' }]);
  const desc = await run('Query.listMessages', { identity: alice, args: { conversationId: 'conv-alice', sortDirection: 'DESC' }, db });
  assert.deepEqual(desc.data.items.map((m) => m.id), ['m2', 'm1']);
  const denied = await run('Query.listMessages', { identity: bob, args: { conversationId: 'conv-alice' }, db });
  unauthorized(denied);
  assert.equal(denied.calls.length, 1, 'no message read for a non-owner');
  assert.deepEqual((await run('Query.listMessages', { identity: admin, args: { conversationId: 'conv-alice' }, db })).data.items.length, 2);
});

test('listMessages `since` is normalised to UTC before comparing with sk', async () => {
  const out = await run('Query.listMessages', { identity: alice, args: { conversationId: 'conv-alice', since: '2024-05-01T19:00:01.500+09:00' }, db });
  const query = out.calls[1].request.query;
  assert.equal(query.expression, '#conversationId = :conversationId AND #sk >= :since');
  assert.deepEqual(query.expressionValues[':since'], { S: '2024-05-01T10:00:01.500Z' });
  assert.deepEqual(out.data.items.map((m) => m.id), ['m2']);
});

test('listMessages pages with limit + nextToken until an empty last page', async () => {
  const pages = [];
  let nextToken;
  do {
    const args = { conversationId: 'conv-alice', limit: 1, ...(nextToken ? { nextToken } : {}) };
    const out = await run('Query.listMessages', { identity: alice, args, db });
    pages.push(out.data.items.map((m) => m.id));
    nextToken = out.data.nextToken;
  } while (nextToken);
  assert.deepEqual(pages, [['m1'], ['m2'], []]);
});

test('listMessages: missing conversation is NotFound, bad limit is refused before reading', async () => {
  const missing = await run('Query.listMessages', { identity: alice, args: { conversationId: 'nope' }, db });
  assert.deepEqual(missing.errors.map((e) => [e.errorType, e.message]), [['NotFound', 'Conversation nope not found']]);
  badRequest(await run('Query.listMessages', { identity: alice, args: { conversationId: 'conv-alice', limit: 500 }, db }), /limit must be between 1 and 100, got 500/);
});

test('onMessageCreated delivers a conversation\'s new messages to its owner only', async () => {
  const sub = await run('Subscription.onMessageCreated', { identity: alice, args: { conversationId: 'conv-alice' } });
  assert.deepEqual(sub.subscriptionFilter, {
    filterGroup: [{ filters: [
      { fieldName: 'owner', operator: 'eq', value: alice.sub },
      { fieldName: 'conversationId', operator: 'eq', value: 'conv-alice' },
    ] }],
  });
  assert.deepEqual(sub.calls.map((c) => c.request), [{ payload: null }]);
  const created = (await run('Mutation.createMessage', { identity: alice, args: { input: newMessage() }, db })).data;
  assert.equal(filterAccepts(sub.subscriptionFilter, created), true);
  const snoop = await run('Subscription.onMessageCreated', { identity: bob, args: { conversationId: 'conv-alice' } });
  assert.equal(filterAccepts(snoop.subscriptionFilter, created), false);
  const otherConversation = await run('Subscription.onMessageCreated', { identity: alice, args: { conversationId: 'conv-other' } });
  assert.equal(filterAccepts(otherConversation.subscriptionFilter, created), false);
});
