// The operator's shared lists in the console: missed calls (called back and done from any
// operator's console, live in every other), night service, and the operator's calls of today.
import { expect, test, type Browser, type Page } from '@playwright/test';
import { TestServer, ingest, signIn, userId } from './server';

const TOKEN = 'e2e-ingest-token';

let server: TestServer;
test.beforeAll(async () => {
  server = await TestServer.launch(['--simulator-calls-per-minute', '0'], { SWITCHBOARD_INGEST_TOKEN: TOKEN });
});
test.afterAll(async () => server.dispose());

async function queueCall(caller_name: string, caller_number: string): Promise<number> {
  const call = await ingest(server, TOKEN, 'POST', 'calls', { caller_name, caller_number, dialled: '2000' });
  return call.id;
}

/** A second operator's console, in a browser context of its own. */
async function secondConsole(browser: Browser): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await signIn(page, server, 'operator');
  return page;
}

test('a caller who hangs up while queued is a missed call every operator sees, called back, then done', async ({ page, browser }) => {
  await signIn(page, server, 'operator');
  const other = await secondConsole(browser);
  const missed = (console: Page) => console.getByRole('region', { name: 'Missed calls' });
  await expect(missed(page)).toHaveCount(0);

  const id = await queueCall('Jane Doe', '+1 555 0100');
  const queued = page.getByRole('region', { name: 'Queued calls' });
  await expect(queued).toContainText('Jane Doe');
  await ingest(server, TOKEN, 'POST', `calls/${id}/clear`, undefined, 200);
  await expect(queued).not.toContainText('Jane Doe');
  for (const console of [page, other]) {
    const row = missed(console).getByRole('listitem').filter({ hasText: 'Jane Doe' });
    await expect(row).toContainText('+1 555 0100');
    await expect(row).toContainText(/Hung up at \d\d:\d\d after \d+:\d\d/);
  }

  await missed(page).getByRole('button', { name: 'Call back' }).click();
  for (const console of [page, other]) {
    await expect(missed(console)).toContainText(/Called back by Operator at \d\d:\d\d/);
  }
  await missed(other).getByRole('button', { name: 'Done' }).click();
  for (const console of [page, other]) {
    await expect(missed(console)).toHaveCount(0);
  }
  await other.context().close();
});

test('an operator closes the switchboard for the night and every operator sees it', async ({ page, browser }) => {
  await signIn(page, server, 'operator');
  const other = await secondConsole(browser);
  const queue = (console: Page) => console.getByRole('region', { name: 'Queued calls' });
  await expect(queue(page).getByRole('status')).toHaveCount(0);

  await queue(page).getByRole('button', { name: 'Close switchboard' }).click();
  for (const console of [page, other]) {
    await expect(queue(console).getByRole('status')).toContainText('Closed (night service) since');
    await expect(queue(console).getByRole('status')).toContainText('by Operator');
    await expect(queue(console).getByRole('button', { name: 'Open switchboard' })).toBeVisible();
  }
  // Kept: a console opened now shows it too.
  await other.reload();
  await expect(queue(other).getByRole('status')).toContainText('Closed (night service)');

  await queue(other).getByRole('button', { name: 'Open switchboard' }).click();
  for (const console of [page, other]) {
    await expect(queue(console).getByRole('status')).toHaveCount(0);
    await expect(queue(console).getByRole('button', { name: 'Close switchboard' })).toBeVisible();
  }
  await other.context().close();
});

test("today's calls list who the operator answered, for how long and to whom they went", async ({ page, browser }) => {
  const bobContext = await browser.newContext();
  await signIn(await bobContext.newPage(), server, 'bob');
  await signIn(page, server, 'operator');
  const active = page.getByRole('region', { name: 'Active call' });
  const assistant = page.getByRole('region', { name: 'Transfer assistant' });
  await queueCall('Mr Smith', '+44 20 7946 0018');
  await queueCall('Ann Other', '+1 555 0300');

  // Mr Smith goes to Bob; Ann Other is released.
  await page.keyboard.press('F2');
  await expect(active).toContainText('Mr Smith');
  await page.keyboard.press('F6');
  await page.keyboard.type('Bob Baker');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await expect(active).toContainText('Transferring');
  await page.keyboard.press('F7');
  await expect(active).not.toContainText('Mr Smith');
  await page.keyboard.press('F2');
  await expect(active).toContainText('Ann Other');
  await page.keyboard.press('F4');
  await expect(active).toContainText('No active call');
  await expect(assistant).toBeVisible();

  await page.getByRole('toolbar', { name: 'Console toolbar' }).getByRole('button', { name: "Today's calls" }).click();
  const dialog = page.getByRole('dialog', { name: "Today's calls" });
  await expect(dialog).toBeVisible();
  const rows = dialog.getByRole('table', { name: "Today's calls list" }).getByRole('row');
  // The header, then newest first.
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(1)).toContainText('Ann Other');
  await expect(rows.nth(2)).toContainText('Mr Smith');
  await expect(rows.nth(2)).toContainText('Bob Baker');
  await expect(rows.nth(2)).toContainText(/\d\d:\d\d/);

  // "Did Mr Smith call?": found by name or by part of the number.
  const find = dialog.getByRole('searchbox', { name: 'Find a caller' });
  await find.fill('smith');
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(1)).toContainText('Mr Smith');
  await find.fill('7946 0018');
  await expect(rows.nth(1)).toContainText('Mr Smith');
  await find.fill('Nobody');
  await expect(dialog).toContainText('No call today matches.');
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await bobContext.close();
});

