// Owner-only gate in front of code-server (private editor access). No dependencies: it runs on the
// Node.js that code-server ships (/usr/lib/code-server/lib/node).
//
// The editor load balancer authenticates every request against the platform's Cognito user pool
// (authenticate-cognito) and forwards it with x-amzn-oidc-data: a JWT the ALB signs with ES256, its
// public key published by key id at https://public-keys.auth.elb.<region>.amazonaws.com/<kid>.
// Any user of the pool gets that far; this proxy admits only the session's owner:
//   - the JWT's signature verifies with the ALB's key for its kid, its `signer` is this stack's
//     load balancer (ALB_ARN), it is unexpired (header `exp`), and its issuer (header `iss`) is the
//     user pool (USER_POOL_ISSUER);
//   - its `sub` equals SESSION_OWNER.
// Otherwise 401 (no or invalid identity) or 403 (another user). Every request and every WebSocket
// upgrade is checked: the ALB reuses its connections to the target across users.
// Requests are served under /<SESSION_ID>/ (the listener routes by path); the prefix is stripped
// before code-server sees them. /healthz passes unauthenticated: it is the ALB's health check.
// Each admitted owner request touches ACTIVITY_FILE (the session's idle clock).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const https = require('https');
const net = require('net');

const env = process.env;

function required(name) {
  const value = (env[name] || '').trim();
  if (!value) {
    console.error(`auth-proxy: environment variable ${name} is required`);
    process.exit(64);
  }
  return value;
}

const LISTEN_PORT = Number(required('PORT'));
const UPSTREAM_PORT = Number(required('UPSTREAM_PORT'));
const SESSION_ID = required('SESSION_ID');
const OWNER = required('SESSION_OWNER');
const ALB_ARN = required('ALB_ARN');
const ISSUER = required('USER_POOL_ISSUER');
const REGION = required('AWS_REGION');
const KEYS_URL = (env.ALB_KEYS_URL || `https://public-keys.auth.elb.${REGION}.amazonaws.com`).replace(/\/$/, '');
const ACTIVITY_FILE = env.ACTIVITY_FILE || '';
const PREFIX = `/${SESSION_ID}`;
const HEALTH_PATH = '/healthz';
const CLOCK_SKEW_SECONDS = 60;
const KID_RE = /^[A-Za-z0-9_-]{1,128}$/;

const keys = new Map(); // kid -> Promise<KeyObject>

function fetchKey(kid) {
  if (!keys.has(kid)) {
    const pending = new Promise((resolve, reject) => {
      const url = `${KEYS_URL}/${kid}`;
      const client = url.startsWith('https:') ? https : http;
      const req = client.get(url, { timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => { body += chunk; });
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`key ${kid}: HTTP ${res.statusCode}`));
          try { resolve(crypto.createPublicKey(body)); } catch (e) { reject(e); }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`key ${kid}: timeout`)));
      req.on('error', reject);
    });
    // A failed fetch is not cached: the next request tries again.
    pending.catch(() => keys.delete(kid));
    keys.set(kid, pending);
  }
  return keys.get(kid);
}

function b64json(part) {
  return JSON.parse(Buffer.from(part.replace(/=+$/, ''), 'base64url').toString('utf8'));
}

// The caller's identity from x-amzn-oidc-data: {status: 200} for the owner, 401 or 403 otherwise.
async function identify(headers) {
  const token = headers['x-amzn-oidc-data'];
  if (typeof token !== 'string') return { status: 401, why: 'no identity' };
  const parts = token.split('.');
  if (parts.length !== 3) return { status: 401, why: 'malformed token' };
  let header, claims;
  try {
    header = b64json(parts[0]);
    claims = b64json(parts[1]);
  } catch (e) {
    return { status: 401, why: 'malformed token' };
  }
  if (header.alg !== 'ES256' || typeof header.kid !== 'string' || !KID_RE.test(header.kid)) {
    return { status: 401, why: 'unexpected algorithm or key id' };
  }
  if (header.signer !== ALB_ARN) return { status: 401, why: 'signed by another load balancer' };
  let key;
  try {
    key = await fetchKey(header.kid);
  } catch (e) {
    console.error(`auth-proxy: ${e.message}`);
    return { status: 401, why: 'signing key unavailable' };
  }
  const signature = Buffer.from(parts[2].replace(/=+$/, ''), 'base64url');
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
  const valid = signature.length === 64
    && crypto.verify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, signature);
  if (!valid) return { status: 401, why: 'bad signature' };
  // The ALB puts iss, client and exp in the JWT header; the payload is the IdP's user-info claims.
  const exp = Number(header.exp ?? claims.exp);
  if (!Number.isFinite(exp) || exp + CLOCK_SKEW_SECONDS < Date.now() / 1000) {
    return { status: 401, why: 'expired' };
  }
  if ((header.iss ?? claims.iss) !== ISSUER) return { status: 401, why: 'another issuer' };
  if (claims.sub !== OWNER) return { status: 403, why: 'not the session owner' };
  return { status: 200 };
}

