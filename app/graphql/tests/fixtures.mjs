// Shared test data: a seeded database and one successful call per resolver (used by the manifest
// test to exercise every resolver and by bench/resolvers_bench.mjs).
import { cognito, iamRole, API_KEY, newDatabase } from './runtime/harness.mjs';

export const T0 = '2024-05-01T10:00:00.000Z';
export const NOW = '2024-05-02T12:00:00.000Z';

export const alice = cognito('alice-sub');
export const bob = cognito('bob-sub');
export const admin = cognito('admin-sub', ['ADMIN']);

export function user(id, extra = {}) {
  return { id, email: `${id}@example.com`, displayName: id, role: 'USER', createdAt: T0, updatedAt: T0, ...extra };
}

export function conversation(id, owner, extra = {}) {
  return { id, owner, title: `title of ${id}`, status: 'ACTIVE', createdAt: T0, updatedAt: T0, ...extra };
}

export function message(conversationId, owner, createdAt, id, extra = {}) {
  return {
    conversationId, sk: `${createdAt}#${id}`, id, owner, role: 'USER', content: `content ${id}`,
    createdAt, updatedAt: createdAt, ...extra,
  };
}

export function preset(id, owner, visibility, createdAt = T0, extra = {}) {
  return {
    id, owner, name: `preset ${id}`, configs: { melchior: { model: 'claude' } }, isDefault: false,
    visibility, tags: [], createdAt, updatedAt: createdAt, ...extra,
  };
}

export function traceStep(messageId, owner, stepNumber, extra = {}) {
  return {
    messageId, stepNumber, id: `${messageId}-${stepNumber}`, conversationId: 'conv-alice', owner,
    traceId: '0af7651916cd43dd8448eb211c80319c', agentId: 'caspar', action: 'consult', toolsUsed: [], citations: [],
    duration: 120, errorCount: 0, timestamp: T0, ...extra,
  };
}

// What the agent runtime sends for one reply (recordAgentReply's input).
export function agentReply(extra = {}) {
  return {
    conversationId: 'conv-alice', owner: alice.sub, content: 'SOLOMON: approve', traceId: '0af7651916cd43dd8448eb211c80319c',
    agentResponses: [{ agentId: 'caspar', decision: 'APPROVED' }], judgeResponse: { finalDecision: 'APPROVED' }, executionTimeMs: 2400,
    steps: [
      { stepNumber: 1, agentId: 'caspar', action: 'consult', duration: 800, timestamp: T0 },
      { stepNumber: 2, agentId: 'solomon', action: 'judge', toolsUsed: ['vote'], citations: ['caspar'], duration: 300, errorCount: 0, metadata: { score: 0.8 }, timestamp: T0 },
    ],
    ...extra,
  };
}

export function session(id, owner, extra = {}) {
  return {
    id, owner, status: 'RUNNING', taskArn: `arn:aws:ecs:us-east-1:123456789012:task/cluster/${id}`,
    capacityProvider: 'FARGATE_SPOT', editorUrl: `https://ide.example.com/${id}`, sizePreset: 'default',
    repositoryUrl: 'https://github.com/example/repo', createdAt: T0, updatedAt: T0, startedAt: T0,
    stoppedAt: null, expiresAt: 1714644000, failureReason: null, stopReason: null, interruptions: 0, ...extra,
  };
}

export function seededDatabase() {
  const db = newDatabase();
  db.seed('users', [user(alice.sub), user(bob.sub), user(admin.sub, { role: 'ADMIN' })]);
  db.seed('conversations', [conversation('conv-alice', alice.sub), conversation('conv-bob', bob.sub)]);
  db.seed('messages', [
    message('conv-alice', alice.sub, '2024-05-01T10:00:01.000Z', 'm1'),
    message('conv-alice', alice.sub, '2024-05-01T10:00:02.000Z', 'm2', { role: 'ASSISTANT', agentResponses: [{ agent: 'melchior', answer: 'yes' }], judgeResponse: { verdict: 'yes' }, traceId: '1-abc', executionTimeMs: 1200 }),
    message('conv-bob', bob.sub, '2024-05-01T10:00:03.000Z', 'm3'),
  ]);
  db.seed('agentPresets', [
    preset('preset-alice-private', alice.sub, 'PRIVATE'),
    preset('preset-alice-public', alice.sub, 'PUBLIC', '2024-05-01T10:00:01.000Z'),
    preset('preset-bob-private', bob.sub, 'PRIVATE'),
  ]);
  db.seed('traceSteps', [traceStep('m2', alice.sub, 1), traceStep('m2', alice.sub, 2, { agentId: 'solomon', action: 'judge' })]);
  return db;
}

