// The outbox: kept across a reload, gone from the browser at sign-out, and messages the server
// could not store resent by themselves.
import { Page, expect, test } from '@playwright/test';
import { TestServer, signIn } from './server';
import { chat, openChatWith, say } from './chat';

let server: TestServer;
test.beforeAll(async () => (server = await TestServer.launch()));
test.afterAll(async () => server.dispose());

type ChatSend = { type: 'chat_send'; client_msg_id: string; to: number; body: string };

/** Routes the page's WebSockets through the test: every `chat_send` the page sends goes to
 * `onChatSend`, which may `forward` it to the server or `answer` the page itself (or do
 * neither: the frame is lost); every other frame passes both ways. */
async function interceptChatSends(
  page: Page,
  onChatSend: (frame: ChatSend, forward: () => void, answer: (frame: object) => void) => void,
) {
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const upstream = ws.connectToServer();
    ws.onMessage((message) => {
      const frame = typeof message === 'string' ? JSON.parse(message) : undefined;
      if (frame?.type !== 'chat_send') return upstream.send(message);
      onChatSend(frame, () => upstream.send(message), (answer) => ws.send(JSON.stringify(answer)));
    });
  });
}

/** Everything the page's origin keeps in local storage, as one text. */
const localStorageText = (page: Page) => page.evaluate(() => JSON.stringify(localStorage));

/** The operator's message `text` in the open conversation. */
const shown = (page: Page, text: string) => chat(page).log.getByRole('article').filter({ hasText: text });

test('an unsent message survives a reload, and leaves the browser at sign-out', async ({ page }) => {
  const text = 'Unsent on a shared PC';
  await interceptChatSends(page, () => {}); // lost: the message stays unacknowledged
  await signIn(page, server, 'operator');
  await openChatWith(page, 'Carol Carter');
  await say(page, text);
  await expect(shown(page, text)).toContainText('Sending…');
  expect(await localStorageText(page)).toContain(text);

  await page.reload();
  await expect(page.getByRole('status')).toHaveText('Connected');
  await page.keyboard.press('F9');
  await chat(page).entry('Carol Carter').click();
  await expect(shown(page, text)).toContainText('Sending…');

  await page.getByRole('toolbar', { name: 'Console toolbar' }).getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  expect(await localStorageText(page)).not.toContain(text);

  // The next person on this browser sees nothing of it...
  await signIn(page, server, 'alice');
  await page.keyboard.press('F9');
  await expect(chat(page).window).toBeVisible();
  await expect(page.getByText(text)).toHaveCount(0);
  await page.getByRole('toolbar', { name: 'Console toolbar' }).getByRole('button', { name: 'Sign out' }).click();

  // ...and its author, signed in again, has nothing left to send.
  await signIn(page, server, 'operator');
  await openChatWith(page, 'Carol Carter');
  await expect(chat(page).log).not.toContainText('Sending…');
  await expect(page.getByText(text)).toHaveCount(0);
  expect(await localStorageText(page)).not.toContain(text);
});

test('an outbox left by a session that ended without sign-out is gone once someone else signs in', async ({
  page,
}) => {
  const text = 'Left behind by an expired session';
  await interceptChatSends(page, () => {});
  await signIn(page, server, 'operator');
  await openChatWith(page, 'Bob Baker');
  await say(page, text);
  await expect(shown(page, text)).toContainText('Sending…');

  // The session ends on the server's side (expired, say): the console shows the sign-in form.
  await page.context().clearCookies();
  await page.reload();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  expect(await localStorageText(page)).toContain(text);

  await signIn(page, server, 'bob');
  await page.keyboard.press('F9');
  await expect(chat(page).window).toBeVisible();
  await expect(page.getByText(text)).toHaveCount(0);
  expect(await localStorageText(page)).not.toContain(text);
});

test('a message the server could not store is resent by itself with the same id, never shown as failed', async ({
  page,
}) => {
  const text = 'Stored on the second try';
  const ids: string[] = [];
  let release = () => {};
  await interceptChatSends(page, (frame, forward, answer) => {
    ids.push(frame.client_msg_id);
    if (ids.length === 1) {
      answer({
        type: 'chat_nack',
        client_msg_id: frame.client_msg_id,
        reason: 'internal',
        message: 'The message could not be stored; it will be retried.',
      });
    } else {
      release = forward; // held until the test has looked at the message between the two
    }
  });
  await signIn(page, server, 'operator');
  await openChatWith(page, 'Dave Dalton');
  await say(page, text);

  // The console resends after a short backoff: it had the nack, and still shows it pending.
  await expect.poll(() => ids.length, { timeout: 5_000 }).toBe(2);
  expect(ids[1]).toBe(ids[0]);
  const message = shown(page, text);
  await expect(message).toContainText('Sending…');
  await expect(message).not.toContainText('Not sent');
  await expect(message.getByRole('button', { name: 'Retry' })).toHaveCount(0);

  release();
  await expect(message).toContainText(/Sent|Delivered/);
  await expect(message).not.toContainText('Sending…');
  await expect(message).toHaveCount(1);
  await expect(chat(page).log).not.toContainText('Not sent');
  await expect(chat(page).log.getByRole('button', { name: 'Retry' })).toHaveCount(0);
  expect(ids).toHaveLength(2);
});
