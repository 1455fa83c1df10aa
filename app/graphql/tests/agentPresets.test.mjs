import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { run, control, API_KEY } from './runtime/harness.mjs';
import { alice, bob, admin, NOW, preset, seededDatabase } from './fixtures.mjs';

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
  assert.deepEqual(out.calls, []);
};
const OWNER_CONDITION = (sub) => ({
  expression: 'attribute_exists(#id) AND #owner = :owner',
  expressionNames: { '#id': 'id', '#owner': 'owner' },
  expressionValues: { ':owner': { S: sub } },
});
const ADMIN_CONDITION = { expression: 'attribute_exists(#id)', expressionNames: { '#id': 'id' } };

test('createAgentPreset fills defaults and the server-owned fields', async () => {
  control.queueIds('preset-new');
  const out = await run('Mutation.createAgentPreset', { identity: alice, args: { input: { name: 'Mine', configs: { casper: { temperature: 0.2 } } } }, db });
  assert.deepEqual(out.calls[0].request, {
    operation: 'PutItem',
    key: { id: { S: 'preset-new' } },
    attributeValues: {
      owner: { S: alice.sub }, createdAt: { S: NOW }, updatedAt: { S: NOW }, name: { S: 'Mine' },
      configs: { M: { casper: { M: { temperature: { N: '0.2' } } } } },
      isDefault: { BOOL: false }, visibility: { S: 'PRIVATE' }, tags: { L: [] },
    },
    condition: { expression: 'attribute_not_exists(#id)', expressionNames: { '#id': 'id' } },
  });
  assert.deepEqual(out.data, { id: 'preset-new', ...preset('preset-new', alice.sub, 'PRIVATE', NOW), name: 'Mine', configs: { casper: { temperature: 0.2 } } });
});

test('createAgentPreset names the bad field', async () => {
  const make = (input) => run('Mutation.createAgentPreset', { identity: alice, args: { input: { name: 'ok', configs: {}, ...input } }, db });
  badRequest(await make({ name: '' }), /name must be 1-100 characters/);
  badRequest(await make({ description: 'd'.repeat(1001) }), /description must be 1-1000/);
  badRequest(await make({ configs: null }), /configs cannot be null/);
  badRequest(await make({ tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }), /tags takes at most 20 entries/);
  badRequest(await make({ tags: ['ok', ' '] }), /every entry of tags must be 1-50 characters/);
  badRequest(await make({ visibility: null }), /visibility cannot be null/);
});

test('getAgentPreset: PUBLIC for every signed-in user, PRIVATE for owner and ADMIN only', async () => {
  assert.equal((await run('Query.getAgentPreset', { identity: bob, args: { id: 'preset-alice-public' }, db })).data.id, 'preset-alice-public');
  unauthorized(await run('Query.getAgentPreset', { identity: bob, args: { id: 'preset-alice-private' }, db }));
  assert.equal((await run('Query.getAgentPreset', { identity: alice, args: { id: 'preset-alice-private' }, db })).data.owner, alice.sub);
  assert.equal((await run('Query.getAgentPreset', { identity: admin, args: { id: 'preset-bob-private' }, db })).data.owner, bob.sub);
  assert.equal((await run('Query.getAgentPreset', { identity: alice, args: { id: 'missing' }, db })).data, null);
  unauthorized(await run('Query.getAgentPreset', { identity: API_KEY, args: { id: 'preset-alice-public' }, db }));
});

test('listAgentPresets: the caller\'s own via byOwner, newest first; other owners for ADMIN only', async () => {
  const out = await run('Query.listAgentPresets', { identity: alice, db });
  assert.deepEqual(out.calls[0].request, {
    operation: 'Query',
    index: 'byOwner',
    query: { expression: '#owner = :owner', expressionNames: { '#owner': 'owner' }, expressionValues: { ':owner': { S: alice.sub } } },
    scanIndexForward: false,
    limit: 20,
  });
  assert.deepEqual(out.data.items.map((p) => p.id), ['preset-alice-public', 'preset-alice-private']);
  unauthorized(await run('Query.listAgentPresets', { identity: alice, args: { owner: bob.sub }, db }));
  assert.deepEqual((await run('Query.listAgentPresets', { identity: admin, args: { owner: bob.sub }, db })).data.items.map((p) => p.id), ['preset-bob-private']);
});