test('an absence shows as away with its note wherever the operator looks for the person, until it ends', async ({ page, browser }) => {
  const aliceContext = await browser.newContext();
  const alice = await aliceContext.newPage();
  await signIn(alice, server, 'alice');
  await signIn(page, server, 'operator');
  const directory = page.getByRole('list', { name: 'Directory entries' });
  await page.getByRole('searchbox', { name: 'Search directory' }).fill('Alice Archer');
  const aliceRow = directory.getByRole('listitem').filter({ hasText: 'Alice Archer' });
  await expect(aliceRow.getByRole('button', { name: 'Presence of Alice Archer: available' })).toBeVisible();

  // Alice says she is on leave; a date in the past is refused first.
  await alice.getByRole('toolbar', { name: 'Console toolbar' }).getByRole('button', { name: 'Absence' }).click();
  const dialog = alice.getByRole('dialog', { name: 'Absence' });
  await dialog.getByRole('textbox', { name: 'Absence note' }).fill('On leave until 3 Dec, ask Bob Baker');
  const until = dialog.getByLabel('Until');
  await until.fill('2020-01-01T09:00');
  await dialog.getByRole('button', { name: 'Save absence' }).click();
  await expect(dialog.getByRole('alert')).toHaveText('An absence ends in the future, within a year.');
  const tomorrow = new Date(Date.now() + 24 * 3_600_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  await until.fill(`${tomorrow.getFullYear()}-${pad(tomorrow.getMonth() + 1)}-${pad(tomorrow.getDate())}T17:00`);
  await dialog.getByRole('button', { name: 'Save absence' }).click();
  await expect(dialog).toBeHidden();

  // The operator sees her away with the note: directory, queue and transfer assistant.
  await expect(aliceRow.getByRole('button', { name: 'Presence of Alice Archer: away' })).toBeVisible();
  await expect(aliceRow).toContainText('On leave until 3 Dec, ask Bob Baker');
  await ingest(server, TOKEN, 'POST', 'calls', {
    caller_name: 'Alice Archer',
    caller_number: '+1 555 0110',
    dialled: '2000',
    caller_user: await userId(server, 'alice'),
  });
  const queuedRow = page.getByRole('region', { name: 'Queued calls' }).getByRole('listitem').filter({ hasText: 'Alice Archer' });
  await expect(queuedRow).toContainText('On leave until 3 Dec, ask Bob Baker');
  await page.keyboard.press('F2');
  const active = page.getByRole('region', { name: 'Active call' });
  await expect(active).toContainText('Duration');
  await expect(active).toContainText('On leave until 3 Dec, ask Bob Baker');
  await page.keyboard.press('F6');
  await expect(page.getByRole('searchbox', { name: 'Transfer to' })).toBeFocused();
  await page.keyboard.type('Alice Archer');
  const assistant = page.getByRole('region', { name: 'Transfer assistant' });
  await expect(assistant.getByRole('button', { name: /^Alice Archer/ })).toContainText('On leave until 3 Dec, ask Bob Baker');
  await page.keyboard.press('F4');

  // She is back: her presence as she chose it, no note.
  await alice.getByRole('toolbar', { name: 'Console toolbar' }).getByRole('button', { name: 'Absence' }).click();
  await expect(dialog).toContainText('You show as away until');
  await dialog.getByRole('button', { name: 'End absence' }).click();
  await expect(aliceRow.getByRole('button', { name: 'Presence of Alice Archer: available' })).toBeVisible();
  await expect(aliceRow).not.toContainText('On leave');
  await aliceContext.close();
});
