import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { run, control, iamRole, filterAccepts, API_KEY } from './runtime/harness.mjs';
import { alice, bob, admin, NOW, session, sessionsLambda } from './fixtures.mjs';

beforeEach(() => {
  control.reset();
  control.setNow(NOW);
});

const unauthorized = (out) => assert.equal(out.errors[0]?.errorType, 'Unauthorized', JSON.stringify(out.errors));

test('session operations invoke the Sessions Lambda with exactly {arguments, identity, info}', async () => {
  const cases = [
    ['Query.getSession', { id: 's-1' }, { id: 's-1' }],
    ['Query.listSessions', { nextToken: 'tok' }, { nextToken: 'tok', limit: 20 }],
    ['Mutation.startSession', { input: { sizePreset: 'large', repositoryUrl: 'https://github.com/x/y', idempotencyToken: 'k1' } },
      { input: { sizePreset: 'large', repositoryUrl: 'https://github.com/x/y', idempotencyToken: 'k1' } }],
    ['Mutation.stopSession', { id: 's-1' }, { id: 's-1' }],
  ];
  for (const [field, args, expectedArguments] of cases) {
    const events = [];
    const out = await run(field, { identity: alice, args, lambda: sessionsLambda(events) });
    assert.deepEqual(out.errors, []);
    const [typeName, fieldName] = field.split('.');
    const event = { arguments: expectedArguments, identity: { sub: alice.sub, claims: { 'cognito:groups': [] } }, info: { fieldName, parentTypeName: typeName } };
    assert.deepEqual(out.calls[0].request, { operation: 'Invoke', payload: event });
    assert.deepEqual(events, [event]);
  }
});

test('listSessions passes limit, nextToken, owner, all and status through; no other claim leaves AppSync', async () => {
  // Every claim a real ID token carries: only sub and cognito:groups may reach the Lambda.
  const rich = (base) => ({
    ...base,
    claims: { ...base.claims, email: `${base.sub}@example.com`, 'custom:user_role': 'USER', auth_time: 1714557600, 'cognito:username': base.sub },
  });
  const cases = [
    [alice, { owner: alice.sub, status: 'RUNNING', limit: 5, nextToken: 'tok' }, { owner: alice.sub, status: 'RUNNING', limit: 5, nextToken: 'tok' }],
    [admin, { owner: bob.sub }, { owner: bob.sub, limit: 20 }],
    [admin, { all: true, status: 'STOPPED', limit: 100 }, { all: true, status: 'STOPPED', limit: 100 }],
    [admin, { all: false, owner: null, status: null }, { all: false, owner: null, status: null, limit: 20 }],
  ];
  for (const [identity, args, expectedArguments] of cases) {
    const events = [];
    const out = await run('Query.listSessions', { identity: rich(identity), args, lambda: sessionsLambda(events) });
    assert.deepEqual(out.errors, []);
    assert.deepEqual(events, [{
      arguments: expectedArguments,
      identity: { sub: identity.sub, claims: { 'cognito:groups': identity.groups ?? [] } },
      info: { fieldName: 'listSessions', parentTypeName: 'Query' },
    }]);
  }
  const all = await run('Query.listSessions', { identity: admin, args: { all: true, status: 'STOPPED' }, lambda: sessionsLambda() });
  assert.deepEqual(all.data.items.map((s) => [s.owner, s.status]), [[bob.sub, 'STOPPED']]);
});

test('owner and all are ADMIN-only in the Lambda: the resolver forwards them and returns its Forbidden', async () => {
  for (const args of [{ owner: bob.sub }, { all: true }, { all: true, status: 'RUNNING' }]) {
    const events = [];
    const out = await run('Query.listSessions', { identity: alice, args, lambda: sessionsLambda(events) });
    assert.equal(events.length, 1, 'the Lambda decides, so the request reaches it');
    assert.deepEqual([out.data, out.errors.map((e) => [e.errorType, e.message])],
      [null, [['Forbidden', "only members of the ADMIN group can list other users' sessions"]]]);
  }
});

