// Browser test of the live bell (issue 5): two sessions side by side. A (the administrator)
// tags B in a post; B's bell count rises without a reload; the customer's row in B's list is
// bold; B opens the customer ("opened" is a Mark As Read Event out of the box) and the count
// drops; the row is normal again.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN,
  formatViolations,
  launchBrowser,
  login,
  newPage,
  runAxe,
  screenshot,
  startServer,
} from './server.mjs';

const B = { email: 'ben@accord.example', password: 'accord-demo-employee', name: 'Ben Agent' };

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The number the bell shows ('' when hidden means 0). */
async function bellCount(page) {
  const badge = page.locator('[data-bell-count]');
  if (await badge.isHidden()) return 0;
  return Number((await badge.textContent()).trim());
}

test('tagging B pushes to B\'s bell live; opening the object reads it', { timeout: 120_000 }, async () => {
  const a = await newPage(browser);
  const b = await newPage(browser);
  const errors = [];
  for (const p of [a, b]) {
    p.on('pageerror', (e) => errors.push(e.message));
    p.on('response', (r) => {
      if (r.status() >= 500) errors.push(`${r.status()} ${r.url()}`);
    });
  }
  try {
    await login(a, server.baseUrl, ADMIN);
    await login(b, server.baseUrl, B);

    // B looks at the customer list; nothing unread yet.
    await b.goto(`${server.baseUrl}/customers`);
    assert.equal(await bellCount(b), 0);
    const firstRow = b.locator('table.data tbody tr').first();
    const customerLink = firstRow.locator('a').first();
    const customerName = (await customerLink.textContent()).trim();
    const customerPath = await customerLink.getAttribute('href');
    assert.equal(await firstRow.getAttribute('class'), null, 'not bold before');

    // A tags B in a post on that customer.
    await a.goto(`${server.baseUrl}${customerPath}?tab=activity`);
    await a.fill('#post-body', `Could you call ${customerName} back?`);
    await a.selectOption('#post-tags', { label: B.name });
    await a.getByRole('button', { name: 'Post' }).click();
    await a.waitForURL((u) => u.search.includes('tab=activity'));

    // B's bell rises without a reload (server-sent events).
    await b.waitForFunction(
      () => document.querySelector('[data-bell-count]')?.textContent.trim() === '1',
      null,
      { timeout: 15_000 },
    );
    assert.equal(await bellCount(b), 1);
    await screenshot(b, 'notifications-bell-live');

    // On reload the row is bold (unread notifications on that object).
    await b.reload();
    const row = b.locator('table.data tbody tr', { hasText: customerName }).first();
    assert.equal(await row.getAttribute('class'), 'unread');
    assert.equal(await row.evaluate((r) => getComputedStyle(r.querySelector('td')).fontWeight), '700');

    // The notifications page lists it under Mentions.
    await b.click('a.bell');
    await b.waitForURL((u) => u.pathname === '/notifications');
    const mentions = b.locator('section', { has: b.getByRole('heading', { name: /Mentions/ }) });
    await assert.doesNotReject(mentions.getByRole('link', { name: new RegExp(customerName) }).waitFor());
    await screenshot(b, 'notifications-page');

    // B opens the customer: read ("opened"), the count drops, the row is normal again.
    await b.goto(`${server.baseUrl}${customerPath}`);
    assert.equal(await bellCount(b), 0);
    await b.goto(`${server.baseUrl}/customers`);
    const after = b.locator('table.data tbody tr', { hasText: customerName }).first();
    assert.equal(await after.getAttribute('class'), null, 'normal after');
    assert.equal(await after.evaluate((r) => getComputedStyle(r.querySelector('td')).fontWeight), '400');
    assert.deepEqual(errors, []);
  } finally {
    await a.context().close();
    await b.context().close();
  }
});

test('the notification, template, outbox and jobs pages have no serious accessibility problems', { timeout: 120_000 }, async () => {
  const page = await newPage(browser);
  try {
    await login(page, server.baseUrl, ADMIN);
    const problems = [];
    for (const path of [
      '/notifications',
      '/setup/email-templates',
      '/setup/email-templates/mentioned_in_post',
      '/setup/outbox',
      '/setup/outbox/1',
      '/setup/jobs',
    ]) {
      const res = await page.goto(`${server.baseUrl}${path}`);
      assert.equal(res.status(), 200, path);
      const violations = (await runAxe(page)).filter((v) => v.impact === 'serious' || v.impact === 'critical');
      if (violations.length > 0) problems.push(`${path}:\n${formatViolations(violations)}`);
    }
    // The preview of a template, rendered below the form.
    await page.goto(`${server.baseUrl}/setup/email-templates/mentioned_in_post`);
    await page.getByRole('button', { name: 'Preview' }).click();
    await assert.doesNotReject(page.getByRole('heading', { name: 'Preview (not saved)' }).waitFor());
    const violations = (await runAxe(page)).filter((v) => v.impact === 'serious' || v.impact === 'critical');
    if (violations.length > 0) problems.push(`preview:\n${formatViolations(violations)}`);
    await screenshot(page, 'notifications-template-preview');
    assert.deepEqual(problems, []);
  } finally {
    await page.context().close();
  }
});
