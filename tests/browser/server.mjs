// Helpers for the browser tests: a fresh Accord demo server per test file, a headless
// Chromium that may only talk to 127.0.0.1, log-in, screenshots and axe-core checks.
//
// Everything here fails loudly: a missing server binary or browser is an error, never a skip.

import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root (tests/browser/../..). */
export const REPO_ROOT = resolve(here, '..', '..');
/** Where screenshots go. */
export const RESULTS_DIR = join(REPO_ROOT, 'test-results', 'browser');
/** The server binary under test. */
export const ACCORD_BIN = process.env.ACCORD_BIN || '/var/cache/accord-target/debug/accord';
/** The browser. */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const ADMIN = { email: 'admin@accord.example', password: 'accord-demo-admin', name: 'Ada Administrator' };
export const PORTAL = { email: 'jane@acme.example', password: 'accord-demo-portal', customer: 'Acme Corporation' };

export const DESKTOP = { width: 1366, height: 768 };
export const PHONE = { width: 390, height: 844 };

const STARTUP_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

const execFileP = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function requireFile(path, what, hint) {
  if (!existsSync(path)) {
    throw new Error(`${what} was not found at ${path}. ${hint}`);
  }
}

/** The environment for the server and CLI: ours, minus Accord settings that could point elsewhere. */
function serverEnv() {
  const env = { ...process.env, NO_COLOR: '1' };
  for (const key of Object.keys(env)) {
    if (key.startsWith('ACCORD_') && key !== 'ACCORD_LOG') delete env[key];
  }
  return env;
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
async function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * Starts `accord serve --demo` on a free port with a new SQLite database in a temporary
 * directory and waits until GET /healthz answers 200.
 *
 * @returns {Promise<{baseUrl: string, databaseUrl: string, dir: string, output: () => string,
 *   createApiToken: (email?: string) => Promise<string>, stop: () => Promise<void>}>}
 */
export async function startServer() {
  requireFile(
    ACCORD_BIN,
    'The Accord server binary',
    'Build it first: cd /work/main && CARGO_TARGET_DIR=/var/cache/accord-target cargo build -p accord ' +
      '(or set ACCORD_BIN to the binary).',
  );
  const dir = await mkdtemp(join(tmpdir(), 'accord-browser-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const databaseUrl = `sqlite://${join(dir, 'accord.db')}`;

  let log = '';
  const child = spawn(
    ACCORD_BIN,
    ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--database-url', databaseUrl],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      // No colour codes in the captured log; keep the environment otherwise.
      env: serverEnv(),
    },
  );
  const collect = (chunk) => {
    log += chunk.toString();
    if (log.length > 200_000) log = log.slice(-100_000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let exited = null;
  const exitPromise = new Promise((r) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      r(exited);
    });
  });
  child.on('error', (e) => {
    log += `\nspawn error: ${e.message}`;
  });

  const stop = async () => {
    if (exited === null) {
      child.kill('SIGTERM');
      const timer = sleep(STOP_TIMEOUT_MS).then(() => 'timeout');
      if ((await Promise.race([exitPromise, timer])) === 'timeout') {
        child.kill('SIGKILL');
        await exitPromise;
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  // Wait for /healthz.
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let lastError = 'no attempt';
  for (;;) {
    if (exited !== null) {
      await stop();
      throw new Error(
        `The Accord server exited during start-up (${JSON.stringify(exited)}). Output:\n${log}`,
      );
    }
    try {
      const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) break;
      lastError = `HTTP ${res.status}`;
    } catch (e) {
      lastError = e.cause?.code || e.message;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `The Accord server did not answer GET /healthz with 200 within ${STARTUP_TIMEOUT_MS / 1000} s ` +
          `(last: ${lastError}). Output:\n${log}`,
      );
    }
    await sleep(200);
  }

  /** Creates a REST API token with the CLI against the same database. */
  const createApiToken = async (email = ADMIN.email) => {
    const { stdout } = await execFileP(
      ACCORD_BIN,
      ['token', 'create', '--email', email, '--database-url', databaseUrl],
      { cwd: dir, timeout: 30_000, env: serverEnv() },
    );
    const token = stdout.trim();
    if (!token || /\s/.test(token)) {
      throw new Error(`accord token create printed something unexpected: ${JSON.stringify(stdout)}`);
    }
    return token;
  };

  return { baseUrl, databaseUrl, dir, output: () => log, createApiToken, stop };
}

/** Launches headless Chromium with networking limited to what the tests need. */
export async function launchBrowser() {
  requireFile(
    CHROMIUM,
    'Chromium',
    'Install it (apt-get install chromium) or set CHROMIUM to the browser executable. ' +
      'Do not use "npx playwright install".',
  );
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/**
 * A new isolated browser context and page. Every request that does not go to 127.0.0.1 is
 * aborted and remembered in `page.blockedRequests`.
 */
export async function newPage(browser, { viewport = DESKTOP } = {}) {
  // bypassCSP: the app's Content-Security-Policy (rightly) forbids inline scripts, which is
  // how axe-core is injected.
  const context = await browser.newContext({ viewport, locale: 'en-GB', timezoneId: 'UTC', bypassCSP: true });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(20_000);
  const blocked = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.protocol === 'data:' || url.protocol === 'blob:') {
      return route.continue();
    }
    blocked.push(route.request().url());
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.blockedRequests = blocked;
  return page;
}

/**
 * Runs `fn` with a fresh page; on failure saves test-results/browser/FAILED-<label>.png, and
 * always checks that the page did not try to reach anything but 127.0.0.1, got no 5xx answers
 * and raised no JavaScript errors.
 */
export async function checkedPage(browser, label, fn, { viewport = DESKTOP } = {}) {
  const page = await newPage(browser, { viewport });
  const serverErrors = [];
  const pageErrors = [];
  page.on('response', (r) => {
    if (r.status() >= 500) serverErrors.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  try {
    await fn(page);
    assert.deepEqual(page.blockedRequests, [], 'the page tried to reach hosts other than 127.0.0.1');
    assert.deepEqual(serverErrors, [], 'the server answered with 5xx');
    assert.deepEqual(pageErrors, [], 'JavaScript errors on the page');
  } catch (e) {
    try {
      await screenshot(page, `FAILED-${label}`);
    } catch {
      // The page may be gone; the original error matters.
    }
    throw e;
  } finally {
    await page.context().close();
  }
}

/** Logs in on /login and waits for the page after it. */
export async function login(page, baseUrl, { email, password }) {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await Promise.all([
    page.waitForURL((u) => u.pathname !== '/login'),
    page.getByRole('button', { name: 'Log in' }).click(),
  ]);
}

/** Saves a full-page screenshot to test-results/browser/<name>.png and returns its path. */
export async function screenshot(page, name) {
  await mkdir(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true, animations: 'disabled' });
  return path;
}

const AXE_PATH = join(here, 'node_modules', 'axe-core', 'axe.min.js');

/** Runs axe-core (WCAG 2 A and AA rules) on the current page and returns its violations. */
export async function runAxe(page) {
  requireFile(AXE_PATH, 'axe-core', 'Run npm install in tests/browser.');
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) {
    await page.addScriptTag({ path: AXE_PATH });
  }
  const result = await page.evaluate(() =>
    window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] },
      resultTypes: ['violations'],
    }),
  );
  return result.violations;
}

/** Formats axe violations for a human. */
export function formatViolations(violations) {
  return violations
    .map((v) => {
      const nodes = v.nodes
        .map((n) => `    - ${n.target.join(' ')}\n      ${n.html}\n      ${(n.failureSummary || '').replace(/\n/g, '\n      ')}`)
        .join('\n');
      return `  [${v.impact}] ${v.id}: ${v.help}\n    ${v.helpUrl}\n${nodes}`;
    })
    .join('\n');
}

/** Removes failure screenshots an earlier run left behind (those whose name starts with prefix). */
export async function clearFailureScreenshots(prefix) {
  let names = [];
  try {
    names = await readdir(RESULTS_DIR);
  } catch {
    return;
  }
  await Promise.all(names.filter((n) => n.startsWith(prefix)).map((n) => unlink(join(RESULTS_DIR, n))));
}