test('listPublicAgentPresets works without an identity (API key) and reaches PUBLIC items only', async () => {
  db.seed('agentPresets', [preset('preset-bob-public', bob.sub, 'PUBLIC', '2024-05-01T12:00:00.000Z')]);
  const first = await run('Query.listPublicAgentPresets', { identity: API_KEY, args: { limit: 1 }, db });
  assert.deepEqual(first.calls[0].request, {
    operation: 'Query',
    index: 'byVisibility',
    query: { expression: '#visibility = :visibility', expressionNames: { '#visibility': 'visibility' }, expressionValues: { ':visibility': { S: 'PUBLIC' } } },
    scanIndexForward: false,
    limit: 1,
  });
  assert.deepEqual(first.data.items.map((p) => p.id), ['preset-bob-public']);
  const second = await run('Query.listPublicAgentPresets', { identity: alice, args: { limit: 5, nextToken: first.data.nextToken }, db });
  assert.deepEqual(second.data.items.map((p) => p.id), ['preset-alice-public']);
  assert.equal(second.data.nextToken, null);
});

test('updateAgentPreset: owner condition for users, existence only for ADMIN', async () => {
  const own = await run('Mutation.updateAgentPreset', { identity: alice, args: { input: { id: 'preset-alice-private', visibility: 'PUBLIC', description: null, tags: ['x'] } }, db });
  assert.deepEqual(own.calls[0].request.condition, OWNER_CONDITION(alice.sub));
  assert.equal(own.calls[0].request.update.expression, 'SET #updatedAt = :updatedAt, #visibility = :visibility, #tags = :tags REMOVE #description');
  assert.deepEqual([own.data.visibility, own.data.tags, own.data.updatedAt, own.data.owner], ['PUBLIC', ['x'], NOW, alice.sub]);
  const listed = await run('Query.listPublicAgentPresets', { identity: API_KEY, db });
  assert.ok(listed.data.items.some((p) => p.id === 'preset-alice-private'), 'the byVisibility index follows the change');
  const byAdmin = await run('Mutation.updateAgentPreset', { identity: admin, args: { input: { id: 'preset-bob-private', isDefault: true } }, db });
  assert.deepEqual(byAdmin.calls[0].request.condition, ADMIN_CONDITION);
  assert.equal(db.item('agentPresets', { id: 'preset-bob-private' }).isDefault, true);
});

test('updateAgentPreset by a non-owner is Unauthorized and changes nothing; missing ids differ for ADMIN', async () => {
  const before = db.item('agentPresets', { id: 'preset-alice-private' });
  unauthorized(await run('Mutation.updateAgentPreset', { identity: bob, args: { input: { id: 'preset-alice-private', name: 'pwned' } }, db }));
  assert.deepEqual(db.item('agentPresets', { id: 'preset-alice-private' }), before);
  unauthorized(await run('Mutation.updateAgentPreset', { identity: bob, args: { input: { id: 'missing', name: 'x' } }, db }));
  const adminMissing = await run('Mutation.updateAgentPreset', { identity: admin, args: { input: { id: 'missing', name: 'x' } }, db });
  assert.deepEqual(adminMissing.errors.map((e) => [e.errorType, e.message]), [['NotFound', 'Agent preset missing not found']]);
  assert.equal(db.item('agentPresets', { id: 'missing' }), null);
});

test('updateAgentPreset refuses null for required fields', async () => {
  for (const field of ['name', 'configs', 'isDefault', 'visibility', 'tags']) {
    badRequest(await run('Mutation.updateAgentPreset', { identity: alice, args: { input: { id: 'preset-alice-private', [field]: null } }, db }), new RegExp(`${field} cannot be null`));
  }
});

test('deleteAgentPreset: owner or ADMIN; returns the deleted preset', async () => {
  const denied = await run('Mutation.deleteAgentPreset', { identity: bob, args: { id: 'preset-alice-private' }, db });
  unauthorized(denied);
  assert.deepEqual(denied.calls[0].request, { operation: 'DeleteItem', key: { id: { S: 'preset-alice-private' } }, condition: OWNER_CONDITION(bob.sub) });
  assert.ok(db.item('agentPresets', { id: 'preset-alice-private' }));
  const own = await run('Mutation.deleteAgentPreset', { identity: alice, args: { id: 'preset-alice-private' }, db });
  assert.deepEqual(own.data, preset('preset-alice-private', alice.sub, 'PRIVATE'));
  assert.equal(db.item('agentPresets', { id: 'preset-alice-private' }), null);
  const byAdmin = await run('Mutation.deleteAgentPreset', { identity: admin, args: { id: 'preset-bob-private' }, db });
  assert.equal(byAdmin.data.owner, bob.sub);
  const again = await run('Mutation.deleteAgentPreset', { identity: admin, args: { id: 'preset-bob-private' }, db });
  assert.deepEqual(again.errors.map((e) => e.errorType), ['NotFound']);
});
