// Operator notes: written in a directory entry's details, live on every operator's console,
// shown in the transfer assistant, and not shown to users.
import { Browser, Page, expect, test } from '@playwright/test';
import { TestServer, ingest, signIn } from './server';

const TOKEN = 'e2e-ingest-token';
const NOTE = 'Absent until 3 Dec, calls to Dave Dalton';

let server: TestServer;
test.beforeAll(async () => {
  server = await TestServer.launch(['--simulator-calls-per-minute', '0'], { SWITCHBOARD_INGEST_TOKEN: TOKEN });
  // A second operator: Carol, promoted by the admin.
  const session = await fetch(`${server.url}api/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'admin' }),
  });
  const cookie = session.headers.get('set-cookie')!.split(';')[0];
  const promoted = await fetch(`${server.url}api/admin/users/carol`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json', Cookie: cookie },
    body: JSON.stringify({ role: 'operator' }),
  });
  expect(promoted.status).toBe(200);
});
test.afterAll(async () => server.dispose());

/** Signs `username` in on a page of its own browser context. */
async function console(browser: Browser, username: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await signIn(page, server, username);
  return page;
}

/** Finds `name` in the directory and makes its row the current one; its details region. */
async function details(page: Page, name: string) {
  const directory = page.getByRole('region', { name: 'Directory' });
  await directory.getByRole('searchbox', { name: 'Search directory' }).fill(name);
  await directory.getByRole('listitem').filter({ hasText: name }).first().click();
  const region = page.getByRole('region', { name: `Details of ${name}` });
  await expect(region).toBeVisible();
  return region;
}

test('a note written by one operator shows live on another, and in the transfer assistant', async ({ browser }) => {
  const operator = await console(browser, 'operator');
  const carol = await console(browser, 'carol');

  const mine = await details(operator, 'Bob Baker');
  await expect(mine).toContainText('2003');
  const editor = mine.getByRole('textbox', { name: 'Operator note for Bob Baker' });
  await editor.fill(NOTE);
  await mine.getByRole('button', { name: 'Save note' }).click();
  await expect(mine).toContainText('by operator');
  await expect(mine.getByRole('button', { name: 'Save note' })).toBeDisabled();

  // Carol's console has it without a reload.
  const theirs = await details(carol, 'Bob Baker');
  await expect(theirs.getByRole('textbox', { name: 'Operator note for Bob Baker' })).toHaveValue(NOTE);
  await expect(theirs).toContainText('by operator');

  // Carol takes a call and starts transferring it to Bob: the note is there before she completes.
  await ingest(server, TOKEN, 'POST', 'calls', { caller_name: 'Pat Smith', caller_number: '+1 555 0104', dialled: '2000' });
  const queued = carol.getByRole('region', { name: 'Queued calls' });
  await queued.getByRole('listitem').filter({ hasText: 'Pat Smith' }).getByRole('button', { name: 'Answer' }).click();
  await carol.getByRole('region', { name: 'Active call' }).getByRole('button', { name: 'Transfer' }).click();
  const assistant = carol.getByRole('region', { name: 'Transfer assistant' });
  await assistant.getByRole('searchbox', { name: 'Transfer to' }).fill('Bob');
  await assistant.getByRole('button', { name: /^Bob Baker/ }).click();
  await expect(assistant.getByRole('note', { name: 'Operator note' })).toHaveText(NOTE);

  // Clearing the note removes it everywhere.
  await editor.fill('');
  await mine.getByRole('button', { name: 'Save note' }).click();
  await expect(assistant.getByRole('note', { name: 'Operator note' })).toHaveCount(0);
  await expect(theirs.getByRole('textbox', { name: 'Operator note for Bob Baker' })).toHaveValue('');
});

test('a user sees the details of an entry but no operator note', async ({ browser }) => {
  const operator = await console(browser, 'operator');
  const mine = await details(operator, 'Carol Carter');
  await mine.getByRole('textbox', { name: 'Operator note for Carol Carter' }).fill('Prefers calls after 10');
  await mine.getByRole('button', { name: 'Save note' }).click();
  await expect(mine).toContainText('by operator');

  const alice = await console(browser, 'alice');
  const region = await details(alice, 'Carol Carter');
  await expect(region).toContainText('2004');
  await expect(region.getByRole('textbox')).toHaveCount(0);
  await expect(region).not.toContainText('Prefers calls after 10');
});
