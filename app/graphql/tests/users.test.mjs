import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { run, control, iamRole, API_KEY } from './runtime/harness.mjs';
import { alice, bob, admin, NOW, T0, seededDatabase } from './fixtures.mjs';

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
};

test('getUser returns the caller\'s own profile, keyed by the Cognito sub', async () => {
  const out = await run('Query.getUser', { identity: alice, db });
  assert.deepEqual(out.calls.map((c) => c.request), [{ operation: 'GetItem', key: { id: { S: alice.sub } } }]);
  assert.equal(out.data.id, alice.sub);
  assert.equal(out.data.email, `${alice.sub}@example.com`);
});

test('getUser of another user: Unauthorized without a read, unless ADMIN', async () => {
  const denied = await run('Query.getUser', { identity: alice, args: { id: bob.sub }, db });
  unauthorized(denied);
  assert.equal(denied.errors[0].message, 'Not Authorized to access getUser on type Query');
  assert.deepEqual(denied.calls, []);
  const allowed = await run('Query.getUser', { identity: admin, args: { id: bob.sub }, db });
  assert.equal(allowed.data.id, bob.sub);
});

test('getUser without a user identity (IAM, API key) is refused', async () => {
  unauthorized(await run('Query.getUser', { identity: iamRole(), db }));
  unauthorized(await run('Query.getUser', { identity: API_KEY, db }));
});

test('getUser of a missing profile is null', async () => {
  const out = await run('Query.getUser', { identity: admin, args: { id: 'nobody' }, db });
  assert.deepEqual(out, { data: null, errors: [], calls: out.calls, subscriptionFilter: undefined });
});

test('listUsers: ADMIN only, paginated by limit + nextToken', async () => {
  unauthorized(await run('Query.listUsers', { identity: alice, db }));
  const first = await run('Query.listUsers', { identity: admin, args: { limit: 2 }, db });
  assert.deepEqual(first.calls[0].request, { operation: 'Scan', limit: 2 });
  assert.equal(first.data.items.length, 2);
  assert.ok(first.data.nextToken);
  const second = await run('Query.listUsers', { identity: admin, args: { limit: 2, nextToken: first.data.nextToken }, db });
  assert.equal(second.calls[0].request.nextToken, first.data.nextToken);
  assert.equal(second.data.items.length, 1);
  assert.equal(second.data.nextToken, null);
  const ids = [...first.data.items, ...second.data.items].map((u) => u.id).sort();
  assert.deepEqual(ids, [admin.sub, alice.sub, bob.sub].sort());
});

test('listUsers defaults to 20 and rejects limits outside 1-100 before reading', async () => {
  const out = await run('Query.listUsers', { identity: admin, db });
  assert.equal(out.calls[0].request.limit, 20);
  for (const limit of [0, -1, 101]) {
    const bad = await run('Query.listUsers', { identity: admin, args: { limit }, db });
    badRequest(bad, new RegExp(`limit must be between 1 and 100, got ${limit}`));
    assert.deepEqual(bad.calls, []);
  }
});

test('getUserByEmail queries the byEmail index, ADMIN only', async () => {
  const out = await run('Query.getUserByEmail', { identity: admin, args: { email: `${bob.sub}@example.com` }, db });
  assert.deepEqual(out.calls[0].request, {
    operation: 'Query',
    index: 'byEmail',
    query: { expression: '#email = :email', expressionNames: { '#email': 'email' }, expressionValues: { ':email': { S: `${bob.sub}@example.com` } } },
    limit: 1,
  });
  assert.equal(out.data.id, bob.sub);
  assert.equal((await run('Query.getUserByEmail', { identity: admin, args: { email: 'none@example.com' }, db })).data, null);
  unauthorized(await run('Query.getUserByEmail', { identity: alice, args: { email: `${bob.sub}@example.com` }, db }));
});

test('updateUser writes only the caller\'s own profile: displayName and updatedAt', async () => {
  const out = await run('Mutation.updateUser', { identity: alice, args: { input: { displayName: 'Alice A.' } }, db });
  assert.deepEqual(out.calls[0].request, {
    operation: 'UpdateItem',
    key: { id: { S: alice.sub } },
    update: {
      expression: 'SET #updatedAt = :updatedAt, #displayName = :displayName',
      expressionNames: { '#updatedAt': 'updatedAt', '#displayName': 'displayName' },
      expressionValues: { ':updatedAt': { S: NOW }, ':displayName': { S: 'Alice A.' } },
    },
    condition: { expression: 'attribute_exists(#id)', expressionNames: { '#id': 'id' } },
  });
  assert.deepEqual(out.data, { ...db.item('users', { id: alice.sub }) });
  assert.equal(out.data.displayName, 'Alice A.');
  assert.equal(out.data.updatedAt, NOW);
  assert.equal(out.data.createdAt, T0);
});

test('updateUser ignores fields it does not own, even if a client smuggles them in', async () => {
  const input = { displayName: 'x', role: 'ADMIN', id: bob.sub, email: 'evil@example.com', createdAt: '2000-01-01T00:00:00.000Z' };
  const out = await run('Mutation.updateUser', { identity: alice, args: { input }, db });
  assert.deepEqual(out.errors, []);
  const stored = db.item('users', { id: alice.sub });
  assert.equal(stored.role, 'USER');
  assert.equal(stored.email, `${alice.sub}@example.com`);
  assert.equal(stored.createdAt, T0);
  assert.equal(db.item('users', { id: bob.sub }).displayName, bob.sub);
});

test('updateUser: null clears displayName; bad input is rejected with the field named', async () => {
  const cleared = await run('Mutation.updateUser', { identity: alice, args: { input: { displayName: null } }, db });
  assert.match(cleared.calls[0].request.update.expression, /REMOVE #displayName$/);
  assert.equal(Object.hasOwn(db.item('users', { id: alice.sub }), 'displayName'), false);
  badRequest(await run('Mutation.updateUser', { identity: alice, args: { input: {} }, db }), /names no field to update \(one of: displayName\)/);
  badRequest(await run('Mutation.updateUser', { identity: alice, args: { input: { displayName: '   ' } }, db }), /displayName must be 1-100 characters/);
  badRequest(await run('Mutation.updateUser', { identity: alice, args: { input: { displayName: 'x'.repeat(101) } }, db }), /displayName/);
});

test('updateUser never creates a profile the trigger did not write', async () => {
  const stranger = { ...alice, sub: 'no-profile-sub' };
  const out = await run('Mutation.updateUser', { identity: stranger, args: { input: { displayName: 'x' } }, db });
  assert.deepEqual(out.errors.map((e) => [e.errorType, e.message]), [['NotFound', 'No profile exists for the caller yet']]);
  assert.equal(db.item('users', { id: 'no-profile-sub' }), null);
});
