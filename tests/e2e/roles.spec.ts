// Roles: what users, operators and admins see and may do, and a deactivated account's console
// signed out at once.
import { Page, expect, test } from '@playwright/test';
import { TestServer, openAdministration } from './server';
import { signedIn } from './chat';

let server: TestServer;
test.beforeAll(async () => (server = await TestServer.launch()));
test.afterAll(async () => server.dispose());

const CALL_PANES = ['Queued calls', 'Active call', 'Transfer assistant'];

function administrationLink(page: Page) {
  return page.getByRole('toolbar', { name: 'Console toolbar' }).getByRole('link', { name: 'Administration' });
}

/** The status of an admin API call made with `page`'s session cookie. */
async function adminApiStatus(page: Page): Promise<{ status: number; error?: string }> {
  const response = await page.request.get(`${server.url}api/admin/users`);
  const body = await response.json().catch(() => ({}));
  return { status: response.status(), error: body.error };
}

test('a user has the directory and chat, but no calls panes and no Administration', async ({ browser }) => {
  const { context, page } = await signedIn(browser, server, 'alice');
  await expect(page.getByRole('region', { name: 'Directory' })).toBeVisible();
  await expect(page.getByRole('toolbar', { name: 'Console toolbar' }).getByRole('button', { name: 'Chat', exact: true })).toBeVisible();
  for (const pane of CALL_PANES) {
    await expect(page.getByRole('region', { name: pane })).toHaveCount(0);
  }
  await expect(administrationLink(page)).toHaveCount(0);
  expect(await adminApiStatus(page)).toEqual({ status: 403, error: 'forbidden' });
  await context.close();
});

test('an operator has the calls panes, but no Administration', async ({ browser }) => {
  const { context, page } = await signedIn(browser, server, 'operator');
  for (const pane of [...CALL_PANES, 'Directory']) {
    await expect(page.getByRole('region', { name: pane })).toBeVisible();
  }
  await expect(administrationLink(page)).toHaveCount(0);
  expect(await adminApiStatus(page)).toEqual({ status: 403, error: 'forbidden' });
  await context.close();
});

test('an admin opens the Administration page from the console; others are turned away from it', async ({ browser }) => {
  const { context, page } = await signedIn(browser, server, 'admin');
  await expect(administrationLink(page)).toHaveAttribute('target', '_blank');
  const view = await openAdministration(page);
  for (const table of ['Accounts', 'Audit log']) {
    await expect(view.getByRole('table', { name: table })).toBeVisible();
  }
  expect((await adminApiStatus(page)).status).toBe(200);
  await page.getByRole('link', { name: 'Back to the console' }).click();
  await expect(page.getByRole('status')).toHaveText('Connected');
  await context.close();

  for (const username of ['operator', 'alice']) {
    const { context, page } = await signedIn(browser, server, username);
    await page.goto(`${server.url}admin/`);
    await expect(page.getByRole('alert')).toHaveText('Only administrators may open the Administration page.');
    await expect(page.getByRole('region', { name: 'Administration' })).toHaveCount(0);
    await context.close();
  }
});

test('a deactivated user\'s open console is signed out at once; activated again, they sign in', async ({ browser }) => {
  const alice = await signedIn(browser, server, 'alice');
  const admin = await signedIn(browser, server, 'admin');
  const accounts = (await openAdministration(admin.page)).getByRole('region', { name: 'Accounts', exact: true });
  await accounts.getByRole('searchbox', { name: 'Filter accounts' }).fill('alice');
  const row = accounts.getByRole('table', { name: 'Accounts' }).getByRole('row').filter({ hasText: 'Alice Archer' });

  await accounts.getByRole('button', { name: 'Deactivate alice' }).click();
  await expect(row).toContainText('Deactivated');
  await expect(alice.page.getByRole('button', { name: 'Sign in' })).toBeVisible({ timeout: 5_000 });
  const audit = admin.page.getByRole('table', { name: 'Audit log' });
  await expect(audit.getByRole('row').filter({ hasText: 'user.deactivate' })).toContainText('alice');

  // Signing in again is refused while deactivated.
  await alice.page.getByRole('textbox', { name: 'Username' }).fill('alice');
  await alice.page.getByLabel('Password', { exact: true }).fill('alice');
  await alice.page.getByRole('button', { name: 'Sign in' }).click();
  await expect(alice.page.getByRole('alert')).toBeVisible();

  await accounts.getByRole('button', { name: 'Activate alice' }).click();
  await expect(accounts.getByRole('button', { name: 'Deactivate alice' })).toBeVisible();
  await alice.page.getByRole('button', { name: 'Sign in' }).click();
  await expect(alice.page.getByRole('status')).toHaveText('Connected');
  await alice.context.close();
  await admin.context.close();
});
