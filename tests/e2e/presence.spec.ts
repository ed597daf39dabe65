// Live presence between two browsers: signing in, choosing a state, signing out, closing tabs.
import { expect, test } from '@playwright/test';
import { TestServer, signIn } from './server';

let server: TestServer;
test.beforeAll(async () => (server = await TestServer.launch()));
test.afterAll(async () => server.dispose());

test("alice's presence reaches the operator live", async ({ browser }) => {
  const operatorContext = await browser.newContext();
  const operator = await operatorContext.newPage();
  await signIn(operator, server, 'operator');
  await operator.getByRole('searchbox', { name: 'Search directory' }).fill('Alice');
  const alicePresence = (state: string) =>
    operator.getByRole('button', { name: `Presence of Alice Archer: ${state}` });
  await expect(alicePresence('offline')).toHaveAttribute('data-presence', 'offline');

  // Alice signs in in another browser: available within a second, no reload.
  const aliceContext = await browser.newContext();
  const alice = await aliceContext.newPage();
  await signIn(alice, server, 'alice');
  await expect(alicePresence('available')).toBeVisible({ timeout: 1_000 });

  // She chooses "busy" and then "do not disturb" from her toolbar.
  const picker = alice.getByRole('combobox', { name: 'My presence' });
  await picker.selectOption({ label: 'Busy' });
  await expect(alicePresence('busy')).toHaveAttribute('data-presence', 'busy');
  await picker.selectOption({ label: 'Do not disturb' });
  await expect(alicePresence('dnd')).toBeVisible();

  // Signing out makes her offline (grey).
  await alice.getByRole('button', { name: 'Sign out' }).click();
  await expect(alice.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(alicePresence('offline')).toBeVisible();

  // Signing in again brings back her chosen state; closing her last tab makes her offline.
  await signIn(alice, server, 'alice');
  await expect(alicePresence('dnd')).toBeVisible();
  const secondTab = await aliceContext.newPage();
  await secondTab.goto(server.url);
  await expect(secondTab.getByRole('status')).toHaveText('Connected');
  await alice.close();
  await expect(alicePresence('dnd')).toBeVisible();
  await secondTab.close();
  await expect(alicePresence('offline')).toBeVisible();

  await aliceContext.close();
  await operatorContext.close();
});
