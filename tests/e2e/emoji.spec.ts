// Cloudlink extras: the emoji picker by mouse and keyboard, none in micollab; messages kept while away.
import { Page, expect, test } from '@playwright/test';
import { TestServer, signIn } from './server';
import { chat, openChatWith, say, signedIn } from './chat';

/** The picker's parts, inside the chat window. */
function picker(page: Page) {
  const { window } = chat(page);
  const listbox = window.getByRole('listbox', { name: 'Emoji' });
  return {
    button: window.getByRole('button', { name: 'Emoji', exact: true }),
    listbox,
    search: window.getByRole('searchbox', { name: 'Search emoji' }),
    option: (name: string) => listbox.getByRole('option', { name, exact: true }),
  };
}

test.describe('cloudlink (the default)', () => {
  let server: TestServer;
  test.beforeAll(async () => (server = await TestServer.launch()));
  test.afterAll(async () => server.dispose());

  test('the picker inserts at the cursor by mouse and by keyboard, and remembers', async ({ browser }) => {
    const operator = await signedIn(browser, server, 'operator');
    const page = operator.page;
    await openChatWith(page, 'Alice Archer');
    const { message, log } = chat(page);
    const emoji = picker(page);

    // Mouse: the cursor sits between "Hi" and "there"; the emoji goes there.
    await message.fill('Hi there');
    await message.press('Home');
    for (let i = 0; i < 2; i++) await message.press('ArrowRight');
    await emoji.button.click();
    await expect(emoji.listbox).toBeVisible();
    await expect(emoji.listbox.getByRole('group', { name: 'Smileys & Emotion' })).toBeVisible();
    await emoji.option('grinning face').click();
    await expect(emoji.listbox).toBeHidden();
    await expect(message).toHaveValue('Hi😀 there');
    await expect(message).toBeFocused();

    // Escape closes without inserting and gives the focus back.
    await emoji.button.click();
    await expect(emoji.search).toBeFocused();
    await page.keyboard.press('Escape');
    await expect(emoji.listbox).toBeHidden();
    await expect(chat(page).window).toBeVisible();
    await expect(message).toBeFocused();

    // Keyboard only: Tab to the button, search by name, arrows and Enter.
    await message.fill('');
    await page.keyboard.press('Tab');
    await expect(emoji.button).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(emoji.search).toBeFocused();
    await page.keyboard.type('grinning');
    await expect(emoji.option('grinning face')).toBeVisible();
    await page.keyboard.press('ArrowDown');
    await expect(emoji.option('grinning face')).toBeFocused();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('Enter');
    await expect(message).toHaveValue('😀');
    await expect(message).toBeFocused();

    // Sent alone, it shows larger; it leads the "Recently used" row, even after a reload.
    await message.press('Enter');
    await expect(log.getByText('😀', { exact: true })).toHaveClass(/emoji-only/);
    await page.reload();
    await openChatWith(page, 'Alice Archer');
    await emoji.button.click();
    const recent = emoji.listbox.getByRole('group', { name: 'Recently used' });
    await expect(recent.getByRole('option').first()).toHaveAccessibleName('grinning face');
    await operator.context.close();
  });

  test('messages written while the operator was away put alice at the top, unread', async ({ browser }) => {
    const operator = await signedIn(browser, server, 'operator');
    // An earlier conversation with bob, so alice has someone to be above.
    await openChatWith(operator.page, 'Bob Baker');
    await say(operator.page, 'Morning, Bob');
    await expect(chat(operator.page).log.getByText('Morning, Bob')).toBeVisible();
    await operator.page.getByRole('button', { name: 'Sign out' }).click();
    await expect(operator.page.getByRole('button', { name: 'Sign in' })).toBeVisible();

    const alice = await signedIn(browser, server, 'alice');
    await openChatWith(alice.page, 'Operator');
    for (const text of ['One', 'Two', 'Three']) {
      await say(alice.page, text);
      await expect(chat(alice.page).log.getByText(text, { exact: true })).toBeVisible();
    }

    await signIn(operator.page, server, 'operator');
    const { toolbarButton, list } = chat(operator.page);
    await expect(toolbarButton).toHaveAttribute('data-unread', 'true');
    await toolbarButton.click();
    const first = list.getByRole('listitem').first();
    await expect(first).toContainText(/^Alice Archer/);
    await expect(first).toHaveAttribute('data-unread', 'true');
    await expect(first).toContainText('3 unread');
    await expect(first).toContainText('Three');
    await alice.context.close();
    await operator.context.close();
  });
});

test.describe('micollab', () => {
  let server: TestServer;
  test.beforeAll(async () => (server = await TestServer.launch(['--mode', 'micollab'])));
  test.afterAll(async () => server.dispose());

  test('there is no Emoji button', async ({ browser }) => {
    const operator = await signedIn(browser, server, 'operator');
    const alice = await signedIn(browser, server, 'alice');
    await openChatWith(operator.page, 'Alice Archer');
    await expect(chat(operator.page).message).toBeEnabled();
    await expect(chat(operator.page).send).toBeVisible();
    await expect(picker(operator.page).button).toHaveCount(0);
    await alice.context.close();
    await operator.context.close();
  });
});
