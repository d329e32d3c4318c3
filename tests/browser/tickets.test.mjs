// The service desk in the browser: a ticket of a type with a default checklist cannot move
// to "Resolved" until every item is ticked; the reason is shown next to the status control.
// Uses the demo data: workflow "Service Desk" (In Progress -> Resolved: checklists complete)
// and ticket type "Onboarding" with the "New starter" checklist (5 items).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN,
  PORTAL,
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

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;

const withPage = (label, fn, options) => checkedPage(browser, `tickets-${label}`, fn, options);

async function assertAccessible(page, what) {
  const violations = await runAxe(page);
  assert.equal(violations.length, 0, `${what} has accessibility violations:\n${formatViolations(violations)}`);
}

/** Picks "Move to" and presses Change status; returns the flash message. */
async function moveTo(page, status) {
  await page.getByLabel('Move to').selectOption(status);
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Change status' }).click()]);
  return (await page.locator('.flash').textContent()).trim();
}

describe('Service desk', { timeout: 10 * TEST_TIMEOUT }, () => {
  before(
    async () => {
      await clearFailureScreenshots('FAILED-tickets-');
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

  test('a default checklist must be complete before "Resolved"', { timeout: TEST_TIMEOUT }, async () => {
    await withPage('resolve', async (page) => {
      await login(page, server.baseUrl, ADMIN);
      await page.getByRole('link', { name: 'Tickets', exact: true }).click();
      await page.getByRole('link', { name: 'New ticket' }).click();
      await page.getByLabel('Summary').fill('New starter: Sam Park');
      await page.getByLabel('Customer').selectOption({ label: 'Acme Corporation' });
      await page.getByLabel('Ticket type').selectOption({ label: 'Onboarding' });
      await Promise.all([
        page.waitForURL((u) => /^\/tickets\/\d+$/.test(u.pathname)),
        page.getByRole('button', { name: 'Save' }).click(),
      ]);
      // Priority left empty: the type's default.
      assert.equal((await page.locator('dl.facts dt:text-is("Priority") + dd').first().textContent()).trim(), 'Medium');
      const checklists = page.locator('#checklists');
      assert.match(await checklists.locator('h2').textContent(), /0\/5/);
      assert.equal(await checklists.getByRole('button', { name: /^Tick / }).count(), 5);

      assert.match(await moveTo(page, 'In Progress'), /Status changed to “In Progress”/);
      // The reason is next to the control before trying.
      const reasons = page.locator('#move-reasons');
      assert.match(await reasons.textContent(), /Not yet to Resolved: every checklist item must be ticked first/);
      assert.match(await reasons.textContent(), /New starter › Create the user account/);
      await assertAccessible(page, 'a ticket page');
      await screenshot(page, 'tickets-blocked');

      // Trying anyway is refused, saying why; the status stays.
      assert.match(await moveTo(page, 'Resolved'), /Cannot move to “Resolved”: every checklist item must be ticked first/);
      assert.match(await page.locator('#status h2').textContent(), /In Progress/);

      for (let i = 0; i < 5; i++) {
        await Promise.all([
          page.waitForLoadState('load'),
          checklists.getByRole('button', { name: /^Tick / }).first().click(),
        ]);
      }
      assert.match(await page.locator('#checklists h2').textContent(), /5\/5/);
      assert.equal(await page.locator('#move-reasons li').count(), 0, 'nothing blocks any more');
      assert.match(await page.locator('.checklist-items li').first().textContent(), /Ada Administrator/);

      assert.match(await moveTo(page, 'Resolved'), /Status changed to “Resolved”/);
      assert.match(await page.locator('#status h2').textContent(), /Resolved/);
      await screenshot(page, 'tickets-resolved');

      await page.goto(`${server.baseUrl}/tickets?search=${encodeURIComponent('Sam Park')}`);
      const row = page.locator('table.data tbody tr').first();
      assert.match(await row.textContent(), /Resolved/);
      assert.match(await row.textContent(), /5\/5/);
      await assertAccessible(page, 'the ticket list');
      await screenshot(page, 'tickets-list');
    });
  });

  test('a portal contact opens a ticket and sees it', { timeout: TEST_TIMEOUT }, async () => {
    await withPage('portal', async (page) => {
      await login(page, server.baseUrl, PORTAL);
      await page.getByRole('link', { name: 'Your tickets' }).click();
      await page.getByRole('link', { name: 'New ticket' }).click();
      await page.getByLabel('Summary').fill('Wi-Fi in the meeting room');
      await page.getByLabel('Kind of request').selectOption({ label: 'Incident' });
      await page.getByLabel('Details').fill('Drops every few minutes.');
      await Promise.all([
        page.waitForURL((u) => /^\/portal\/tickets\/\d+$/.test(u.pathname)),
        page.getByRole('button', { name: 'Send' }).click(),
      ]);
      assert.match(await page.locator('dl.facts').textContent(), /New/);
      await assertAccessible(page, 'a portal ticket');
      await screenshot(page, 'tickets-portal');
    });
  });
});
