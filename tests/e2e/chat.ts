// Helpers of the chat specs: the chat window's parts by role and name, opening and sending.
import { Browser, BrowserContext, Locator, Page, expect } from '@playwright/test';
import { TestServer, signIn } from './server';

/** The chat window and its parts (docs/design.md, UI contract). */
export function chat(page: Page) {
  const window = page.getByRole('dialog', { name: 'Chat' });
  const list = window.getByRole('list', { name: 'Chat list' });
  return {
    window,
    toolbarButton: page.getByRole('toolbar', { name: 'Console toolbar' }).getByRole('button', { name: 'Chat', exact: true }),
    windowButton: window.getByRole('button', { name: 'Chat', exact: true }),
    list,
    entry: (name: string): Locator => list.getByRole('listitem').filter({ hasText: new RegExp(`^${name}`) }),
    search: window.getByRole('searchbox', { name: 'Search chats' }),
    log: window.getByRole('log', { name: 'Conversation' }),
    message: window.getByRole('textbox', { name: 'Message' }),
    send: window.getByRole('button', { name: 'Send', exact: true }),
    cancel: window.getByRole('button', { name: 'Cancel', exact: true }),
  };
}

/** A new browser context signed in as `username`, with its page. */
export async function signedIn(browser: Browser, server: TestServer, username: string) {
  const context: BrowserContext = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, server, username);
  return { context, page };
}

/** The presence field of `name` in the directory, found by searching for them. */
export async function presenceInDirectory(page: Page, name: string): Promise<Locator> {
  const directory = page.getByRole('region', { name: 'Directory' });
  await directory.getByRole('searchbox', { name: 'Search directory' }).fill(name);
  return directory.getByRole('button', { name: new RegExp(`^Presence of ${name}: `) });
}

/** Opens the chat window on `name`'s conversation by double-clicking their presence field. */
export async function openChatWith(page: Page, name: string) {
  await (await presenceInDirectory(page, name)).dblclick();
  await expect(chat(page).window).toBeVisible();
  await expect(chat(page).window.getByRole('heading', { name })).toBeVisible();
}

/** Types `text` in the compose box and sends it with Enter. */
export async function say(page: Page, text: string) {
  const { message } = chat(page);
  await message.fill(text);
  await message.press('Enter');
}
