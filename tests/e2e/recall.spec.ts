// Hold recall: a call held longer than the configured time turns to an alert and moves up.
import { expect, test } from '@playwright/test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestServer, ingest, signIn } from './server';

const TOKEN = 'e2e-ingest-token';
/** The shortest recall the configuration allows. */
const RECALL_SECS = 10;

let server: TestServer;
test.beforeAll(async () => {
  const config = join(mkdtempSync(join(tmpdir(), 'switchboard-recall-')), 'switchboard.toml');
  writeFileSync(config, `hold_recall_secs = ${RECALL_SECS}\n`);
  server = await TestServer.launch(['--simulator-calls-per-minute', '0', '--config', config], {
    SWITCHBOARD_INGEST_TOKEN: TOKEN,
  });
});
test.afterAll(async () => server.dispose());

const queueCall = (caller_name: string) =>
  ingest(server, TOKEN, 'POST', 'calls', { caller_name, caller_number: '+1 555 0400', dialled: '2000' });

test('a call held past the recall time turns to an alert and comes first among the held calls', async ({ page }) => {
  test.setTimeout(60_000);
  await signIn(page, server, 'operator');
  const active = page.getByRole('region', { name: 'Active call' });
  const held = active.getByRole('list', { name: 'Other answered calls' }).getByRole('listitem');
  await queueCall('Hana Held');
  await queueCall('Tom Talking');
  await queueCall('Lou Later');
  // Hana is answered, then held when Tom is answered.
  await page.keyboard.press('F2');
  await expect(active).toContainText('Hana Held');
  await page.keyboard.press('F2');
  await expect(active).toContainText('Tom Talking');
  await expect(held).toHaveCount(1);
  await expect(held.first()).toContainText('Hana Held');
  await expect(held.first()).not.toContainText('On hold too long');

  // A few seconds later Lou is answered: Tom is held too, and as the latest comes first.
  await page.waitForTimeout(4_000);
  await page.keyboard.press('F2');
  await expect(active).toContainText('Lou Later');
  await expect(held).toHaveCount(2);
  await expect(held.first()).toContainText('Tom Talking');

  // Past the recall time Hana's call is an alert and moves before Tom's.
  await expect(held.first()).toContainText('Hana Held', { timeout: (RECALL_SECS + 3) * 1_000 });
  await expect(held.first().getByRole('alert')).toHaveText('On hold too long');
  await expect(held.nth(1)).not.toContainText('On hold too long');
  // Retrieved, it is the current call again; Lou, just held, is not recalled.
  await held.first().getByRole('button', { name: 'Retrieve' }).click();
  await expect(held.filter({ hasText: 'Hana Held' })).toHaveCount(0);
  await expect(held.filter({ hasText: 'Lou Later' })).toHaveCount(1);
  await expect(held.filter({ hasText: 'Lou Later' })).not.toContainText('On hold too long');
});

test('a transfer the target did not answer comes back as an alert naming them', async ({ page }) => {
  await signIn(page, server, 'operator');
  const active = page.getByRole('region', { name: 'Active call' });
  const call = await queueCall('Ruth Rang');
  await page.keyboard.press('F2');
  await expect(active).toContainText('Ruth Rang');
  await expect(active).toContainText('Duration');
  await page.keyboard.press('F6');
  await expect(page.getByRole('searchbox', { name: 'Transfer to' })).toBeFocused();
  await page.keyboard.type('Bob Baker');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await expect(active).toContainText('Transferring');

  // The telephone system reports that Bob did not answer: on hold, recalled at once.
  await ingest(server, TOKEN, 'POST', `calls/${call.id}/recall`, undefined, 200);
  await expect(active).toContainText('On hold');
  // (The calls the first test left on hold have their own alerts by now.)
  await expect(active.getByRole('alert').filter({ hasText: 'did not answer' })).toHaveText('Bob Baker did not answer');
  // Retrieved, it is an ordinary call again.
  await page.keyboard.press('F3');
  await expect(active.getByRole('button', { name: 'Hold' })).toBeEnabled();
  await expect(active.getByRole('alert').filter({ hasText: 'did not answer' })).toHaveCount(0);
  await page.keyboard.press('F4');
  await expect(active).not.toContainText('Ruth Rang');
});
