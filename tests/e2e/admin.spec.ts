// The Administration view: directory import (a bad row, preview, apply, live in an operator's
// console), accounts, chat settings applied live, the audit log.
import AxeBuilder from '@axe-core/playwright';
import { Locator, Page, expect, test } from '@playwright/test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestServer, openAdministration } from './server';
import { signedIn } from './chat';

let server: TestServer;
let csvDir: string;
test.beforeAll(async () => {
  server = await TestServer.launch();
  csvDir = mkdtempSync(join(tmpdir(), 'switchboard-csv-'));
});
test.afterAll(async () => {
  await server.dispose();
  rmSync(csvDir, { recursive: true, force: true });
});

const HEADER = 'id,name,username,department,title,location,extension,mobile,other_numbers,email,xmpp';
// Three demo people as the demo seeds them (ids ext-2001..: see crates/server/src/demo), so the
// operator and Alice keep their entries; Bob gets a new title.
const KEPT = [
  'ext-2001,Operator,operator,Reception,Switchboard operator,"Head office, floor 1",2001,+1 555 2001,,,',
  'ext-2002,Alice Archer,alice,Sales,Account manager,"Head office, floor 1",2002,+1 555 2002,,,',
  'ext-2003,Bob Baker,bob,Engineering,Principal engineer,"Head office, floor 1",2003,+1 555 2003,,,',
];

/** Writes a CSV file of `rows` under a header row and returns its path. */
function csv(name: string, rows: string[]): string {
  const path = join(csvDir, name);
  writeFileSync(path, [HEADER, ...rows].join('\n') + '\n');
  return path;
}

/** The directory pane of a console, its search box and its count ("3 of 248 entries"). */
function directoryOf(page: Page) {
  const pane = page.getByRole('region', { name: 'Directory' });
  return {
    pane,
    search: pane.getByRole('searchbox', { name: 'Search directory' }),
    count: pane.getByText(/^\d+ (of \d+ )?entr(y|ies)$/),
    row: (name: string): Locator => pane.getByRole('listitem').filter({ hasText: name }),
  };
}

/** A part of the Administration view, by its heading. */
function part(view: Locator, name: string): Locator {
  return view.getByRole('region', { name, exact: true });
}

test('a bad CSV row changes nothing; the fixed file is previewed, applied and shows live in an operator\'s console', async ({ browser }) => {
  const operator = await signedIn(browser, server, 'operator');
  const directory = directoryOf(operator.page);
  await expect(directory.count).toHaveText(/^\d+ entries$/);
  const before = await directory.count.textContent();
  await directory.search.fill('Zimmer');
  await expect(directory.count).toHaveText(/^0 of \d+ entries$/);

  const admin = await signedIn(browser, server, 'admin');
  const view = await openAdministration(admin.page);
  const importer = part(view, 'Directory');
  const file = importer.getByLabel('CSV file');
  const preview = importer.getByRole('button', { name: 'Preview' });

  // Line 4 (header = line 1) has a phone number with letters in it.
  await file.setInputFiles(csv('bad.csv', [
    ...KEPT.slice(0, 2),
    'new-1,Zoe Zimmer,,Legal,Counsel,Harbour site,12ab,,,,',
  ]));
  await preview.click();
  const alert = importer.getByRole('alert');
  await expect(alert).toContainText('Nothing was imported');
  await expect(alert).toContainText('line 4');
  await expect(alert).toContainText('"12ab" is not a phone number');
  await expect(importer.getByRole('button', { name: 'Apply import' })).toHaveCount(0);

  // The admin fixes that same file and chooses it again: two people added, Bob changed,
  // everyone else removed. A preview changes nothing.
  await file.setInputFiles(csv('bad.csv', [
    ...KEPT,
    'new-1,Zoe Zimmer,,Legal,Counsel,Harbour site,2301,,+1 555 9001;+1 555 9002,zoe@example.com,',
    'new-2,Yannick Yilmaz,,Facilities,Caretaker,Harbour site,2302,,,,',
  ]));
  await expect(alert).toHaveCount(0);
  await preview.click();
  const shown = importer.getByRole('group', { name: 'Import preview' });
  await expect(shown.getByRole('list', { name: '2 to add' })).toContainText('Zoe Zimmer');
  await expect(shown.getByRole('list', { name: '2 to add' })).toContainText('Yannick Yilmaz');
  await expect(shown.getByRole('list', { name: '1 to change' })).toContainText('Bob Baker');
  const removed = shown.getByRole('list', { name: /^\d+ to remove$/ });
  await expect(removed).toContainText('Carol Carter');
  await expect(removed).toContainText('Dave Dalton');
  await expect(removed).not.toContainText('Alice Archer');
  await expect(directory.count).toHaveText(/^0 of \d+ entries$/);
  await directory.search.fill('');
  await expect(directory.count).toHaveText(before!);

  await importer.getByRole('button', { name: 'Apply import' }).click();
  await expect(importer.getByText(/^Imported: 2 added, 1 changed, \d+ removed$/)).toBeVisible();
  await expect(importer.getByRole('button', { name: 'Apply import' })).toHaveCount(0);

  // The operator's console follows without a reload.
  await expect(directory.count).toHaveText('5 entries');
  await directory.search.fill('Zimmer');
  await expect(directory.row('Zoe Zimmer')).toContainText('+1 555 9001');
  await directory.search.fill('Carol');
  await expect(directory.count).toHaveText('0 of 5 entries');
  await directory.search.fill('Bob Baker');
  await expect(directory.row('Bob Baker')).toContainText('Principal engineer');

  const audit = view.getByRole('table', { name: 'Audit log' });
  await expect(audit.getByRole('row').filter({ hasText: 'directory.import' })).toContainText('2 added, 1 changed');
  await admin.context.close();
  await operator.context.close();
});