test('the Lambda sees the caller\'s groups, so it can apply the ADMIN override', async () => {
  const events = [];
  await run('Query.getSession', { identity: admin, args: { id: 's-9' }, lambda: sessionsLambda(events) });
  assert.deepEqual(events[0].identity, { sub: admin.sub, claims: { 'cognito:groups': ['ADMIN'] } });
});

test('results are returned as the Lambda gives them: a Session, or {items, nextToken}', async () => {
  const started = await run('Mutation.startSession', { identity: alice, args: { input: { sizePreset: 'large' } }, lambda: sessionsLambda() });
  assert.deepEqual(started.data, session('s-new', alice.sub, { status: 'PROVISIONING', sizePreset: 'large' }));
  const listed = await run('Query.listSessions', { identity: alice, args: { limit: 5 }, lambda: () => ({ items: [session('a', alice.sub)] }) });
  assert.deepEqual(listed.data, { items: [session('a', alice.sub)], nextToken: null });
  const missing = await run('Query.getSession', { identity: alice, args: { id: 'gone' }, lambda: () => null });
  assert.deepEqual([missing.data, missing.errors], [null, []]);
});

const ERROR_TYPES = [
  'ValidationError', 'Unauthorized', 'Forbidden', 'SessionNotFound', 'QuotaExceeded', 'IdempotencyConflict',
  'BudgetLimitReached', 'CapacityUnavailable', 'SessionLaunchFailed', 'ServiceBusy', 'ServiceUnavailable',
  'RepositoryAccessDenied',
];
const INTERNAL = [['InternalError', 'The sessions service failed unexpectedly; try again later.']];
const clean = (out) => out.errors.map((e) => [e.errorType, e.message, e.data, e.errorInfo]);

test('a returned {error: {type, message}} becomes exactly that GraphQL error, for every field and type', async () => {
  const fields = [
    ['Query.getSession', { id: 's-1' }], ['Query.listSessions', {}],
    ['Mutation.startSession', { input: {} }], ['Mutation.stopSession', { id: 's-1' }],
  ];
  for (const type of ERROR_TYPES) {
    for (const [field, args] of fields) {
      const message = `${type} for ${field}`;
      // Extra keys beside the error (a Lambda bug) must not reach the client either.
      const lambda = () => ({ error: { type, message, detail: 'arn:aws:ecs:us-east-1:123456789012:task/x' }, items: [session('x', bob.sub)] });
      const out = await run(field, { identity: alice, args, lambda });
      assert.deepEqual([out.data, clean(out)], [null, [[type, message, null, null]]], `${field} ${type}`);
    }
  }
  const missing = await run('Mutation.stopSession', { identity: alice, args: { id: 'missing' }, lambda: sessionsLambda() });
  assert.deepEqual(clean(missing), [['SessionNotFound', 'session missing was not found', null, null]]);
});

