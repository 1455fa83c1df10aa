// Reports the IDE's own activity to the session record: the idle timeout counts from it, not from
// the web app polling. No dependencies (code-server's bundled Node).
//
// Activity = a newer modification time of any ACTIVITY_FILES (':'-separated): code-server's
// heartbeat file (it touches it while the editor is in use) and, behind the editor load balancer,
// the auth proxy's file (touched on each of the owner's requests). Every REPORT_INTERVAL_SECONDS
// (default 300), if one changed since the last report, this calls the IAM-authorized mutation
// reportSessionActivity(id: SESSION_ID) at GRAPHQL_URL, signed (SigV4) with the task role's
// credentials from the ECS credentials endpoint. The sessions Lambda accepts it only from this
// task for this session. Failures are logged and retried at the next interval.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const https = require('https');

const env = process.env;
const URL_ = new URL(env.GRAPHQL_URL || 'https://invalid.example/graphql');
const REGION = env.AWS_REGION || '';
const SESSION_ID = env.SESSION_ID || '';
const FILES = (env.ACTIVITY_FILES || '').split(':').filter(Boolean);
const INTERVAL_MS = Number(env.REPORT_INTERVAL_SECONDS || 300) * 1000;
const MUTATION = 'mutation ReportSessionActivity($id: ID!) { reportSessionActivity(id: $id) }';

if (!env.GRAPHQL_URL || !REGION || !SESSION_ID || !FILES.length) {
  console.error('activity-reporter: GRAPHQL_URL, AWS_REGION, SESSION_ID and ACTIVITY_FILES are required');
  process.exit(64);
}

function request(url, options, body) {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(url, { ...options, timeout: 10000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { data += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

// The task role's temporary credentials (ECS container credentials endpoint).
async function credentials() {
  const url = env.AWS_CONTAINER_CREDENTIALS_FULL_URI
    || `http://169.254.170.2${env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || ''}`;
  const headers = env.AWS_CONTAINER_AUTHORIZATION_TOKEN ? { authorization: env.AWS_CONTAINER_AUTHORIZATION_TOKEN } : {};
  const res = await request(new URL(url), { method: 'GET', headers });
  if (res.status !== 200) throw new Error(`credentials endpoint answered ${res.status}`);
  const c = JSON.parse(res.body);
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.Token };
}

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();

// AWS Signature Version 4 for an AppSync POST.
function sign(creds, body, now = new Date()) {
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const headers = { 'content-type': 'application/json', host: URL_.host, 'x-amz-date': amzDate };
  if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
  const names = Object.keys(headers).sort();
  const canonical = ['POST', URL_.pathname || '/', '', ...names.map((n) => `${n}:${headers[n]}`), '',
    names.join(';'), sha256(body)].join('\n');
  const scope = `${day}/${REGION}/appsync/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${creds.secretAccessKey}`, day);
  for (const part of [REGION, 'appsync', 'aws4_request']) key = hmac(key, part);
  const signature = crypto.createHmac('sha256', key).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, `
    + `SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

function newestActivity() {
  let newest = 0;
  for (const file of FILES) {
    try { newest = Math.max(newest, fs.statSync(file).mtimeMs); } catch (e) { /* not there yet */ }
  }
  return newest;
}

let reported = 0;

async function tick() {
  const newest = newestActivity();
  if (newest <= reported) return;
  const body = JSON.stringify({ query: MUTATION, variables: { id: SESSION_ID } });
  try {
    const headers = { ...sign(await credentials(), body), 'content-length': Buffer.byteLength(body) };
    const res = await request(URL_, { method: 'POST', headers }, body);
    const answer = JSON.parse(res.body || '{}');
    if (res.status !== 200 || answer.errors || answer.data?.reportSessionActivity !== true) {
      throw new Error(`HTTP ${res.status}: ${res.body.slice(0, 300)}`);
    }
    reported = newest;
  } catch (e) {
    console.error(`activity-reporter: report failed, retrying in ${INTERVAL_MS / 1000} s: ${e.message}`);
  }
}

tick();
setInterval(tick, INTERVAL_MS);
