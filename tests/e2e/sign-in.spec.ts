// Signing in, the console's panes, searching the directory, and accessibility of both screens.
import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import { TestServer, signIn } from './server';

let server: TestServer;
test.beforeAll(async () => (server = await TestServer.launch()));
test.afterAll(async () => server.dispose());

async function expectNoSeriousA11yViolations(page: import('@playwright/test').Page) {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
}

test('a wrong password is refused without saying whether the user exists', async ({ page }) => {
  await page.goto(server.url);
  await expectNoSeriousA11yViolations(page);
  const messages: string[] = [];
  for (const username of ['operator', 'nobody']) {
    await page.getByRole('textbox', { name: 'Username' }).fill(username);
    await page.getByLabel('Password', { exact: true }).fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await expect(alert).toContainText('Wrong username or password');
    messages.push((await alert.textContent()) ?? '');
  }
  expect(messages[0]).toBe(messages[1]);
  await expect(page.getByRole('toolbar', { name: 'Console toolbar' })).toHaveCount(0);
});

test('the operator signs in and sees the console', async ({ page }) => {
  await signIn(page, server, 'operator');
  const toolbar = page.getByRole('toolbar', { name: 'Console toolbar' });
  await expect(toolbar.getByRole('button', { name: 'Chat' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Directory' })).toBeVisible();
  await expect(page.getByRole('status')).toHaveText('Connected');
  // The operator's own presence is live: signed in means available.
  await page.getByRole('searchbox', { name: 'Search directory' }).fill('Operator');
  await expect(page.getByRole('button', { name: 'Presence of Operator: available' })).toBeVisible();
  await expectNoSeriousA11yViolations(page);

  // The session survives a reload.
  await page.reload();
  await expect(page.getByRole('status')).toHaveText('Connected');
});

test('the directory is searchable by name, number and department', async ({ page }) => {
  await signIn(page, server, 'operator');
  const directory = page.getByRole('region', { name: 'Directory' });
  const search = directory.getByRole('searchbox', { name: 'Search directory' });
  const rows = directory.getByRole('listitem');

  await search.fill('lobby');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('Lobby Phone');
  // An entry with no user has a blank presence field: no presence name at all.
  await expect(rows.first().getByRole('button', { name: /^Presence of/ })).toHaveCount(0);

  await search.fill('2002'); // Alice Archer's extension in the demo company
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('Alice Archer');
  await expect(rows.first().getByRole('button', { name: 'Presence of Alice Archer: offline' })).toHaveAttribute(
    'data-presence',
    'offline',
  );

  await search.fill('legal');
  await expect(rows.first()).toContainText('Legal');
  const count = await rows.count();
  expect(count).toBeGreaterThan(5);
  for (let i = 0; i < count; i++) await expect(rows.nth(i)).toContainText('Legal');

  await search.fill('zzzz-nobody');
  await expect(rows).toHaveCount(0);
});