test('the admin adds an account and changes its role; refusals are shown and change nothing', async ({ browser }) => {
  const admin = await signedIn(browser, server, 'admin');
  const view = await openAdministration(admin.page);
  const accounts = part(view, 'Accounts');
  const table = accounts.getByRole('table', { name: 'Accounts' });
  await expect(table.getByRole('row').filter({ hasText: 'alice' }).first()).toBeVisible();

  const add = async (username: string, password: string) => {
    await accounts.getByRole('textbox', { name: 'Username', exact: true }).fill(username);
    await accounts.getByRole('textbox', { name: 'Display name', exact: true }).fill('Erin Evans');
    await accounts.getByRole('combobox', { name: 'Role', exact: true }).selectOption('user');
    await accounts.getByLabel('Password', { exact: true }).fill(password);
    await accounts.getByRole('button', { name: 'Add account' }).click();
  };
  await add('erin', 'short');
  await expect(accounts.getByRole('alert')).toContainText('at least 8 characters');
  await add('alice', 'long enough 1');
  await expect(accounts.getByRole('alert')).toContainText('"alice" exists already');
  await expect(accounts.getByRole('combobox', { name: 'Role of erin' })).toHaveCount(0);

  await add('erin', 'erin-secret-1');
  await expect(accounts.getByRole('alert')).toHaveCount(0);
  await expect(accounts.getByText('Account erin added (User).')).toBeVisible();
  const role = accounts.getByRole('combobox', { name: 'Role of erin' });
  await expect(role).toHaveValue('user');
  await expect(accounts.getByRole('textbox', { name: 'Username', exact: true })).toHaveValue('');

  await role.selectOption('operator');
  await expect(accounts.getByText('erin is now Operator (active).')).toBeVisible();
  await expect(role).toHaveValue('operator');
  // Whatever is in force comes from the server: a reload of the view shows the same.
  await admin.page.reload();
  const again = admin.page.getByRole('region', { name: 'Administration' });
  await expect(part(again, 'Accounts').getByRole('combobox', { name: 'Role of erin' })).toHaveValue('operator');
  const audit = again.getByRole('table', { name: 'Audit log' });
  await expect(audit.getByRole('row').filter({ hasText: 'user.add' }).first()).toContainText('erin');

  // The last admin stays an admin; the picker goes back to what the server has.
  const adminRole = part(again, 'Accounts').getByRole('combobox', { name: 'Role of admin' });
  await adminRole.selectOption('user');
  await expect(part(again, 'Accounts').getByRole('alert')).toContainText('last active administrator');
  await expect(adminRole).toHaveValue('admin');

  // The new operator signs in with the password the admin gave, and handles calls.
  const erin = await browser.newContext();
  const page = await erin.newPage();
  await page.goto(server.url);
  await page.getByRole('textbox', { name: 'Username' }).fill('erin');
  await page.getByLabel('Password', { exact: true }).fill('erin-secret-1');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('status')).toHaveText('Connected');
  await expect(page.getByRole('region', { name: 'Queued calls' })).toBeVisible();
  await erin.close();
  await admin.context.close();
});

