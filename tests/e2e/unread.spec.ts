// Unread red dots from read markers, in every tab; receipts; typing; the outbox across outages.
import { Page, expect, test } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestServer } from './server';
import { chat, openChatWith, presenceInDirectory, say, signedIn } from './chat';

let server: TestServer;
test.beforeAll(async () => (server = await TestServer.launch()));
test.afterAll(async () => server.dispose());

async function expectDots(page: Page, partner: string, unread: boolean) {
  const { toolbarButton, windowButton, entry } = chat(page);
  await expect(toolbarButton).toHaveAttribute('data-unread', String(unread));
  await expect(windowButton).toHaveAttribute('data-unread', String(unread));
  await expect(entry(partner)).toHaveAttribute('data-unread', String(unread));
}

test('a message makes the three dots and the title; opening it clears them in every tab', async ({ browser }) => {
  const operator = await signedIn(browser, server, 'operator');
  const secondTab = await operator.context.newPage();
  await secondTab.goto(server.url);
  await expect(secondTab.getByRole('status')).toHaveText('Connected');
  const alice = await signedIn(browser, server, 'alice');
  await openChatWith(alice.page, 'Operator');
  await say(alice.page, 'Are you there?');

  for (const page of [operator.page, secondTab]) {
    await expect(chat(page).toolbarButton).toHaveAttribute('data-unread', 'true');
    await expect(page).toHaveTitle('(1) Switchboard');
    await chat(page).toolbarButton.click();
    await expectDots(page, 'Alice Archer', true);
    await expect(chat(page).entry('Alice Archer')).toContainText('Are you there?');
  }
  // Reading in the first tab clears the dots in the second, which only shows its list.
  await chat(operator.page).entry('Alice Archer').click();
  await expect(chat(operator.page).log.getByText('Are you there?')).toBeVisible();
  for (const page of [operator.page, secondTab]) {
    await expectDots(page, 'Alice Archer', false);
    await expect(page).toHaveTitle('Switchboard');
  }
  await alice.context.close();
  await operator.context.close();
});

test('with two unread conversations, reading one keeps the toolbar dot', async ({ browser }) => {
  const operator = await signedIn(browser, server, 'operator');
  for (const [username, text] of [['bob', 'From Bob'], ['carol', 'From Carol']]) {
    const writer = await signedIn(browser, server, username);
    await openChatWith(writer.page, 'Operator');
    await say(writer.page, text);
    await expect(chat(writer.page).log.getByText(text)).toBeVisible();
    await writer.context.close();
  }
  const { toolbarButton, entry, log } = chat(operator.page);
  await expect(operator.page).toHaveTitle('(2) Switchboard');
  await toolbarButton.click();
  await entry('Bob Baker').click();
  await expect(log.getByText('From Bob')).toBeVisible();
  await expect(entry('Bob Baker')).toHaveAttribute('data-unread', 'false');
  await expect(entry('Carol Carter')).toHaveAttribute('data-unread', 'true');
  await expect(toolbarButton).toHaveAttribute('data-unread', 'true');
  await operator.page.getByRole('button', { name: 'Mark all as read' }).click();
  await expect(toolbarButton).toHaveAttribute('data-unread', 'false');
  await expect(entry('Carol Carter')).toHaveAttribute('data-unread', 'false');
  await operator.context.close();
});

test('receipts go from delivered to read; typing shows and expires', async ({ browser }) => {
  const operator = await signedIn(browser, server, 'operator');
  const alice = await signedIn(browser, server, 'alice');
  await openChatWith(operator.page, 'Alice Archer');
  await say(operator.page, 'Receipt check');
  const sent = chat(operator.page).log.getByRole('article').filter({ hasText: 'Receipt check' });
  await expect(sent).toContainText('Delivered');

  await chat(alice.page).toolbarButton.click();
  await chat(alice.page).entry('Operator').click();
  await expect(sent).toContainText('Read');

  await chat(alice.page).message.pressSequentially('typing something');
  const typing = chat(operator.page).window.getByText('Alice Archer is typing…');
  await expect(typing).toBeVisible();
  await expect(typing).toBeHidden({ timeout: 9_000 });

  // Sending clears the indicator; typing on right after it shows it again.
  await chat(alice.page).message.pressSequentially('more');
  await expect(typing).toBeVisible();
  await chat(alice.page).message.press('Enter');
  const more = chat(operator.page).log.getByRole('article').filter({ hasText: 'more' });
  await expect(more).toBeVisible();
  await expect(typing).toBeHidden();
  await chat(alice.page).message.pressSequentially('and then');
  await expect(typing).toBeVisible({ timeout: 2_000 });
  await alice.context.close();
  await operator.context.close();
});

