// Chat between two browsers: opening from presence, the Chat key, search, compose, predefined messages.
import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import { TestServer } from './server';
import { chat, openChatWith, presenceInDirectory, say, signedIn } from './chat';

let server: TestServer;
test.beforeAll(async () => (server = await TestServer.launch()));
test.afterAll(async () => server.dispose());

test('the operator and alice chat both ways, and bodies are text', async ({ browser }) => {
  const operator = await signedIn(browser, server, 'operator');
  const alice = await signedIn(browser, server, 'alice');
  await openChatWith(operator.page, 'Alice Archer');
  const mine = chat(operator.page);
  await expect(mine.message).toBeFocused();

  const html = '<img src=x onerror=alert(1)>';
  await say(operator.page, html);
  await expect(mine.log.getByText(html)).toBeVisible();
  await expect(mine.log.getByRole('img')).toHaveCount(0);
  await expect(mine.message).toHaveValue('');

  // Alice sees it live, opens it from her chat list, and answers.
  const hers = chat(alice.page);
  await expect(hers.toolbarButton).toHaveAttribute('data-unread', 'true');
  await hers.toolbarButton.click();
  await hers.entry('Operator').click();
  await expect(hers.log.getByText(html)).toBeVisible();
  await say(alice.page, 'On my way');
  await expect(mine.log.getByText('On my way')).toBeVisible();
  await expect(mine.entry('Alice Archer')).toContainText('On my way');

  const results = await new AxeBuilder({ page: operator.page }).include('[role=dialog]').analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  await alice.context.close();
  await operator.context.close();
});

test('the toolbar Chat button and the Chat key open the window; Escape closes it', async ({ browser }) => {
  const { context, page } = await signedIn(browser, server, 'operator');
  const { window, toolbarButton, search } = chat(page);
  await expect(toolbarButton).toHaveAttribute('title', /F9/);
  await expect(window).toBeHidden();
  await page.keyboard.press('F9');
  await expect(window).toBeVisible();
  await expect(search).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(window).toBeHidden();
  await toolbarButton.click();
  await expect(window).toBeVisible();
  await context.close();
});

test('the chat window docks beside the directory and the queue, or moves, and stays where it was put', async ({ browser }) => {
  const { context, page } = await signedIn(browser, server, 'operator');
  const { window, toolbarButton } = chat(page);
  const dock = window.getByRole('button', { name: 'Dock' });
  const panes = ['Directory', 'Queued calls', 'Active call', 'Transfer assistant'].map((name) => page.getByRole('region', { name }));
  const overlaps = async () => {
    const chatBox = (await window.boundingBox())!;
    const hidden: string[] = [];
    for (const pane of panes) {
      const box = (await pane.boundingBox())!;
      const apart =
        box.x + box.width <= chatBox.x || chatBox.x + chatBox.width <= box.x ||
        box.y + box.height <= chatBox.y || chatBox.y + chatBox.height <= box.y;
      if (!apart) hidden.push((await pane.getAttribute('aria-label'))!);
    }
    return hidden;
  };
  await toolbarButton.click();
  await expect(window).toBeVisible();
  // Floating in its corner it covers part of the panes; docked, none of them.
  expect(await overlaps()).not.toEqual([]);
  await dock.click();
  await expect(dock).toHaveAttribute('aria-pressed', 'true');
  await expect.poll(overlaps).toEqual([]);
  await page.reload();
  await toolbarButton.click();
  await expect(dock).toHaveAttribute('aria-pressed', 'true');
  await expect.poll(overlaps).toEqual([]);

  // Undocked, its title bar drags it; the place is kept across a reload.
  await dock.click();
  await expect(dock).toHaveAttribute('aria-pressed', 'false');
  const before = (await window.boundingBox())!;
  const bar = { x: before.x + 200, y: before.y + 12 };
  await page.mouse.move(bar.x, bar.y);
  await page.mouse.down();
  await page.mouse.move(bar.x - 150, bar.y - 60, { steps: 5 });
  await page.mouse.up();
  const moved = (await window.boundingBox())!;
  expect(Math.round(moved.x)).toBe(Math.round(before.x - 150));
  expect(Math.round(moved.y)).toBe(Math.round(before.y - 60));
  await page.reload();
  await toolbarButton.click();
  await expect(window).toBeVisible();
  const kept = (await window.boundingBox())!;
  expect([Math.round(kept.x), Math.round(kept.y)]).toEqual([Math.round(moved.x), Math.round(moved.y)]);
  await context.close();
});

