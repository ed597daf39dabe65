// Federation over XMPP: the operator chats with Erin, who sits in a standard XMPP client on the
// company's XMPP server (Debian's Prosody; a scripted slixmpp client), exactly as with a
// Switchboard user: double-click, send, red dot, read marker, live presence, and every message
// once across a restart of the XMPP server.
import { expect, test } from '@playwright/test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestServer } from './server';
import { chat, openChatWith, presenceInDirectory, say, signedIn } from './chat';
import { COMPONENT, Prosody, XmppUser } from './xmpp';

const OPERATOR = `operator@${COMPONENT}`;

test('the operator chats with an XMPP user as with a colleague, across a restart of the XMPP server', async ({ browser }) => {
  test.setTimeout(120_000);
  const prosody = await Prosody.launch(['erin']);
  const files = mkdtempSync(join(tmpdir(), 'switchboard-federation-'));
  const config = join(files, 'switchboard.toml');
  writeFileSync(config, prosody.configSection);
  const server = await TestServer.launch(['--config', config, '--demo-bots', 'false']);
  const directory = join(files, 'directory.csv');
  writeFileSync(directory, 'id,name,username,xmpp\nop,Operator,operator,\nalice,Alice Archer,alice,\n' +
    'erin,Erin Evans,,erin@localhost\n');
  server.command(['directory', 'import', directory]);
  let erin = await XmppUser.signIn(prosody, 'erin');
  try {
    const { page } = await signedIn(browser, server, 'operator');
    const erinsPresence = await presenceInDirectory(page, 'Erin Evans');
    await expect(erinsPresence).toHaveAttribute('data-presence', 'available');
    erin.presence('dnd');
    await expect(erinsPresence).toHaveAttribute('data-presence', 'dnd');

    // A predefined message from the right-click menu, then double-click and send: Erin's
    // client gets both from the operator's address.
    const row = page.getByRole('region', { name: 'Directory' }).getByRole('listitem')
      .filter({ hasText: 'Erin Evans' });
    await row.click({ button: 'right' });
    await page.getByRole('menuitem', { name: 'IM', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Send Instant Message' }).click();
    await page.getByRole('menuitem', { name: 'Your caller is holding on line 2' }).click();
    const got = await erin.next((e) => e.body === 'Your caller is holding on line 2');
    expect(got.from).toBe(OPERATOR);
    await page.keyboard.press('Escape');
    await openChatWith(page, 'Erin Evans');
    await say(page, 'Are you free for a call?');
    await erin.next((e) => e.body === 'Are you free for a call?');
    await expect(chat(page).log).toContainText('Your caller is holding on line 2');

    // The chat window is closed when Erin answers: a red dot, which reading clears; her
    // client then gets `displayed` for her message.
    await page.keyboard.press('Escape');
    await expect(chat(page).window).toBeHidden();
    erin.say(OPERATOR, 'erin-reply-1', 'Put them through <b>please</b>');
    await expect(chat(page).toolbarButton).toHaveAttribute('data-unread', 'true');
    await chat(page).toolbarButton.click();
    await chat(page).entry('Erin Evans').click();
    await expect(chat(page).log).toContainText('Put them through <b>please</b>');
    await expect(chat(page).toolbarButton).toHaveAttribute('data-unread', 'false');
    await erin.next((e) => e.displayed === 'erin-reply-1');

    // The XMPP server goes down mid-conversation: Erin shows offline and the console says
    // why; what the operator writes meanwhile reaches her once the server is back, once.
    await prosody.stop();
    await erin.quit();
    await expect(erinsPresence).toHaveAttribute('data-presence', 'offline');
    const why = page.getByRole('alert').filter({ hasText: 'XMPP contacts unavailable' });
    await expect(why).toContainText('cannot reach the XMPP server');
    await say(page, 'Sent while the XMPP server was down');
    await prosody.start();
    erin = await XmppUser.signIn(prosody, 'erin');
    await erin.next((e) => e.body === 'Sent while the XMPP server was down', 30_000);
    await expect(erinsPresence).toHaveAttribute('data-presence', 'available', { timeout: 30_000 });
    await expect(why).toHaveCount(0);
    await new Promise((r) => setTimeout(r, 1_000));
    const copies = erin.messages().filter((m) => m.body === 'Sent while the XMPP server was down');
    expect(copies, 'no second copy').toHaveLength(0);
  } finally {
    await erin.quit();
    await server.dispose();
    await prosody.dispose();
    rmSync(files, { recursive: true, force: true });
  }
});
