// Conversation history comes in pages: a log its first page does not fill loads older pages by
// itself, and the keyboard reaches the oldest message of a long conversation.
import { Page, expect, test } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestServer, userId } from './server';
import { chat, openChatWith, signedIn } from './chat';

let server: TestServer;
test.beforeAll(async () => {
  // One message a page, so that a few messages make several pages.
  const config = join(tmpdir(), `switchboard-e2e-history-${process.pid}.toml`);
  writeFileSync(config, '[limits]\nhistory_page_max = 1\n');
  server = await TestServer.launch(['--config', config]);
});
test.afterAll(async () => server.dispose());

/**
 * Sends "`prefix` 1" to "`prefix` `count`" from `page`'s user to user `to`, in order, over a
 * WebSocket of the page's own (no console involved), and waits until the server stored them all.
 */
async function sendMany(page: Page, to: number, prefix: string, count: number) {
  await page.evaluate(
    async ({ to, prefix, count }) => {
      const socket = new WebSocket(`ws://${location.host}/ws`);
      await new Promise((opened, failed) => {
        socket.onopen = opened;
        socket.onerror = failed;
      });
      let acked = 0;
      const stored = new Promise<void>((done) => {
        socket.onmessage = (event) => {
          if (JSON.parse(event.data).type === 'chat_ack' && ++acked === count) done();
        };
      });
      socket.send(JSON.stringify({ type: 'hello', version: 2 }));
      for (let n = 1; n <= count; n++) {
        socket.send(JSON.stringify({ type: 'chat_send', client_msg_id: crypto.randomUUID(), to, body: `${prefix} ${n}` }));
      }
      await stored;
      socket.close();
    },
    { to, prefix, count },
  );
}

test('a conversation whose first page does not fill the log opens with its oldest message', async ({ browser }) => {
  const alice = await signedIn(browser, server, 'alice');
  await sendMany(alice.page, await userId(server, 'operator'), 'Short', 4);
  await alice.context.close();

  const operator = await signedIn(browser, server, 'operator');
  await openChatWith(operator.page, 'Alice Archer');
  const { log } = chat(operator.page);
  await expect(log.getByText('Short 1', { exact: true })).toBeVisible();
  await expect(log.getByRole('article')).toHaveCount(4);
  await expect(log.getByRole('article').first()).toContainText('Short 1');
  await expect(log.getByRole('button', { name: 'Load older messages' })).toHaveCount(0);
  await operator.context.close();
});

test('the keyboard reaches the oldest message of a long conversation', async ({ browser }) => {
  const bob = await signedIn(browser, server, 'bob');
  await sendMany(bob.page, await userId(server, 'operator'), 'Long', 24);
  await bob.context.close();

  const { context, page } = await signedIn(browser, server, 'operator');
  await openChatWith(page, 'Bob Baker');
  const { log, message } = chat(page);
  const articles = log.getByRole('article');
  await expect(log.getByText('Long 24', { exact: true })).toBeVisible();
  await expect(message).toBeFocused();

  // From the compose box, Shift+Tab reaches the log's button; each Enter brings a page more.
  const older = log.getByRole('button', { name: 'Load older messages' });
  await page.keyboard.press('Shift+Tab');
  await expect(older).toBeFocused();
  for (let presses = 0; (await older.count()) > 0; presses++) {
    expect(presses, 'pages needed to reach the oldest message').toBeLessThan(24);
    const before = await articles.count();
    await page.keyboard.press('Enter');
    await expect.poll(() => articles.count()).toBeGreaterThan(before);
  }
  await expect(articles).toHaveCount(24);
  await expect(articles.first()).toContainText('Long 1');
  await expect(log.getByText('Long 1', { exact: true })).toBeVisible();
  await context.close();
});
