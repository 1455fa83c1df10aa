import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { run, control, filterAccepts, iamRole, loadApi, TABLE_TOKEN, withTableName } from './runtime/harness.mjs';
import { AppSyncError } from './runtime/appsync-utils.mjs';
import { alice, bob, admin, NOW, T0, agentReply, traceStep, seededDatabase } from './fixtures.mjs';

let db;
beforeEach(() => {
  control.reset();
  control.setNow(NOW);
  db = seededDatabase();
});

const agent = iamRole('magi-agent-runtime');
const record = (input, identity = agent) => run('Mutation.recordAgentReply', { identity, args: { input }, db });
const steps = (messageId, identity) => run('Query.listTraceSteps', { identity, args: { messageId }, db });
const refusedBeforeAnyCall = (out, errorType, pattern) => {
  assert.equal(out.data, null);
  assert.equal(out.errors[0]?.errorType, errorType, JSON.stringify(out.errors));
  if (pattern) assert.match(out.errors[0].message, pattern);
  assert.deepEqual(out.calls, [], 'refused before any data-source call');
};

test('recordAgentReply: one call writes the message and its steps; the owner reads the steps back in order', async () => {
  control.queueIds('m-reply');
  const out = await record(agentReply());
  assert.deepEqual(out.errors, []);
  assert.deepEqual(out.calls.map((c) => [c.dataSource, c.request.operation]),
    [['conversations', 'UpdateItem'], ['traceSteps', 'BatchPutItem'], ['messages', 'PutItem']]);
  assert.deepEqual(out.calls[0].request.condition.expressionValues, { ':owner': { S: alice.sub } });
  assert.deepEqual(Object.keys(out.calls[1].request.tables), [TABLE_TOKEN]);
  const message = {
    conversationId: 'conv-alice', sk: `${NOW}#m-reply`, id: 'm-reply', owner: alice.sub, role: 'ASSISTANT', content: 'SOLOMON: approve',
    agentResponses: [{ agentId: 'caspar', decision: 'APPROVED' }], judgeResponse: { finalDecision: 'APPROVED' },
    traceId: '0af7651916cd43dd8448eb211c80319c', executionTimeMs: 2400, createdAt: NOW, updatedAt: NOW,
  };
  assert.deepEqual(out.data, message);
  assert.equal(db.item('conversations', { id: 'conv-alice' }).updatedAt, NOW);

  const read = await steps('m-reply', alice);
  assert.deepEqual(read.errors, []);
  assert.deepEqual(read.calls[0].request.query.expressionValues, { ':messageId': { S: 'm-reply' } });
  assert.equal(read.calls[0].request.scanIndexForward, true);
  const common = { messageId: 'm-reply', conversationId: 'conv-alice', owner: alice.sub, traceId: message.traceId, timestamp: T0 };
  assert.deepEqual(read.data, {
    items: [
      { ...common, id: 'm-reply-1', stepNumber: 1, agentId: 'caspar', action: 'consult', toolsUsed: [], citations: [], duration: 800, errorCount: 0 },
      { ...common, id: 'm-reply-2', stepNumber: 2, agentId: 'solomon', action: 'judge', toolsUsed: ['vote'], citations: ['caspar'], duration: 300, errorCount: 0, metadata: { score: 0.8 } },
    ],
    nextToken: null,
  });
});

test('recordAgentReply reaches the owner\'s onMessageCreated subscription and nobody else\'s', async () => {
  const published = (await record(agentReply())).data;
  const filterFor = async (identity) => (await run('Subscription.onMessageCreated', { identity, args: { conversationId: 'conv-alice' } })).subscriptionFilter;
  assert.equal(filterAccepts(await filterFor(alice), published), true);
  assert.equal(filterAccepts(await filterFor(bob), published), false);
});

test('recordAgentReply refuses every caller that is not an IAM role, before any write', async () => {
  const federated = { ...iamRole('identity-pool-user'), cognitoIdentityId: 'us-east-1:1234', cognitoIdentityPoolId: 'us-east-1:pool' };
  for (const identity of [alice, admin, null, federated]) {
    refusedBeforeAnyCall(await record(agentReply(), identity), 'Unauthorized');
  }
  assert.deepEqual(db.items('traceSteps').map((s) => s.messageId), ['m2', 'm2']);
});

