// Two-factor authentication in the browser: an employee enrols from their profile with a code
// computed here (RFC 6238 with Node's crypto), logs out, logs in with a code and then with a
// recovery code; an administrator ticks another employee and sets "Requires 2FA", which
// forces that employee to enrol before anything else. Pages are checked with axe and
// screenshotted for the user guide.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  ADMIN,
  checkedPage,
  clearFailureScreenshots,
  formatViolations,
  launchBrowser,
  login,
  runAxe,
  screenshot,
  startServer,
} from './server.mjs';

const TEST_TIMEOUT = 120_000;
const EMPLOYEE_PASSWORD = 'accord-demo-employee';
const BEN = { email: 'ben@accord.example', password: EMPLOYEE_PASSWORD, name: 'Ben Agent' };
const CARA = { email: 'cara@accord.example', password: EMPLOYEE_PASSWORD, name: 'Cara Consultant' };

/** RFC 4648 base32 (spaces ignored) to bytes. */
function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${c}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** The 6-digit TOTP code (SHA-1, 30 s) of `secret` at `unixSeconds`. */
function totp(secret, unixSeconds = Date.now() / 1000) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const digest = createHmac('sha1', secret).update(counter).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  const binary = digest.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 1_000_000).padStart(6, '0');
}

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;

const withPage = (label, fn, options) => checkedPage(browser, `2fa-${label}`, fn, options);

async function assertAccessible(page, what) {
  const violations = await runAxe(page);
  assert.equal(violations.length, 0, `${what} has accessibility violations:\n${formatViolations(violations)}`);
}

async function logOut(page) {
  await page.locator('.user-menu summary').click();
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/login'),
    page.getByRole('button', { name: 'Log out' }).click(),
  ]);
}

/** Fills the e-mail and password and waits to leave /login. */
async function passwordStep(page, user) {
  await login(page, server.baseUrl, user);
}