// A Sessions API Lambda stand-in honouring the event/response contract in app/graphql/README.md:
// user-facing failures are returned as {error: {type, message}}, not raised.
export function sessionsLambda(events = []) {
  return (event) => {
    events.push(event);
    const sub = event.identity.sub;
    const admin = event.identity.claims['cognito:groups'].includes('ADMIN');
    const args = event.arguments;
    switch (event.info.fieldName) {
      case 'listSessions': {
        if ((args.all || (args.owner && args.owner !== sub)) && !admin) {
          return { error: { type: 'Forbidden', message: "only members of the ADMIN group can list other users' sessions" } };
        }
        const owner = args.all ? bob.sub : args.owner ?? sub;
        return { items: [session('s-1', owner, args.status ? { status: args.status } : {})], nextToken: null };
      }
      case 'startSession':
        return session('s-new', sub, { status: 'PROVISIONING', sizePreset: args.input.sizePreset ?? 'default' });
      case 'stopSession':
        if (args.id === 'missing') return { error: { type: 'SessionNotFound', message: 'session missing was not found' } };
        return session(args.id, sub, { status: 'STOPPING', stopReason: 'stopped by the owner' });
      default:
        return session(args.id, sub);
    }
  };
}

// One successful call per resolver: field -> () => run() options.
export const HAPPY_PATHS = {
  'Query.getUser': () => ({ identity: alice }),
  'Query.listUsers': () => ({ identity: admin, args: { limit: 10 } }),
  'Query.getUserByEmail': () => ({ identity: admin, args: { email: `${alice.sub}@example.com` } }),
  'Mutation.updateUser': () => ({ identity: alice, args: { input: { displayName: 'Alice A.' } } }),
  'Query.getSession': () => ({ identity: alice, args: { id: 's-1' }, lambda: sessionsLambda() }),
  'Query.listSessions': () => ({ identity: alice, args: {}, lambda: sessionsLambda() }),
  'Mutation.startSession': () => ({ identity: alice, args: { input: { sizePreset: 'large', idempotencyToken: 'tok-1' } }, lambda: sessionsLambda() }),
  'Mutation.stopSession': () => ({ identity: alice, args: { id: 's-1' }, lambda: sessionsLambda() }),
  'Mutation.publishSessionUpdate': () => ({ identity: iamRole(), args: { input: session('s-1', alice.sub) } }),
  'Mutation.reportSessionActivity': () => ({ identity: iamRole('sessions-task-1a2b3c4'), args: { id: 's-1' }, lambda: () => true }),
  'Query.getConversation': () => ({ identity: alice, args: { id: 'conv-alice' } }),
  'Query.listConversations': () => ({ identity: alice, args: { limit: 5 } }),
  'Mutation.createConversation': () => ({ identity: alice, args: { input: { title: 'New chat', metadata: { topic: 'x' } } } }),
  'Mutation.updateConversation': () => ({ identity: alice, args: { input: { id: 'conv-alice', title: 'Renamed' } } }),
  'Query.listMessages': () => ({ identity: alice, args: { conversationId: 'conv-alice', limit: 10 } }),
  'Mutation.createMessage': () => ({
    identity: alice,
    args: { input: { conversationId: 'conv-alice', role: 'ASSISTANT', content: 'answer', agentResponses: [{ agent: 'balthasar' }], judgeResponse: { verdict: 'ok' }, traceId: '1-def', executionTimeMs: 850 } },
  }),
  'Query.getAgentPreset': () => ({ identity: bob, args: { id: 'preset-alice-public' } }),
  'Query.listAgentPresets': () => ({ identity: alice, args: {} }),
  'Query.listPublicAgentPresets': () => ({ identity: API_KEY, args: { limit: 10 } }),
  'Mutation.createAgentPreset': () => ({ identity: alice, args: { input: { name: 'Mine', configs: { casper: {} }, tags: ['a'] } } }),
  'Mutation.updateAgentPreset': () => ({ identity: alice, args: { input: { id: 'preset-alice-private', visibility: 'PUBLIC' } } }),
  'Mutation.deleteAgentPreset': () => ({ identity: alice, args: { id: 'preset-alice-private' } }),
  'Mutation.recordAgentReply': () => ({ identity: iamRole('magi-agent-runtime'), args: { input: agentReply() } }),
  'Query.listTraceSteps': () => ({ identity: alice, args: { messageId: 'm2', limit: 10 } }),
  'Subscription.onSessionUpdated': () => ({ identity: alice, args: {} }),
  'Subscription.onMessageCreated': () => ({ identity: alice, args: { conversationId: 'conv-alice' } }),
};