test('a password reset lets the account sign in with the new password', async ({ browser }) => {
  const admin = await signedIn(browser, server, 'admin');
  const accounts = part(await openAdministration(admin.page), 'Accounts');
  await accounts.getByRole('searchbox', { name: 'Filter accounts' }).fill('dave');
  const reset = accounts.getByRole('button', { name: 'Reset password for dave' });
  await reset.click();
  await expect(reset).toHaveAttribute('aria-expanded', 'true');
  const password = accounts.getByLabel('New password for dave');
  await expect(password).toBeFocused();
  await password.fill('dave-new-secret');
  await accounts.getByRole('button', { name: 'Set password', exact: true }).click();
  await expect(accounts.getByText('New password set for dave.')).toBeVisible();
  await expect(password).toHaveCount(0);

  const response = await fetch(`${server.url}api/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'dave', password: 'dave-new-secret' }),
  });
  expect(response.status).toBe(200);
  await admin.context.close();
});

test('saved chat settings reach an open console at once', async ({ browser }) => {
  const operator = await signedIn(browser, server, 'operator');
  const admin = await signedIn(browser, server, 'admin');
  const settings = part(await openAdministration(admin.page), 'Chat settings');
  await expect(settings).toContainText('Chat mode: cloudlink — changes by restart');
  const messages = settings.getByRole('textbox', { name: 'Predefined messages' });
  await expect(messages).toHaveValue(/Your caller is holding on line 2/);
  await messages.fill('Your taxi is here\n\n  Please call reception  \n');
  await settings.getByRole('textbox', { name: 'Chat key' }).fill('F10');
  await settings.getByRole('button', { name: 'Save settings' }).click();
  await expect(settings.getByText(/^Settings saved/)).toBeVisible();
  await expect(messages).toHaveValue('Your taxi is here\nPlease call reception');

  // The operator's IM menu and Chat key follow without a reload.
  const page = operator.page;
  const chatButton = page.getByRole('toolbar', { name: 'Console toolbar' }).getByRole('button', { name: 'Chat', exact: true });
  await expect(chatButton).toHaveAttribute('title', /F10/);
  const directory = directoryOf(page);
  await directory.search.fill('Alice Archer');
  await directory.row('Alice Archer').click({ button: 'right' });
  await page.getByRole('menuitem', { name: 'IM', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Send Instant Message' }).click();
  await expect(page.getByRole('menuitem', { name: 'Your taxi is here' })).toBeVisible();
  await expect(page.getByRole('menuitem', { name: 'Please call reception' })).toBeVisible();
  await expect(page.getByRole('menuitem', { name: 'Your caller is holding on line 2' })).toHaveCount(0);

  await expect(
    admin.page.getByRole('table', { name: 'Audit log' }).getByRole('row').filter({ hasText: 'settings.change' }),
  ).not.toHaveCount(0);
  await admin.context.close();
  await operator.context.close();
});

test('the Administration view is keyboard-reachable and has no serious accessibility violations', async ({ browser }) => {
  const admin = await signedIn(browser, server, 'admin');
  const view = await openAdministration(admin.page);
  await expect(part(view, 'Directory').getByText(/Not configured/)).toBeVisible();
  await expect(part(view, 'Directory').getByRole('button', { name: 'Sync now' })).toHaveCount(0);
  // From "Back to the console", Tab reaches the view's first control.
  await admin.page.getByRole('link', { name: 'Back to the console' }).focus();
  const filter = view.getByRole('searchbox', { name: 'Filter accounts' });
  for (let i = 0; i < 6 && !(await filter.evaluate((el) => el === document.activeElement)); i++) {
    await admin.page.keyboard.press('Tab');
  }
  await expect(filter).toBeFocused();

  // One row of each kind is enough for the checks, and much faster than 246.
  await filter.fill('alice');
  const results = await new AxeBuilder({ page: admin.page }).include('section[aria-label="Administration"]').analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.help}`)).toEqual([]);

  // "Back to the console" brings the console back.
  await admin.page.getByRole('link', { name: 'Back to the console' }).click();
  await expect(view).toHaveCount(0);
  await expect(admin.page.getByRole('region', { name: 'Directory' })).toBeVisible();
  await admin.context.close();
});

test('the LDAP sync status and "Sync now" follow the sync until it has finished', async ({ browser }) => {
  // This spec's server has no LDAP directory: its answers are stood in for here (the server's
  // own tests run the sync against a real slapd).
  const admin = await signedIn(browser, server, 'admin');
  const page = admin.page;
  const lastSync = Date.now() - 3_600_000;
  let status = { configured: true, finished_at_ms: lastSync, added: 3, changed: 1, removed: 0, error: null as string | null };
  let started = 0;
  await page.route('**/api/admin/directory/sync', async (route) => {
    if (route.request().method() === 'POST') {
      started += 1;
      await route.fulfill({ status: 202 });
      // The sync ends a moment later, and fails.
      setTimeout(() => {
        status = { ...status, finished_at_ms: Date.now(), added: 0, changed: 0, removed: 0, error: 'cannot reach ldap://127.0.0.1:1' };
      }, 1_500);
    } else {
      await route.fulfill({ json: status });
    }
  });
  const directory = part(await openAdministration(page), 'Directory');
  await expect(directory).toContainText('3 added, 1 changed, 0 removed');
  await directory.getByRole('button', { name: 'Sync now' }).click();
  await expect(directory.getByText('Sync started.')).toBeVisible();
  await expect(directory.getByText('Sync finished.')).toBeVisible({ timeout: 10_000 });
  await expect(directory).toContainText('cannot reach ldap://127.0.0.1:1');
  await expect(directory).toContainText('0 added, 0 changed, 0 removed');
  expect(started).toBe(1);
  await admin.context.close();
});