describe('Two-factor authentication', { timeout: 10 * TEST_TIMEOUT }, () => {
  before(
    async () => {
      await clearFailureScreenshots('FAILED-2fa-');
      server = await startServer();
      browser = await launchBrowser();
    },
    { timeout: 120_000 },
  );

  after(
    async () => {
      await browser?.close();
      await server?.stop();
    },
    { timeout: 30_000 },
  );

  test('enrol, log in with a code, then with a recovery code', { timeout: TEST_TIMEOUT }, async () => {
    await withPage('enrol', async (page) => {
      await passwordStep(page, BEN);
      // User drop-down → User profile → Enable 2FA.
      await page.locator('.user-menu summary').click();
      await page.getByRole('link', { name: 'User profile' }).click();
      await page.waitForURL((u) => u.pathname === '/profile');
      await page.getByRole('link', { name: 'Enable 2FA' }).click();
      await page.waitForURL((u) => u.pathname === '/2fa/enrol');
      assert.equal(await page.locator('.qr svg').count(), 1, 'a QR code is shown');
      const uri = (await page.locator('#otpauth-uri').textContent()).trim();
      assert.match(uri, /^otpauth:\/\/totp\/Accord:ben@accord\.example\?secret=[A-Z2-7]+&issuer=Accord&algorithm=SHA1&digits=6&period=30$/);
      const secret = base32Decode(await page.locator('#secret').textContent());
      assert.equal(secret.length, 20);
      await screenshot(page, '2fa-enrol');
      await assertAccessible(page, 'the enrolment page');

      // A wrong code is explained and changes nothing.
      const wrong = totp(secret) === '000000' ? '111111' : '000000';
      await page.getByLabel('Code from the app').fill(wrong);
      await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
      await assert.doesNotReject(page.getByRole('alert').waitFor());
      assert.match(await page.getByRole('alert').textContent(), /not the current code/);

      await page.getByLabel('Code from the app').fill(totp(secret));
      await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
      await page.getByRole('heading', { name: 'Two-factor authentication is on' }).waitFor();
      const codes = (await page.locator('.recovery-codes code').allTextContents()).map((c) => c.trim());
      assert.equal(codes.length, 10);
      assert.equal(new Set(codes).size, 10);
      await screenshot(page, '2fa-recovery-codes');
      await assertAccessible(page, 'the recovery codes page');
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Download as .txt' }).click(),
      ]);
      assert.equal(download.suggestedFilename(), 'accord-recovery-codes.txt');
      const text = await readFile(await download.path(), 'utf8');
      for (const c of codes) assert.ok(text.includes(c), `the download holds ${c}`);
      await page.getByRole('link', { name: /continue/ }).click();
      await page.waitForURL((u) => u.pathname === '/home');

      // Log out; the password now leads to the code step, and nothing else opens before it.
      await logOut(page);
      await passwordStep(page, BEN);
      assert.equal(new URL(page.url()).pathname, '/login/2fa');
      await screenshot(page, '2fa-login-code');
      await assertAccessible(page, 'the code page');
      await page.goto(`${server.baseUrl}/customers`);
      assert.equal(new URL(page.url()).pathname, '/login/2fa', 'no page before the code');
      // The next step's code: the current one was used to enrol and works only once.
      await page.getByLabel('Code').fill(totp(secret, Date.now() / 1000 + 30));
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/home'),
        page.getByRole('button', { name: 'Verify' }).click(),
      ]);

      // A recovery code also opens it, once.
      await logOut(page);
      await passwordStep(page, BEN);
      await page.getByLabel('Code').fill(codes[0]);
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/home'),
        page.getByRole('button', { name: 'Verify' }).click(),
      ]);
      assert.match(await page.locator('.flash').textContent(), /recovery code; 9 are left/);
      await logOut(page);
      await passwordStep(page, BEN);
      await page.getByLabel('Code').fill(codes[0]);
      await page.getByRole('button', { name: 'Verify' }).click();
      await assert.doesNotReject(page.getByRole('alert').waitFor());
      assert.equal(new URL(page.url()).pathname, '/login/2fa');

      // The profile shows 2FA on, with 9 codes left.
      await page.getByLabel('Code').fill(codes[1]);
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/home'),
        page.getByRole('button', { name: 'Verify' }).click(),
      ]);
      await page.goto(`${server.baseUrl}/profile`);
      assert.match(await page.locator('#two-factor').textContent(), /8 recovery codes left/);
      await screenshot(page, '2fa-profile');
    });
  });

  test('"Requires 2FA" set in bulk forces enrolment at the next login', { timeout: TEST_TIMEOUT }, async () => {
    await withPage('require', async (page) => {
      await passwordStep(page, ADMIN);
      await page.goto(`${server.baseUrl}/employees`);
      const row = page.locator('table.data tbody tr', { hasText: CARA.name });
      assert.match(await row.textContent(), /Off/);
      await row.getByRole('checkbox').check();
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/employees'),
        page.getByRole('button', { name: 'Requires 2FA' }).click(),
      ]);
      assert.match(await page.locator('.flash').textContent(), /Requires 2FA: changed 1 of 1 ticked employees/);
      assert.match(
        await page.locator('table.data tbody tr', { hasText: CARA.name }).textContent(),
        /Required · not set up/,
      );
      await screenshot(page, '2fa-employees');
      await assertAccessible(page, 'the employee list with tick boxes');
      await page.locator('table.data tbody tr', { hasText: CARA.name }).getByRole('link', { name: CARA.name }).click();
      const adminSection = page.locator('#two-factor');
      assert.match(await adminSection.textContent(), /Required · not set up/);
      assert.equal(await adminSection.getByRole('button', { name: 'Requires 2FA' }).count(), 0, 'no button for what is set');
      await screenshot(page, '2fa-employee');
      await assertAccessible(page, 'an employee page with its 2FA section');
      await logOut(page);

      await passwordStep(page, CARA);
      assert.equal(new URL(page.url()).pathname, '/2fa/enrol');
      assert.match(await page.getByRole('status').textContent(), /requires two-factor authentication/);
      await page.goto(`${server.baseUrl}/home`);
      assert.equal(new URL(page.url()).pathname, '/2fa/enrol', 'nothing else before enrolling');
      const secret = base32Decode(await page.locator('#secret').textContent());
      await page.getByLabel('Code from the app').fill(totp(secret));
      await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
      await page.getByRole('link', { name: /continue/ }).click();
      await page.waitForURL((u) => u.pathname === '/home');
      // Required: the profile offers no Disable button.
      await page.goto(`${server.baseUrl}/profile`);
      const section = page.locator('#two-factor');
      assert.match(await section.textContent(), /required for your account/);
      assert.equal(await section.getByRole('button', { name: 'Disable 2FA' }).count(), 0);
    });
  });
});