test('a raised Lambda error becomes a generic InternalError: its message and type never reach the client', async () => {
  const raised = [
    { errorType: 'QuotaExceeded', errorMessage: 'at most 2 running sessions per user' },
    { errorType: 'ClientError', errorMessage: 'An error occurred (AccessDeniedException) when calling the RunTask operation: User: arn:aws:sts::123456789012:assumed-role/x is not authorized' },
    { errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 30.00 seconds' },
  ];
  for (const error of raised) {
    const lambda = () => {
      throw Object.assign(new Error(), error);
    };
    for (const [field, args] of [['Mutation.startSession', { input: {} }], ['Query.listSessions', {}]]) {
      const out = await run(field, { identity: alice, args, lambda });
      assert.equal(out.calls[0].error.type, 'Lambda:Unhandled', 'what AppSync hands the resolver');
      assert.deepEqual([out.data, clean(out)], [null, INTERNAL.map((e) => [...e, null, null])], `${field}: ${error.errorMessage}`);
    }
  }
});

test('an error result outside the contract is an InternalError and its text is not shown', async () => {
  const malformed = [
    { type: 'KeyError', message: "'sessions_table'" },
    { type: 'InternalError', message: 'Traceback (most recent call last): ...' },
    { type: 'Forbidden' },
    { type: 'Forbidden', message: '  ' },
    { type: 'Forbidden', message: 42 },
    { message: 'no type' },
    'Forbidden',
    null,
    [],
  ];
  for (const error of malformed) {
    const out = await run('Query.getSession', { identity: alice, args: { id: 's-1' }, lambda: () => ({ error }) });
    assert.deepEqual([out.data, out.errors.map((e) => [e.errorType, e.message])], [null, INTERNAL], JSON.stringify(error));
  }
});

test('a session of someone else coming back from the Lambda is refused (unless ADMIN)', async () => {
  const foreign = () => session('s-bob', bob.sub);
  unauthorized(await run('Query.getSession', { identity: alice, args: { id: 's-bob' }, lambda: foreign }));
  unauthorized(await run('Mutation.stopSession', { identity: alice, args: { id: 's-bob' }, lambda: foreign }));
  assert.equal((await run('Query.getSession', { identity: admin, args: { id: 's-bob' }, lambda: foreign })).data.owner, bob.sub);
  const mixed = () => ({ items: [session('a', alice.sub), session('b', bob.sub)], nextToken: null });
  unauthorized(await run('Query.listSessions', { identity: alice, lambda: mixed }));
  assert.equal((await run('Query.listSessions', { identity: admin, lambda: mixed })).data.items.length, 2);
});

test('bad limit and missing identity never reach the Lambda', async () => {
  const events = [];
  const bad = await run('Query.listSessions', { identity: alice, args: { limit: 101 }, lambda: sessionsLambda(events) });
  assert.equal(bad.errors[0].errorType, 'BadRequest');
  unauthorized(await run('Mutation.startSession', { identity: API_KEY, args: { input: {} }, lambda: sessionsLambda(events) }));
  unauthorized(await run('Query.getSession', { identity: iamRole(), args: { id: 's-1' }, lambda: sessionsLambda(events) }));
  assert.deepEqual(events, []);
});

test('publishSessionUpdate (IAM) returns the published session through a NONE data source', async () => {
  const input = session('s-1', alice.sub, { status: 'STOPPED', stoppedAt: NOW, updatedAt: NOW, stopReason: 'stopped by the owner', interruptions: 2 });
  const out = await run('Mutation.publishSessionUpdate', { identity: iamRole(), args: { input } });
  assert.deepEqual(out.calls.map((c) => [c.dataSource, c.request]), [['none', { payload: input }]]);
  assert.deepEqual(out.data, input);
});

test('publishSessionUpdate refuses user pool and identity-pool callers', async () => {
  const input = session('s-1', alice.sub);
  unauthorized(await run('Mutation.publishSessionUpdate', { identity: alice, args: { input } }));
  const federated = { ...iamRole('Cognito_authenticated'), cognitoIdentityId: 'us-east-1:1234', cognitoIdentityPoolId: 'us-east-1:pool' };
  unauthorized(await run('Mutation.publishSessionUpdate', { identity: federated, args: { input } }));
});

test('onSessionUpdated filters server-side on the subscriber\'s sub (and the session id when given)', async () => {
  const all = await run('Subscription.onSessionUpdated', { identity: alice });
  assert.deepEqual(all.calls.map((c) => c.request), [{ payload: null }]);
  assert.equal(all.data, null);
  assert.deepEqual(all.subscriptionFilter, { filterGroup: [{ filters: [{ fieldName: 'owner', operator: 'eq', value: alice.sub }] }] });
  const one = await run('Subscription.onSessionUpdated', { identity: alice, args: { id: 's-1' } });
  assert.deepEqual(one.subscriptionFilter.filterGroup[0].filters, [
    { fieldName: 'owner', operator: 'eq', value: alice.sub },
    { fieldName: 'id', operator: 'eq', value: 's-1' },
  ]);
  unauthorized(await run('Subscription.onSessionUpdated', { identity: API_KEY }));
});

test('a published update reaches its owner\'s subscription and no one else\'s', async () => {
  const published = (await run('Mutation.publishSessionUpdate', { identity: iamRole(), args: { input: session('s-1', alice.sub) } })).data;
  const aliceFilter = (await run('Subscription.onSessionUpdated', { identity: alice })).subscriptionFilter;
  const aliceOther = (await run('Subscription.onSessionUpdated', { identity: alice, args: { id: 's-2' } })).subscriptionFilter;
  const bobFilter = (await run('Subscription.onSessionUpdated', { identity: bob })).subscriptionFilter;
  const adminFilter = (await run('Subscription.onSessionUpdated', { identity: admin })).subscriptionFilter;
  assert.equal(filterAccepts(aliceFilter, published), true);
  assert.equal(filterAccepts(aliceOther, published), false);
  assert.equal(filterAccepts(bobFilter, published), false);
  assert.equal(filterAccepts(adminFilter, published), false);
});

test('reportSessionActivity (IAM) invokes the Sessions Lambda with only the caller ARN and the id', async () => {
  const events = [];
  const task = iamRole('sessions-task-1a2b3c4');
  const out = await run('Mutation.reportSessionActivity', { identity: task, args: { id: 's-1' }, lambda: (e) => { events.push(e); return true; } });
  assert.deepEqual([out.data, out.errors], [true, []]);
  assert.deepEqual(events, [{ arguments: { id: 's-1' }, identity: { userArn: task.userArn },
    info: { fieldName: 'reportSessionActivity', parentTypeName: 'Mutation' } }]);
});

test('reportSessionActivity refuses users and passes the Lambda\'s Forbidden on', async () => {
  const events = [];
  unauthorized(await run('Mutation.reportSessionActivity', { identity: alice, args: { id: 's-1' }, lambda: (e) => { events.push(e); return true; } }));
  const federated = { ...iamRole('Cognito_authenticated'), cognitoIdentityId: 'us-east-1:1234', cognitoIdentityPoolId: 'us-east-1:pool' };
  unauthorized(await run('Mutation.reportSessionActivity', { identity: federated, args: { id: 's-1' }, lambda: (e) => { events.push(e); return true; } }));
  assert.deepEqual(events, []);
  const denied = await run('Mutation.reportSessionActivity', { identity: iamRole('other-role'), args: { id: 's-1' },
    lambda: () => ({ error: { type: 'Forbidden', message: 'only the session task may report its activity' } }) });
  assert.deepEqual(denied.errors.map((e) => [e.errorType, e.message]), [['Forbidden', 'only the session task may report its activity']]);
});

test('publishSessionUpdate accepts only the sessions functions\' roles, not any IAM principal', async () => {
  const input = session('s-1', alice.sub, { editorUrl: 'https://phishing.example.com/' });
  for (const role of ['sessions-api-9f8e7d6', 'sessions-task-state-1a2b3c4', 'sessions-reaper-0a1b2c3']) {
    const out = await run('Mutation.publishSessionUpdate', { identity: iamRole(role), args: { input } });
    assert.deepEqual(out.errors, [], role);
  }
  for (const role of ['admin', 'sessions-task-1a2b3c4', 'sessions-api-ZZZZZZZ', 'sessions-api-1a2b3c4d', 'magi-agent-runtime']) {
    unauthorized(await run('Mutation.publishSessionUpdate', { identity: iamRole(role), args: { input } }));
  }
  unauthorized(await run('Mutation.publishSessionUpdate', {
    identity: { ...iamRole(), userArn: 'arn:aws:iam::123456789012:user/sessions-api-1a2b3c4' }, args: { input } }));
});