test('recordAgentReply into a conversation the named owner does not own writes nothing', async () => {
  const before = db.items('messages');
  for (const input of [agentReply({ owner: bob.sub }), agentReply({ conversationId: 'missing' })]) {
    const out = await record(input);
    assert.equal(out.errors[0]?.errorType, 'Unauthorized');
    assert.deepEqual(out.calls.map((c) => c.request.operation), ['UpdateItem'], 'no step and no message write');
  }
  assert.deepEqual(db.items('messages'), before);
  assert.equal(db.items('traceSteps').length, 2);
});

test('recordAgentReply validates the reply and every step before touching anything', async () => {
  const step = (extra) => ({ stepNumber: 1, agentId: 'melchior', action: 'consult', duration: 1, timestamp: T0, ...extra });
  const cases = [
    [{ steps: [] }, /steps must hold 1-25 entries, got 0/],
    [{ steps: Array.from({ length: 26 }, (_, i) => step({ stepNumber: i + 1 })) }, /steps must hold 1-25 entries, got 26/],
    [{ steps: [step(), step()] }, /stepNumber 1 appears twice/],
    [{ steps: [step({ stepNumber: 0 })] }, /stepNumber must be at least 1, got 0/],
    [{ steps: [step({ duration: -5 })] }, /duration must be at least 0/],
    [{ steps: [step({ agentId: ' ' })] }, /agentId must be 1-64 characters/],
    [{ steps: [step({ toolsUsed: Array.from({ length: 21 }, () => 't') })] }, /toolsUsed takes at most 20 entries/],
    [{ traceId: ' ' }, /traceId must be 1-128 characters/],
    [{ owner: '' }, /owner must be 1-128 characters/],
    [{ content: '' }, /content must be 1-100000 characters/],
    [{ executionTimeMs: -1 }, /executionTimeMs must be at least 0/],
  ];
  for (const [extra, pattern] of cases) refusedBeforeAnyCall(await record(agentReply(extra)), 'BadRequest', pattern);
});

test('a partly written step batch fails the reply before the message is written', async () => {
  const api = await loadApi();
  const putTraceSteps = api.functions.get('putTraceSteps').code;
  const ctx = { result: { data: {}, unprocessedItems: { [TABLE_TOKEN]: [{ messageId: { S: 'm' } }] } }, prev: { result: {} }, stash: {} };
  assert.throws(() => putTraceSteps.response(ctx), (e) => e instanceof AppSyncError && e.errorType === 'TraceStepsNotWritten');
  ctx.result.unprocessedItems[TABLE_TOKEN] = [];
  assert.deepEqual(putTraceSteps.response(ctx), {});
});

test('listTraceSteps: the message owner and ADMIN read the steps, anyone else is Unauthorized', async () => {
  assert.deepEqual((await steps('m2', alice)).data.items.map((s) => s.stepNumber), [1, 2]);
  assert.deepEqual((await steps('m2', admin)).data.items.map((s) => s.agentId), ['caspar', 'solomon']);
  const denied = await steps('m2', bob);
  assert.equal(denied.data, null);
  assert.equal(denied.errors[0].errorType, 'Unauthorized');
  refusedBeforeAnyCall(await steps('m2', null), 'Unauthorized');
  assert.deepEqual((await steps('unknown', bob)).data, { items: [], nextToken: null });
  db.seed('traceSteps', [traceStep('m-mixed', alice.sub, 1), traceStep('m-mixed', bob.sub, 2)]);
  assert.equal((await steps('m-mixed', alice)).errors[0].errorType, 'Unauthorized', 'one foreign step refuses the page');
});

test('a batch may only name its own data source\'s table, through the token the API component replaces', () => {
  const items = [{ messageId: { S: 'm' }, stepNumber: { N: '1' } }];
  assert.deepEqual(withTableName({ operation: 'BatchPutItem', tables: { [TABLE_TOKEN]: items } }, 'traceSteps'),
    { operation: 'BatchPutItem', tables: { traceSteps: items } });
  for (const tables of [{ messages: items }, { [TABLE_TOKEN]: items, messages: items }]) {
    assert.throws(() => withTableName({ operation: 'BatchPutItem', tables }, 'traceSteps'), /AccessDenied: a batch may only name/);
  }
  const plain = { operation: 'GetItem', key: {} };
  assert.equal(withTableName(plain, 'traceSteps'), plain);
});
