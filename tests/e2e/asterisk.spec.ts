// Calls through a real Asterisk: queued with the number dialled, answered, held, retrieved
// and transferred to Alice (whose line lamp lights), a caller hanging up, Asterisk restarted.
import { expect, test } from '@playwright/test';
import { Asterisk } from './asterisk';
import { TestServer, signIn } from './server';

let pbx: Asterisk;
let server: TestServer;
test.beforeAll(async () => {
  pbx = await Asterisk.launch();
  server = await TestServer.launch(['--simulator-calls-per-minute', '0', '--config', pbx.config()]);
});
test.afterAll(async () => {
  await server?.dispose();
  await pbx?.dispose();
});

test('an operator handles Asterisk calls from the console', async ({ page }) => {
  await signIn(page, server, 'operator');
  const queued = page.getByRole('region', { name: 'Queued calls' });
  const active = page.getByRole('region', { name: 'Active call' });
  const assistant = page.getByRole('region', { name: 'Transfer assistant' });

  // A call to company line 2000 waits with the number the caller dialled.
  await pbx.call('2000', 'Jane Doe <5550100>');
  const row = queued.getByRole('listitem').filter({ hasText: 'Jane Doe' });
  await expect(row).toContainText('Dialled: 2000');
  await expect(row).toContainText('5550100');

  // Answer: the operator's telephone rings into the call, then the call is active.
  await row.getByRole('button', { name: 'Answer' }).click();
  const hold = active.getByRole('button', { name: 'Hold' });
  await expect(hold).toBeEnabled();
  await expect(active).toContainText('Jane Doe');
  await expect(queued).toContainText('No calls waiting');

  await hold.click();
  await expect(active.getByText('On hold', { exact: true })).toBeVisible();
  await active.getByRole('button', { name: 'Retrieve' }).click();
  await expect(hold).toBeEnabled();

  // Transfer to Alice: her line lamp turns "on the phone" once her extension rings through.
  await active.getByRole('button', { name: 'Transfer' }).click();
  await assistant.getByRole('searchbox', { name: 'Transfer to' }).fill('Alice');
  await expect(assistant.getByRole('img', { name: 'Line of Alice Archer: Idle' })).toBeVisible();
  await assistant.getByRole('button', { name: /^Alice Archer/ }).click();
  await expect(assistant.getByRole('img', { name: 'Line of Alice Archer: On the phone' })).toBeVisible();
  await expect(active.getByText('Transferring', { exact: true })).toBeVisible();
  await assistant.getByRole('button', { name: 'Complete transfer' }).click();
  await expect(active).toContainText('No active call');

  // A caller who hangs up while waiting leaves the queue.
  const leaver = await pbx.call('2100', 'Early Leaver <5550199>');
  const leaving = queued.getByRole('listitem').filter({ hasText: 'Early Leaver' });
  await expect(leaving).toContainText('Dialled: 2100');
  await pbx.hangUp(leaver);
  await expect(leaving).toHaveCount(0);

  // Asterisk restarts: the console says the telephone system is unavailable, chat goes on,
  // and calls work again once it is back.
  await pbx.call('2000', 'John Roe <5550111>');
  await expect(queued.getByRole('listitem').filter({ hasText: 'John Roe' })).toBeVisible();
  await pbx.stop();
  await expect(queued.getByRole('alert')).toContainText('Telephone system unavailable');
  await pbx.start();
  await expect(queued.getByRole('alert')).toHaveCount(0, { timeout: 15_000 });
  await expect(queued).toContainText('No calls waiting');
  await pbx.call('2000', 'Jim Poe <5550122>');
  await expect(queued.getByRole('listitem').filter({ hasText: 'Jim Poe' })).toBeVisible();
});