function touchActivity() {
  if (!ACTIVITY_FILE) return;
  const now = new Date();
  fs.utimes(ACTIVITY_FILE, now, now, (err) => {
    if (err && err.code === 'ENOENT') fs.writeFile(ACTIVITY_FILE, '', () => {});
  });
}

// Where the request goes upstream: {path} after the session prefix, {redirect} for the bare
// prefix, or null (not this session's path).
function route(url) {
  if (url === HEALTH_PATH) return { path: url, open: true };
  if (url === PREFIX || url.startsWith(`${PREFIX}?`)) return { redirect: `${PREFIX}/${url.slice(PREFIX.length)}` };
  if (!url.startsWith(`${PREFIX}/`)) return null;
  return { path: url.slice(PREFIX.length) };
}

function upstreamHeaders(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) {
    // The owner's Cognito tokens stay out of the IDE.
    if (!name.startsWith('x-amzn-oidc-')) out[name] = value;
  }
  return out;
}

function deny(res, status, why) {
  const body = status === 403 ? 'This IDE belongs to another user.\n'
    : status === 404 ? 'No such session.\n' : 'Sign in again.\n';
  res.writeHead(status, { 'content-type': 'text/plain', 'cache-control': 'no-store', 'x-deny-reason': why });
  res.end(body);
}

async function admit(req) {
  const target = route(req.url);
  if (target === null) return { status: 404, why: 'not this session' };
  if (target.open) return { status: 200, target };
  const who = await identify(req.headers);
  if (who.status !== 200) return who;
  touchActivity();
  return { status: 200, target };
}

const server = http.createServer(async (req, res) => {
  const decision = await admit(req);
  if (decision.status !== 200) return deny(res, decision.status, decision.why);
  if (decision.target.redirect) {
    res.writeHead(302, { location: decision.target.redirect });
    return res.end();
  }
  const upstream = http.request({
    host: '127.0.0.1', port: UPSTREAM_PORT, method: req.method, path: decision.target.path,
    headers: upstreamHeaders(req.headers),
  }, (up) => {
    res.writeHead(up.statusCode, up.headers);
    up.pipe(res);
  });
  upstream.on('error', () => {
    if (!res.headersSent) deny(res, 502, 'editor not answering');
    else res.destroy();
  });
  req.pipe(upstream);
});

server.on('upgrade', async (req, socket, head) => {
  const decision = await admit(req);
  if (decision.status !== 200 || decision.target.redirect) {
    socket.end(`HTTP/1.1 ${decision.status === 200 ? 404 : decision.status} Denied\r\nconnection: close\r\n\r\n`);
    return;
  }
  const upstream = net.connect(UPSTREAM_PORT, '127.0.0.1', () => {
    const lines = [`${req.method} ${decision.target.path} HTTP/1.1`];
    const headers = upstreamHeaders(req.headers);
    for (const [name, value] of Object.entries(headers)) {
      for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
    }
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head && head.length) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  const close = () => { upstream.destroy(); socket.destroy(); };
  upstream.on('error', close);
  socket.on('error', close);
});

server.listen(LISTEN_PORT, '0.0.0.0', () => {
  console.log(`auth-proxy: session ${SESSION_ID} on :${LISTEN_PORT} -> 127.0.0.1:${UPSTREAM_PORT}`);
});
