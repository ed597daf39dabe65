// Chat in a call: a new message and a predefined one start with the source party's name and number.
import { expect, test } from '@playwright/test';
import { TestServer, ingest } from './server';
import { chat, openChatWith, presenceInDirectory, signedIn } from './chat';

const TOKEN = 'e2e-ingest-token';
const PREFIX = 'Jane Doe (+1 555 0100): ';

let server: TestServer;
test.beforeAll(async () => {
  server = await TestServer.launch(['--simulator-calls-per-minute', '0'], { SWITCHBOARD_INGEST_TOKEN: TOKEN });
});
test.afterAll(async () => server.dispose());

test('in a call, the message box and predefined messages name the caller', async ({ browser }) => {
  const operator = await signedIn(browser, server, 'operator');
  const alice = await signedIn(browser, server, 'alice');
  const page = operator.page;
  await ingest(server, TOKEN, 'POST', 'calls', { caller_name: 'Jane Doe', caller_number: '+1 555 0100', dialled: '2000' });
  const queued = page.getByRole('region', { name: 'Queued calls' });
  await queued.getByRole('listitem').filter({ hasText: 'Jane Doe' }).getByRole('button', { name: 'Answer' }).click();
  await expect(page.getByRole('region', { name: 'Active call' })).toContainText('Jane Doe');

  // A new message starts with the caller, the cursor after it.
  await openChatWith(page, 'Alice Archer');
  const { message } = chat(page);
  await expect(message).toHaveValue(PREFIX);
  await expect(message).toBeFocused();
  const cursor = await message.evaluate((box: HTMLTextAreaElement) => [box.selectionStart, box.selectionEnd]);
  expect(cursor).toEqual([PREFIX.length, PREFIX.length]);

  // A predefined message from the right-click menu carries the same prefix.
  await page.keyboard.press('Escape');
  await presenceInDirectory(page, 'Alice Archer');
  const row = page.getByRole('region', { name: 'Directory' }).getByRole('listitem').filter({ hasText: 'Alice Archer' });
  await row.click({ button: 'right' });
  await page.getByRole('menuitem', { name: 'IM', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Send Instant Message' }).click();
  await page.getByRole('menuitem', { name: 'Your caller is holding on line 2' }).click();

  await chat(alice.page).toolbarButton.click();
  await chat(alice.page).entry('Operator').click();
  await expect(chat(alice.page).log.getByText(`${PREFIX}Your caller is holding on line 2`, { exact: true })).toHaveCount(1);
  await alice.context.close();
  await operator.context.close();
});
