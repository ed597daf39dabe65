// Lines and priorities: the configuration names the numbers callers dial; the queue shows the
// line, answers the highest priority first, and the active call says what to answer with.
import { expect, test } from '@playwright/test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestServer, ingest, signIn } from './server';

const TOKEN = 'e2e-ingest-token';

let server: TestServer;
test.beforeAll(async () => {
  const config = join(mkdtempSync(join(tmpdir(), 'switchboard-lines-')), 'switchboard.toml');
  writeFileSync(
    config,
    [
      '[[lines]]',
      'number = "2000"',
      'name = "Main line"',
      'priority = 1',
      'colour = "#1e3a5f"',
      'greeting = "Good morning, Contoso, how can I help?"',
      '[[lines]]',
      'number = "2999"',
      'name = "Emergency"',
      'priority = 9',
      'colour = "#b91c1c"',
      'greeting = "Emergency line: where are you calling from?"',
      '',
    ].join('\n'),
  );
  server = await TestServer.launch(['--simulator-calls-per-minute', '0', '--config', config], {
    SWITCHBOARD_INGEST_TOKEN: TOKEN,
  });
});
test.afterAll(async () => server.dispose());

const queueCall = (caller_name: string, dialled: string) =>
  ingest(server, TOKEN, 'POST', 'calls', { caller_name, caller_number: '+1 555 0300', dialled });

test("the queue shows each call's line, answers the highest priority first, with the line's greeting", async ({ page }) => {
  await signIn(page, server, 'operator');
  const queued = page.getByRole('region', { name: 'Queued calls' });
  const rows = queued.getByRole('listitem');
  await queueCall('Mia Main', '2000');
  await queueCall('Una Urgent', '2999');
  await queueCall('Otto Other', '7777');
  await expect(rows).toHaveCount(3);
  // Emergency (priority 9) before the main line (1) before a number without a line (0),
  // although it was queued after the main line's call.
  await expect(rows.nth(0)).toContainText('Una Urgent');
  await expect(rows.nth(0)).toContainText('Emergency');
  await expect(rows.nth(1)).toContainText('Mia Main');
  await expect(rows.nth(1)).toContainText('Main line');
  await expect(rows.nth(2)).toContainText('Otto Other');
  await expect(rows.nth(2)).toContainText('Dialled: 7777');

  // Answer next takes the emergency call; the active call says what to answer with.
  await page.keyboard.press('F2');
  const active = page.getByRole('region', { name: 'Active call' });
  await expect(active).toContainText('Una Urgent');
  await expect(active).toContainText('Emergency');
  await expect(active).toContainText('Say: Emergency line: where are you calling from?');
  await page.keyboard.press('F4');
  await page.keyboard.press('F2');
  await expect(active).toContainText('Mia Main');
  await expect(active).toContainText('Say: Good morning, Contoso, how can I help?');
  await page.keyboard.press('F4');
  await page.keyboard.press('F2');
  await expect(active).toContainText('Otto Other');
  await expect(active).not.toContainText('Say:');
});
