// The code AppSync receives: each resolver / function file bundled by components/appsync_code.py (the
// bundler the API component deploys with; stdlib Python, run with $PYTHON or python3), written to a
// temporary directory so Node can import a bundle like any module. One bundler run per process.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const RESOLVERS_DIR = join(HERE, '..', '..', 'resolvers');
const BUNDLER = join(HERE, '..', '..', '..', '..', 'components', 'appsync_code.py');

// {file: bundled code} for `files` relative to `root`, every inlined module inside `root`.
export function bundleFiles(root, files) {
  const python = process.env.PYTHON || 'python3';
  let out;
  try {
    out = execFileSync(python, [BUNDLER, '--json', '--root', '.', ...files], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`bundling with ${python} ${BUNDLER} failed: ${e.stderr || e.message}`);
  }
  return JSON.parse(out);
}

const cache = new Map();

// {file: {code, path}} for files relative to app/graphql/resolvers.
export function bundles(files) {
  const missing = files.filter((file) => !cache.has(file));
  if (missing.length) {
    const dir = outputDir();
    for (const [file, code] of Object.entries(bundleFiles(RESOLVERS_DIR, missing))) {
      const path = join(dir, file);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, code);
      cache.set(file, { code, path });
    }
  }
  return Object.fromEntries(files.map((file) => [file, cache.get(file)]));
}

let dir;
function outputDir() {
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), 'appsync-bundles-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return dir;
}