test('a message written while the server is down is pending, then arrives once', async ({ browser }) => {
  const operator = await signedIn(browser, server, 'operator');
  await openChatWith(operator.page, 'Dave Dalton');
  await server.stop();
  await expect(operator.page.getByRole('status')).toHaveText('Reconnecting…');
  await say(operator.page, 'Written offline');
  const pending = chat(operator.page).log.getByRole('article').filter({ hasText: 'Written offline' });
  await expect(pending).toContainText('Sending…');

  await server.start();
  await expect(operator.page.getByRole('status')).toHaveText('Connected', { timeout: 20_000 });
  await expect(pending).toContainText('Sent');
  const dave = await signedIn(browser, server, 'dave');
  await openChatWith(dave.page, 'Operator');
  await expect(chat(dave.page).log.getByText('Written offline')).toHaveCount(1);
  await expect(pending).toHaveCount(1);
  await dave.context.close();
  await operator.context.close();
});

test('a reload keeps a pending message, which is sent once connected', async ({ browser }) => {
  const operator = await signedIn(browser, server, 'operator');
  // While `hold` is set, the console's socket opens but the server never answers.
  let hold = false;
  const sockets: { close: () => Promise<void> }[] = [];
  await operator.context.routeWebSocket(/\/ws$/, (ws) => {
    sockets.push(ws);
    if (!hold) ws.connectToServer();
  });
  await operator.page.reload();
  await expect(operator.page.getByRole('status')).toHaveText('Connected');
  await openChatWith(operator.page, 'Carol Carter');
  hold = true;
  for (const ws of sockets.splice(0)) await ws.close();
  await expect(operator.page.getByRole('status')).toHaveText('Reconnecting…');
  await say(operator.page, 'Survives a reload');
  await expect(chat(operator.page).log.getByText('Survives a reload')).toBeVisible();
  await operator.page.reload();
  await expect(operator.page.getByRole('status')).toHaveText('Offline');
  await operator.page.keyboard.press('F9');
  await chat(operator.page).entry('Carol Carter').click();
  const pending = chat(operator.page).log.getByRole('article').filter({ hasText: 'Survives a reload' });
  await expect(pending).toContainText('Sending…');

  hold = false;
  for (const ws of sockets.splice(0)) await ws.close();
  await expect(operator.page.getByRole('status')).toHaveText('Connected', { timeout: 20_000 });
  await expect(pending).toContainText(/Sent|Delivered/);
  await expect(pending).toHaveCount(1);
  await operator.context.close();
});

test("two tabs writing while the server is down share one outbox: each message arrives once", async ({ browser }) => {
  const operator = await signedIn(browser, server, 'operator');
  const first = operator.page;
  const second = await operator.context.newPage();
  await second.goto(server.url);
  await expect(second.getByRole('status')).toHaveText('Connected');
  for (const page of [first, second]) await openChatWith(page, 'Bob Baker');
  const shown = (page: Page, text: string) => chat(page).log.getByRole('article').filter({ hasText: text });
  const outage = async (write: [Page, string][]) => {
    await server.stop();
    for (const page of [first, second]) {
      if (!page.isClosed()) await expect(page.getByRole('status')).toHaveText('Reconnecting…');
    }
    for (const [page, text] of write) await say(page, text);
  };

  // Both tabs stay open: each shows every pending message of the user, resends them all after
  // the reconnect, and the server stores each once.
  await outage([[first, 'Tab one, outage one'], [second, 'Tab two, outage one']]);
  for (const page of [first, second]) {
    for (const text of ['Tab one, outage one', 'Tab two, outage one']) {
      await expect(shown(page, text)).toContainText('Sending…');
    }
  }
  await server.start();
  for (const page of [first, second]) {
    await expect(page.getByRole('status')).toHaveText('Connected', { timeout: 20_000 });
    for (const text of ['Tab one, outage one', 'Tab two, outage one']) {
      await expect(shown(page, text)).toHaveCount(1);
      await expect(shown(page, text)).toContainText(/Sent|Delivered/);
    }
  }

  // The second tab is closed before the server is back: its message still goes out, from the
  // outbox the first tab shares.
  await outage([[first, 'Tab one, outage two'], [second, 'Tab two, outage two']]);
  await expect(shown(first, 'Tab two, outage two')).toContainText('Sending…');
  await second.close();
  await server.start();
  await expect(first.getByRole('status')).toHaveText('Connected', { timeout: 20_000 });

  const bob = await signedIn(browser, server, 'bob');
  await openChatWith(bob.page, 'Operator');
  for (const tab of ['one', 'two']) {
    for (const outageNumber of ['one', 'two']) {
      const text = `Tab ${tab}, outage ${outageNumber}`;
      await expect(chat(bob.page).log.getByText(text, { exact: true })).toHaveCount(1);
      await expect(shown(first, text)).toHaveCount(1);
    }
  }
  // Nothing is left pending in the shared outbox: a new tab has nothing to send.
  const third = await operator.context.newPage();
  await third.goto(server.url);
  await expect(third.getByRole('status')).toHaveText('Connected');
  await openChatWith(third, 'Bob Baker');
  await expect(chat(third).log.getByText('Tab two, outage two', { exact: true })).toHaveCount(1);
  await expect(chat(third).log).not.toContainText('Sending…');
  await bob.context.close();
  await operator.context.close();
});

