// The keyboard shortcuts: an operator handles a whole call without the mouse, and the keys
// never fire while typing unless they are function keys.
import { expect, test } from '@playwright/test';
import { chat } from './chat';
import { TestServer, ingest as ingestInto, signIn, userId } from './server';

const TOKEN = 'e2e-ingest-token';

let server: TestServer;
test.beforeAll(async () => {
  server = await TestServer.launch(['--simulator-calls-per-minute', '0'], { SWITCHBOARD_INGEST_TOKEN: TOKEN });
});
test.afterAll(async () => server.dispose());

const queueCall = (caller_name: string, caller_number: string) =>
  ingestInto(server, TOKEN, 'POST', 'calls', { caller_name, caller_number, dialled: '2000' });

test('an operator answers, looks up, transfers with presence and chats to the target, all by keyboard', async ({ page, browser }) => {
  // Bob is signed in elsewhere: the transfer assistant shows him available.
  const bobContext = await browser.newContext();
  await signIn(await bobContext.newPage(), server, 'bob');
  await signIn(page, server, 'operator');
  const queued = page.getByRole('region', { name: 'Queued calls' });
  const active = page.getByRole('region', { name: 'Active call' });
  const assistant = page.getByRole('region', { name: 'Transfer assistant' });

  // The help lists every key, F1 and "?" open it, Escape closes it.
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await page.keyboard.press('F1');
  await expect(help).toBeVisible();
  await expect(help.getByRole('row').filter({ hasText: 'Answer next call' })).toContainText('F2');
  await expect(help.getByRole('row').filter({ hasText: 'Chat with the person in focus' })).toContainText('F9');
  await expect(help.getByRole('button', { name: 'Close' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(help).toBeHidden();
  await page.keyboard.press('?');
  await expect(help).toBeVisible();
  await page.keyboard.press('Escape');

  await queueCall('Pat Smith', '+1 555 0201');
  await queueCall('Lee Long', '+1 555 0202');
  const row = (name: string) => queued.getByRole('listitem').filter({ hasText: name });
  await expect(row('Lee Long')).toBeVisible();

  // Next and previous queued call move the keyboard along the queue.
  await page.keyboard.press('Alt+ArrowDown');
  await expect(row('Pat Smith')).toBeFocused();
  await page.keyboard.press('Alt+ArrowDown');
  await expect(row('Lee Long')).toBeFocused();
  await page.keyboard.press('Alt+ArrowUp');
  await expect(row('Pat Smith')).toBeFocused();

  // Answer next takes the oldest call; hold and retrieve it.
  await page.keyboard.press('F2');
  await expect(active).toContainText('Pat Smith');
  await expect(active).toContainText('Active');
  await expect(row('Pat Smith')).toHaveCount(0);
  await page.keyboard.press('F3');
  await expect(active).toContainText('On hold');
  await page.keyboard.press('F3');
  await expect(active.getByRole('button', { name: 'Hold' })).toBeEnabled();

  // Look Bob up: the directory search by its key, then the transfer by its own.
  await page.keyboard.press('/');
  const directorySearch = page.getByRole('searchbox', { name: 'Search directory' });
  await expect(directorySearch).toBeFocused();
  await page.keyboard.type('Bob Baker');
  await expect(page.getByRole('list', { name: 'Directory entries' }).getByRole('listitem').first()).toContainText('Bob Baker');
  // A function key works while typing: Transfer moves to "Transfer to".
  await page.keyboard.press('F6');
  const transferTo = assistant.getByRole('searchbox', { name: 'Transfer to' });
  await expect(transferTo).toBeFocused();
  await page.keyboard.type('Bob Baker');
  await page.keyboard.press('ArrowDown');
  await expect(assistant.getByRole('button', { name: /^Bob Baker/ })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(active).toContainText('Transferring');
  const bobPresence = assistant.getByRole('button', { name: 'Presence of Bob Baker: available' });
  await expect(bobPresence).toBeVisible();

  // Chat to the target: back to his presence with Shift+Tab, the chat key opens his
  // conversation, Enter sends.
  for (let step = 0; step < 10 && !(await bobPresence.evaluate((e) => e === document.activeElement)); step++) {
    await page.keyboard.press('Shift+Tab');
  }
  await expect(bobPresence).toBeFocused();
  await page.keyboard.press('F9');
  const { window, message, log } = chat(page);
  await expect(window).toBeVisible();
  await expect(message).toBeFocused();
  await page.keyboard.type('Pat Smith is on the line for you');
  await page.keyboard.press('Enter');
  await expect(log.getByRole('article').filter({ hasText: 'Pat Smith is on the line for you' })).toContainText('Delivered');
  await page.keyboard.press('Escape');
  await expect(window).toBeHidden();

  // Complete the transfer by its key; the second call is answered next.
  await page.keyboard.press('F7');
  await expect(active).not.toContainText('Pat Smith');
  await page.keyboard.press('F2');
  await expect(active).toContainText('Lee Long');
  await page.keyboard.press('F4');
  await expect(active).toContainText('No active call');
  await bobContext.close();
});

test('shortcut keys other than function keys do nothing while typing; call keys are for operators', async ({ page }) => {
  await signIn(page, server, 'alice');
  const search = page.getByRole('searchbox', { name: 'Search directory' });
  await search.focus();
  await page.keyboard.type('a?b/');
  await expect(search).toHaveValue('a?b/');
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeHidden();
  // F1 works while typing; an employee's console lists the keys too.
  await page.keyboard.press('F1');
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(search).toBeFocused();
  // Alice has no call panes: the call keys do nothing, not even keep the browser's own use
  // of the key (a listener added now runs after the console's, and sees what it did).
  await page.evaluate(() =>
    addEventListener('keydown', (event) => ((window as unknown as { prevented: boolean }).prevented = event.defaultPrevented)),
  );
  await page.keyboard.press('F2');
  expect(await page.evaluate(() => (window as unknown as { prevented: boolean }).prevented)).toBe(false);
  await page.keyboard.press('F1');
  expect(await page.evaluate(() => (window as unknown as { prevented: boolean }).prevented)).toBe(true);
  await page.keyboard.press('Escape');
  await expect(page.getByRole('region', { name: 'Queued calls' })).toHaveCount(0);
  await expect(page.getByText('No call is waiting.')).toHaveCount(0);
});