test('search finds people with no conversation yet; click or arrows and Enter open one', async ({ browser }) => {
  const { context, page } = await signedIn(browser, server, 'operator');
  const { window, search, log, message } = chat(page);
  await page.keyboard.press('F9');
  await search.fill('Baker');
  await window.getByRole('option', { name: 'Bob Baker' }).click();
  await expect(window.getByRole('heading', { name: 'Bob Baker' })).toBeVisible();
  await expect(log.getByRole('article')).toHaveCount(0);
  await expect(message).toBeEnabled();

  await search.fill('Dalton');
  await expect(window.getByRole('option', { name: 'Dave Dalton' })).toBeVisible();
  await search.press('ArrowDown');
  await search.press('Enter');
  await expect(window.getByRole('heading', { name: 'Dave Dalton' })).toBeVisible();
  await context.close();
});

test('Enter sends, Shift+Enter adds a line, Cancel clears; blank and over-long are not sent', async ({ browser }) => {
  const { context, page } = await signedIn(browser, server, 'operator');
  await openChatWith(page, 'Carol Carter');
  const { window, log, message, cancel, send } = chat(page);

  await message.fill('first line');
  await message.press('Shift+Enter');
  await message.pressSequentially('second line');
  await expect(message).toHaveValue('first line\nsecond line');
  await message.press('Enter');
  await expect(log.getByRole('article').filter({ hasText: 'first line' })).toContainText('second line');

  await message.fill('never mind');
  await cancel.click();
  await expect(message).toHaveValue('');
  await message.fill('   ');
  await send.click();
  await expect(log.getByRole('article')).toHaveCount(1);

  await message.fill('x'.repeat(4001));
  await send.click();
  await expect(window.getByRole('alert')).toContainText('limited to 4000 characters');
  await expect(log.getByRole('article')).toHaveCount(1);
  await context.close();
});

test('a predefined message from the right-click menu, or Shift+F10, reaches alice', async ({ browser }) => {
  const operator = await signedIn(browser, server, 'operator');
  const alice = await signedIn(browser, server, 'alice');
  const page = operator.page;
  const directory = page.getByRole('region', { name: 'Directory' });
  await presenceInDirectory(page, 'Alice Archer');
  const row = directory.getByRole('listitem').filter({ hasText: 'Alice Archer' });

  await row.click({ button: 'right' });
  await page.getByRole('menuitem', { name: 'IM', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Send Instant Message' }).click();
  await page.getByRole('menuitem', { name: 'Your caller is holding on line 2' }).click();
  await expect(page.getByRole('menu')).toHaveCount(0);
  await expect(chat(page).log.getByText('Your caller is holding on line 2')).toBeVisible();
  await expect(chat(page).log).toContainText('Delivered');

  // Keyboard only: Shift+F10 on the focused row, arrows and Enter.
  await page.keyboard.press('Escape');
  await row.focus();
  await row.press('Shift+F10');
  await expect(page.getByRole('menuitem', { name: 'IM', exact: true })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('menuitem', { name: 'Send Instant Message' })).toBeFocused();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowDown');
  await expect(page.getByRole('menuitem', { name: 'Your visitor is waiting in the lobby' })).toBeFocused();
  await page.keyboard.press('Enter');

  await chat(alice.page).toolbarButton.click();
  await chat(alice.page).entry('Operator').click();
  const log = chat(alice.page).log;
  await expect(log.getByText('Your caller is holding on line 2')).toHaveCount(1);
  await expect(log.getByText('Your visitor is waiting in the lobby')).toHaveCount(1);
  await alice.context.close();
  await operator.context.close();
});

test('an entry without a user has IM disabled, saying why', async ({ browser }) => {
  const { context, page } = await signedIn(browser, server, 'operator');
  const directory = page.getByRole('region', { name: 'Directory' });
  await directory.getByRole('searchbox', { name: 'Search directory' }).fill('Lobby Phone');
  await directory.getByRole('listitem').first().click({ button: 'right' });
  const im = page.getByRole('menuitem', { name: 'IM', exact: true });
  await expect(im).toHaveAttribute('aria-disabled', 'true');
  await expect(im).toHaveAccessibleDescription(/no chat account/);
  await expect(im).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('menuitem', { name: 'Send Instant Message' })).toHaveCount(0);
  await page.keyboard.press('Escape');
  await expect(page.getByRole('menu')).toHaveCount(0);
  await context.close();
});