test.describe('micollab mode', () => {
  let micollab: TestServer;
  test.beforeAll(async () => (micollab = await TestServer.launch(['--mode', 'micollab'])));
  test.afterAll(async () => micollab.dispose());

  test('an offline partner cannot be messaged, and the console says so', async ({ browser }) => {
    const operator = await signedIn(browser, micollab, 'operator');
    const presence = await presenceInDirectory(operator.page, 'Alice Archer');
    await expect(presence).toHaveAttribute('data-presence', 'offline');
    await presence.dblclick();
    await expect(operator.page.getByRole('alert')).toContainText('Chat unavailable: Alice Archer is offline');
    await expect(chat(operator.page).window).toBeHidden();

    const row = operator.page.getByRole('region', { name: 'Directory' }).getByRole('listitem').filter({ hasText: 'Alice Archer' });
    await row.click({ button: 'right' });
    await expect(operator.page.getByRole('menuitem', { name: 'IM', exact: true })).toHaveAttribute('aria-disabled', 'true');
    await operator.page.keyboard.press('Escape');

    // Online, she can be messaged.
    const alice = await signedIn(browser, micollab, 'alice');
    await expect(operator.page.getByRole('button', { name: 'Presence of Alice Archer: available' })).toBeVisible();
    await openChatWith(operator.page, 'Alice Archer');
    await say(operator.page, 'Now you are here');
    await expect(chat(operator.page).log.getByRole('article').filter({ hasText: 'Now you are here' })).toContainText(
      /Delivered|Read/,
    );
    await alice.context.close();
    // Offline again: history stays, compose is disabled with the reason.
    await expect(chat(operator.page).message).toBeDisabled();
    await expect(chat(operator.page).window.getByRole('alert')).toContainText('Alice Archer is offline');
    await expect(chat(operator.page).log.getByText('Now you are here')).toBeVisible();
    await operator.context.close();
  });
});

test.describe('no predefined messages', () => {
  let plain: TestServer;
  test.beforeAll(async () => {
    const config = join(tmpdir(), `switchboard-e2e-${process.pid}.toml`);
    writeFileSync(config, 'predefined_messages = []\n');
    plain = await TestServer.launch(['--config', config]);
  });
  test.afterAll(async () => plain.dispose());

  test('"Send Instant Message" opens the chat window instead of a submenu', async ({ browser }) => {
    const { context, page } = await signedIn(browser, plain, 'operator');
    await presenceInDirectory(page, 'Bob Baker');
    await page.getByRole('region', { name: 'Directory' }).getByRole('listitem').filter({ hasText: 'Bob Baker' }).click({ button: 'right' });
    await page.getByRole('menuitem', { name: 'IM', exact: true }).click();
    const send = page.getByRole('menuitem', { name: 'Send Instant Message' });
    await expect(send).not.toHaveAttribute('aria-haspopup', /.*/);
    await send.click();
    await expect(chat(page).window.getByRole('heading', { name: 'Bob Baker' })).toBeVisible();
    await expect(chat(page).message).toBeFocused();
    await context.close();
  });
});
