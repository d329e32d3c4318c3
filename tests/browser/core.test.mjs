// Core browser tests of the Accord web UI: log-in, customers (create, list, audit, validation),
// log-out, portal isolation, accessibility (axe-core) and screenshots.
//
// One fresh demo server (own temporary SQLite database) for this file; every test gets its
// own browser context, so tests do not share cookies and may run in any order.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN,
  checkedPage,
  clearFailureScreenshots,
  DESKTOP,
  PHONE,
  PORTAL,
  formatViolations,
  launchBrowser,
  login,
  newPage,
  runAxe,
  screenshot,
  startServer,
} from './server.mjs';

const TEST_TIMEOUT = 90_000;

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;

/** A name no other test (or earlier run) uses. */
const unique = (prefix) => `${prefix} ${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

/** Runs `fn` with a fresh checked page (see checkedPage); failures leave FAILED-core-<label>.png. */
const withPage = (label, fn, options) => checkedPage(browser, `core-${label}`, fn, options);

/** GET a REST API path as the admin (token made with the CLI). */
let apiToken;
async function api(path) {
  apiToken ??= await server.createApiToken();
  const res = await fetch(`${server.baseUrl}${path}`, {
    headers: { Authorization: `Bearer ${apiToken}`, Accept: 'application/json' },
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(res.status, 200, `GET ${path} answered ${res.status}: ${await res.clone().text()}`);
  return res.json();
}

/** Opens the New customer form from the customer list. */
async function openNewCustomerForm(page) {
  await page.goto(`${server.baseUrl}/customers`);
  await page.getByRole('link', { name: 'New customer' }).click();
  await page.waitForURL((u) => u.pathname === '/customers/new');
  await assert.doesNotReject(page.getByRole('heading', { level: 1 }).waitFor());
}

/** Fills and submits the New customer form; returns the HTTP status of the answer. */
async function submitCustomer(page, { name, domains }) {
  await page.getByRole('textbox', { name: 'Name', exact: true }).fill(name);
  await page.getByLabel('E-mail domains').fill(domains.join('\n'));
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Save' }).click(),
  ]);
  await page.waitForLoadState('load');
  return response.status();
}

/** Creates a customer through the UI and returns its id (page ends on the detail page). */
async function createCustomer(page, { name, domains }) {
  await openNewCustomerForm(page);
  await submitCustomer(page, { name, domains });
  await page.waitForURL(/\/customers\/\d+$/);
  return Number(new URL(page.url()).pathname.split('/').pop());
}

/** The <dd> that follows the <dt> with this text on a detail page. */
const fact = (page, label) => page.locator(`dl.facts dt:text-is("${label}") + dd`);

describe('Accord web UI', { timeout: 20 * TEST_TIMEOUT }, () => {
  before(
    async () => {
      await clearFailureScreenshots('FAILED-core-');
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

  test('admin logs in and lands on the home page', { timeout: TEST_TIMEOUT }, async () => {
    await withPage('login', async (page) => {
      await page.goto(`${server.baseUrl}/login`);
      await assert.doesNotReject(page.getByRole('heading', { name: 'Log in' }).waitFor());
      await login(page, server.baseUrl, ADMIN);
      // "/" redirects employees to their dashboard at /home.
      assert.ok(['/', '/home'].includes(new URL(page.url()).pathname), `landed on ${page.url()}`);
      const heading = page.getByRole('heading', { level: 1 });
      assert.equal((await heading.textContent()).trim(), `Welcome, ${ADMIN.name}`);
      // The top bar shows who is logged in.
      assert.equal((await page.locator('.user-menu .user-name').textContent()).trim(), ADMIN.name);
    });
  });

  test('wrong password is refused', { timeout: TEST_TIMEOUT }, async () => {
    await withPage('wrong-password', async (page) => {
      await page.goto(`${server.baseUrl}/login`);
      await page.getByLabel('E-mail').fill(ADMIN.email);
      await page.getByLabel('Password').fill('not-the-password');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForLoadState('load');
      assert.equal(new URL(page.url()).pathname, '/login');
      assert.equal(await page.getByRole('alert').count(), 1, 'an error message is shown');
      await page.goto(`${server.baseUrl}/customers`);
      assert.equal(new URL(page.url()).pathname, '/login');
    });
  });

  test('create a customer with two e-mail domains; list and audit log show it', { timeout: TEST_TIMEOUT }, async () => {
    await withPage('create-customer', async (page) => {
      await login(page, server.baseUrl, ADMIN);
      const name = unique('Two Domains');
      const id = await createCustomer(page, { name, domains: ['twodomains.example', 'twodomains.co.uk'] });
      assert.ok(id > 0);

      // Detail page: name and the domains, sorted and comma-separated.
      const h1 = page.getByRole('heading', { level: 1 });
      assert.match(await h1.textContent(), new RegExp(`^\\s*${name}\\s`));
      assert.equal((await fact(page, 'Name').textContent()).trim(), name);
      assert.equal((await fact(page, 'E-mail domains').textContent()).trim(), 'twodomains.co.uk, twodomains.example');
      const flash = page.locator('.flash');
      if ((await flash.count()) > 0) assert.ok((await flash.textContent()).trim().length > 0);

      // List, searched by name: exactly one row, with both domains.
      await page.goto(`${server.baseUrl}/customers?search=${encodeURIComponent(name)}`);
      const rows = page.locator('table.data tbody tr');
      assert.equal(await rows.count(), 1);
      const row = rows.first();
      assert.equal((await row.getByRole('link', { name }).getAttribute('href')), `/customers/${id}`);
      const rowText = await row.textContent();
      assert.match(rowText, /twodomains\.co\.uk/);
      assert.match(rowText, /twodomains\.example/);

      // Searching by one of the domains finds it too.
      await page.goto(`${server.baseUrl}/customers?search=twodomains.co.uk`);
      assert.equal(await page.locator('table.data tbody tr').filter({ hasText: name }).count(), 1);

      // Audit Log tab.
      await page.goto(`${server.baseUrl}/customers/${id}`);
      await page.getByRole('link', { name: 'Audit Log' }).click();
      await page.waitForURL((u) => u.searchParams.get('tab') === 'audit');
      const auditLink = page.getByRole('link', { name: 'Audit Log' });
      assert.equal(await auditLink.getAttribute('aria-current'), 'page');
      const entries = page.locator('table.audit tbody tr');
      const created = entries.filter({ has: page.locator('.badge', { hasText: /^created$/ }) });
      assert.equal(await created.count(), 1, `one "created" entry; the tab shows: ${await page.locator('main').innerText()}`);
      const cells = created.first().locator('td');
      assert.equal((await cells.nth(1).textContent()).trim(), ADMIN.name);
      const changes = await cells.nth(3).textContent();
      assert.match(changes, /twodomains\.co\.uk/);
      assert.match(changes, /twodomains\.example/);
      assert.match(changes, new RegExp(name));
    });
  });

  test('the New customer form rejects an empty name and invalid domains', { timeout: TEST_TIMEOUT }, async () => {
    await withPage('validation', async (page) => {
      await login(page, server.baseUrl, ADMIN);
      const before = (await api('/api/v1/customers')).total;

      // Empty name.
      await openNewCustomerForm(page);
      const status = await submitCustomer(page, { name: '', domains: ['emptyname.example'] });
      assert.equal(status, 422);
      assert.equal(new URL(page.url()).pathname, '/customers', 'the form is shown again, not a detail page');
      const nameField = page.locator('.field').filter({ has: page.locator('#f-name') });
      assert.match(await nameField.getAttribute('class'), /\binvalid\b/);
      assert.equal((await nameField.locator('.error').textContent()).trim(), 'Name is required');
      assert.match(await page.getByRole('alert').textContent(), /nothing was saved/i);
      // What was typed is kept.
      assert.equal(await page.getByLabel('E-mail domains').inputValue(), 'emptyname.example');
      assert.equal((await api('/api/v1/customers')).total, before, 'nothing was created');

      // A line that is not a domain.
      const name = unique('Bad Domain');
      assert.equal(await submitCustomer(page, { name, domains: ['good.example', 'not a domain'] }), 422);
      const domainsField = page.locator('.field').filter({ has: page.locator('#f-email_domains') });
      const domainError = (await domainsField.locator('.error').textContent()).trim();
      assert.match(domainError, /is not a domain like example\.com/);
      assert.match(domainError, /"not/, `the error quotes the bad entry: ${domainError}`);
      assert.equal(await nameField.locator('.error').count(), 0, 'the name is fine now');
      assert.equal(await page.getByRole('textbox', { name: 'Name', exact: true }).inputValue(), name);

      // An entry that is clearly one bad domain is quoted in full.
      assert.equal(await submitCustomer(page, { name, domains: ['bad_domain!.example'] }), 422);
      assert.match(
        (await domainsField.locator('.error').textContent()).trim(),
        /"bad_domain!\.example" is not a domain/,
      );

      assert.equal((await api('/api/v1/customers')).total, before, 'nothing was created');
      assert.equal((await api(`/api/v1/customers?search=${encodeURIComponent(name)}`)).total, 0);
    });
  });

  test('log out from the user drop-down', { timeout: TEST_TIMEOUT }, async () => {
    await withPage('logout', async (page) => {
      await login(page, server.baseUrl, ADMIN);
      const logOut = page.getByRole('button', { name: 'Log out' });
      assert.equal(await logOut.isVisible(), false, 'the menu starts closed');
      await page.locator('.user-menu summary').filter({ hasText: ADMIN.name }).click();
      await logOut.waitFor({ state: 'visible' });
      await Promise.all([page.waitForURL((u) => u.pathname === '/login'), logOut.click()]);
      await page.goto(`${server.baseUrl}/customers`);
      assert.equal(new URL(page.url()).pathname, '/login');
      await assert.doesNotReject(page.getByRole('heading', { name: 'Log in' }).waitFor());
    });
  });

  test('a customer contact sees only the portal and only their own customer', { timeout: TEST_TIMEOUT }, async () => {
    // Another customer's contact, found with the REST API.
    const hank = (await api('/api/v1/contacts?search=hank')).items;
    assert.equal(hank.length, 1, 'demo data has one Hank');
    const jane = (await api('/api/v1/contacts?search=jane')).items.find((c) => c.email === PORTAL.email);
    assert.ok(jane, 'demo data has Jane');
    assert.notEqual(hank[0].customer_id, jane.customer_id);

    await withPage('portal', async (page) => {
      await login(page, server.baseUrl, PORTAL);
      assert.equal(new URL(page.url()).pathname, '/portal');
      assert.equal((await page.getByRole('heading', { level: 1 }).textContent()).trim(), PORTAL.customer);

      // Her own contact page works...
      const own = await page.goto(`${server.baseUrl}/portal/contacts/${jane.id}`);
      assert.equal(own.status(), 200);
      assert.equal((await page.getByRole('heading', { level: 1 }).textContent()).trim(), 'Jane Doe');

      // ...the employee UI does not.
      const employeeUi = await page.goto(`${server.baseUrl}/customers`);
      assert.equal(employeeUi.status(), 403);
      assert.match(await page.locator('body').innerText(), /for employees/);
      assert.doesNotMatch(await page.locator('body').innerText(), /Globex/);

      // Another customer's contact is simply not there.
      const other = await page.goto(`${server.baseUrl}/portal/contacts/${hank[0].id}`);
      assert.equal(other.status(), 404);
      assert.doesNotMatch(await page.locator('body').innerText(), /Hank|Scorpio|globex/i);

      // Nor is the REST API open to her session.
      const apiRes = await page.request.get(`${server.baseUrl}/api/v1/contacts`);
      assert.equal(apiRes.status(), 403);
    });
  });

  // The two tests below check details of the error display that go beyond "an error is shown".

  test('the error summary counts the fields that are marked', { timeout: TEST_TIMEOUT }, async () => {
    await withPage('error-summary', async (page) => {
      await login(page, server.baseUrl, ADMIN);
      await openNewCustomerForm(page);
      // Two fields wrong, the domain field with two bad entries.
      assert.equal(await submitCustomer(page, { name: '', domains: ['bad_one!', 'bad_two!'] }), 422);
      const marked = await page.locator('.field.invalid').count();
      assert.equal(marked, 2);
      const summary = (await page.getByRole('alert').textContent()).trim();
      assert.match(
        summary,
        new RegExp(`\\b${marked} fields\\b`),
        `${marked} fields are marked, but the summary above the form says: "${summary}"`,
      );
    });
  });

  test('a bad line in E-mail domains is quoted as typed', { timeout: TEST_TIMEOUT }, async () => {
    await withPage('domain-line', async (page) => {
      await login(page, server.baseUrl, ADMIN);
      await openNewCustomerForm(page);
      assert.equal(await submitCustomer(page, { name: unique('Line'), domains: ['not a domain'] }), 422);
      const error = (await page.locator('#e-email_domains').textContent()).trim();
      // The help text says "One per line"; the line is one (bad) entry.
      assert.equal(error, '"not a domain" is not a domain like example.com');
      assert.equal(await page.getByLabel('E-mail domains').inputValue(), 'not a domain', 'what was typed is kept');
    });
  });

  test('accessibility: no serious or critical axe-core violations', { timeout: TEST_TIMEOUT }, async () => {
    await withPage('a11y', async (page) => {
      const problems = [];
      const check = async (what) => {
        const violations = (await runAxe(page)).filter((v) => v.impact === 'serious' || v.impact === 'critical');
        if (violations.length > 0) problems.push(`${what} (${page.url()}):\n${formatViolations(violations)}`);
      };

      await page.goto(`${server.baseUrl}/login`);
      await check('login page');

      await login(page, server.baseUrl, ADMIN);
      await page.goto(`${server.baseUrl}/customers`);
      await check('customer list');

      await page.getByRole('link', { name: 'Acme Corporation' }).click();
      await page.waitForURL(/\/customers\/\d+$/);
      await check('customer detail');

      await openNewCustomerForm(page);
      await check('new customer form');

      await submitCustomer(page, { name: '', domains: ['not a domain'] });
      await check('new customer form with errors');

      assert.equal(problems.length, 0, `axe-core found serious/critical violations:\n\n${problems.join('\n\n')}`);
    });
  });

  test('accessibility: other pages (home, tabs, search, portal, error pages)', { timeout: TEST_TIMEOUT }, async () => {
    const problems = [];
    const check = async (page, what) => {
      const violations = (await runAxe(page)).filter((v) => v.impact === 'serious' || v.impact === 'critical');
      if (violations.length > 0) problems.push(`${what} (${page.url()}):\n${formatViolations(violations)}`);
    };
    await withPage('a11y-more', async (page) => {
      await login(page, server.baseUrl, ADMIN);
      await check(page, 'home');
      for (const [what, path] of [
        ['customer activity tab', '/customers/1?tab=activity'],
        ['customer audit tab', '/customers/1?tab=audit'],
        ['search results', '/search?q=acme'],
        ['empty search result', '/customers?search=no-such-customer'],
        ['404 page', '/customers/999999'],
      ]) {
        await page.goto(`${server.baseUrl}${path}`);
        await check(page, what);
      }
    });
    await withPage('a11y-portal', async (page) => {
      await login(page, server.baseUrl, PORTAL);
      await check(page, 'portal home');
      await page.getByRole('link', { name: 'Jane Doe' }).click();
      await page.waitForURL(/\/portal\/contacts\/\d+$/);
      await check(page, 'portal contact');
      await page.goto(`${server.baseUrl}/customers`);
      await check(page, '403 page');
    });
    assert.equal(problems.length, 0, `axe-core found serious/critical violations:\n\n${problems.join('\n\n')}`);
  });

  test('screenshots of the main pages', { timeout: TEST_TIMEOUT }, async () => {
    let customerId;
    await withPage('screenshots', async (page) => {
      await page.goto(`${server.baseUrl}/login`);
      await screenshot(page, 'login');

      await login(page, server.baseUrl, ADMIN);
      await screenshot(page, 'home');

      customerId = await createCustomer(page, {
        name: unique('Screenshot Customer'),
        domains: ['screenshot.example', 'screenshot.co.uk'],
      });
      await screenshot(page, 'customer-detail');

      await page.goto(`${server.baseUrl}/customers/${customerId}?tab=audit`);
      await screenshot(page, 'customer-audit');

      await page.goto(`${server.baseUrl}/customers`);
      await screenshot(page, 'customer-list');

      await openNewCustomerForm(page);
      await submitCustomer(page, { name: '', domains: ['not a domain'] });
      await screenshot(page, 'new-customer-errors');
    });

    await withPage('screenshots-phone', async (page) => {
      await login(page, server.baseUrl, ADMIN);
      await page.goto(`${server.baseUrl}/customers`);
      // Nothing on the page should be wider than the phone (besides scrollable tables).
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      await screenshot(page, 'customer-list-phone');
      assert.ok(overflow <= 0, `the customer list is ${overflow}px wider than a ${PHONE.width}px phone`);
    }, { viewport: PHONE });

    await withPage('screenshots-portal', async (page) => {
      await login(page, server.baseUrl, PORTAL);
      await screenshot(page, 'portal-home');
    });
  });
});
