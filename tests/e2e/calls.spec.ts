// Calls: the queue with the caller's presence, answering, the transfer assistant, two tabs in step.
import { Locator, Page, expect, test } from '@playwright/test';
import { TestServer, ingest as ingestInto, signIn, userId } from './server';

const TOKEN = 'e2e-ingest-token';

interface Call {
  id: number;
  state: string;
}

let server: TestServer;
test.beforeAll(async () => {
  // No simulated calls: every call in these tests is one the test queued itself.
  server = await TestServer.launch(['--simulator-calls-per-minute', '0'], { SWITCHBOARD_INGEST_TOKEN: TOKEN });
});
test.afterAll(async () => server.dispose());

/** This spec's server's ingest API. */
const ingest = (method: 'GET' | 'POST', path: string, body?: object, status?: number) =>
  ingestInto(server, TOKEN, method, path, body, status);

const queueCall = (call: { caller_name: string; caller_number: string; dialled: string; caller_user?: number }) =>
  ingest('POST', 'calls', call) as Promise<Call>;

// Tests share one server: each starts with an empty queue and no answered call.
test.beforeEach(async () => {
  const { calls } = (await ingest('GET', 'calls')) as { calls: Call[] };
  for (const call of calls) await ingest('POST', `calls/${call.id}/clear`, undefined, 200);
});

function panes(page: Page) {
  const queued = page.getByRole('region', { name: 'Queued calls' });
  return {
    queued,
    queuedRow: (text: string): Locator => queued.getByRole('listitem').filter({ hasText: text }),
    active: page.getByRole('region', { name: 'Active call' }),
    assistant: page.getByRole('region', { name: 'Transfer assistant' }),
  };
}

test("a colleague's call waits in the queue with her live presence", async ({ page, browser }) => {
  await signIn(page, server, 'operator');
  const { queued, queuedRow } = panes(page);
  await expect(queued).toContainText('No calls waiting');

  const alice = await userId(server, 'alice');
  const call = await queueCall({ caller_name: 'Alice Archer', caller_number: '2002', dialled: '2000', caller_user: alice });
  const row = queuedRow('Alice Archer');
  await expect(row).toContainText('2002');
  await expect(row).toContainText('Dialled: 2000');
  await expect(row.getByRole('button', { name: 'Presence of Alice Archer: offline' })).toHaveAttribute(
    'data-presence',
    'offline',
  );
  // The time waiting ticks.
  await expect(row).toContainText(/Waiting\s*0:0[1-9]/);

  // Alice signs in elsewhere: her presence in the queue follows, live.
  const aliceContext = await browser.newContext();
  await signIn(await aliceContext.newPage(), server, 'alice');
  await expect(row.getByRole('button', { name: 'Presence of Alice Archer: available' })).toHaveAttribute(
    'data-presence',
    'available',
  );
  await aliceContext.close();

  // Her row offers the IM menu, by right-click or Shift+F10, like her directory entry.
  const im = page.getByRole('menuitem', { name: 'IM', exact: true });
  await row.click({ button: 'right' });
  await expect(im).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('menu')).toHaveCount(0);
  await row.focus();
  await row.press('Shift+F10');
  await expect(im).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('menu')).toHaveCount(0);

  // An outside caller without a name: "Unknown caller", blank presence, queued after Alice.
  await queueCall({ caller_name: '', caller_number: '+44 20 7946 0000', dialled: '2000' });
  const outside = queuedRow('Unknown caller');
  await expect(outside).toContainText('+44 20 7946 0000');
  await expect(outside.getByRole('button', { name: /^Presence of/ })).toHaveCount(0);
  await expect(queued.getByRole('listitem')).toHaveCount(2);
  await expect(queued.getByRole('listitem').first()).toContainText('Alice Archer');

  // The caller hangs up: the row goes away.
  await ingest('POST', `calls/${call.id}/clear`, undefined, 200);
  await expect(row).toHaveCount(0);
  await expect(queued.getByRole('listitem')).toHaveCount(1);
});

test('answering fills the active call pane; hold, retrieve and release', async ({ page }) => {
  await signIn(page, server, 'operator');
  const { queuedRow, active } = panes(page);
  await expect(active).toContainText('No active call');

  await queueCall({ caller_name: 'Jane Doe', caller_number: '+1 555 0101', dialled: '2000' });
  await queuedRow('Jane Doe').getByRole('button', { name: 'Answer' }).click();
  await expect(active).toContainText('Jane Doe');
  await expect(active).toContainText('+1 555 0101');
  await expect(active).toContainText('Active');
  await expect(queuedRow('Jane Doe')).toHaveCount(0);
  await expect(active).toContainText(/Duration\s*0:0[1-9]/);

  // A second call, answered by double-click: the server holds Jane, listed under John.
  await queueCall({ caller_name: 'John Roe', caller_number: '+1 555 0102', dialled: '2000' });
  await queuedRow('John Roe').dblclick();
  await expect(queuedRow('John Roe')).toHaveCount(0);
  const held = active.getByRole('listitem').filter({ hasText: 'Jane Doe' });
  await expect(held).toContainText('On hold');
  await expect(active.getByRole('button', { name: 'Hold' })).toBeEnabled();
  await expect(active.getByRole('listitem').filter({ hasText: 'John Roe' })).toHaveCount(0);

  // Without a mouse: Tab to a queued row, Enter answers it.
  await queueCall({ caller_name: 'Kim Keys', caller_number: '+1 555 0103', dialled: '2000' });
  await queuedRow('Kim Keys').focus();
  await page.keyboard.press('Enter');
  await expect(queuedRow('Kim Keys')).toHaveCount(0);
  await expect(active.getByRole('listitem')).toHaveCount(2);

  // Hold, then retrieve the current call.
  await active.getByRole('button', { name: 'Hold' }).click();
  await expect(active.getByRole('button', { name: 'Retrieve' })).toHaveCount(3);
  await active.getByRole('button', { name: 'Retrieve' }).first().click();
  await expect(active.getByRole('button', { name: 'Hold' })).toBeEnabled();
  await expect(active.getByRole('listitem')).toHaveCount(2);

  // Release every call: the pane empties.
  for (let left = 3; left > 0; left--) {
    await expect(active.getByRole('listitem')).toHaveCount(left - 1);
    await active.getByRole('button', { name: 'Release' }).click();
  }
  await expect(active).toContainText('No active call');
  expect(((await ingest('GET', 'calls')) as { calls: Call[] }).calls).toEqual([]);
});

test("a transfer shows the target's presence in the transfer assistant; Enter in the search only moves to the first match", async ({ page }) => {
  await signIn(page, server, 'operator');
  const { queuedRow, active, assistant } = panes(page);
  const search = assistant.getByRole('searchbox', { name: 'Transfer to' });
  await expect(assistant).toContainText('No answered call to transfer');
  await expect(search).toBeDisabled();

  const call = await queueCall({ caller_name: 'Pat Smith', caller_number: '+1 555 0104', dialled: '2000' });
  await queuedRow('Pat Smith').getByRole('button', { name: 'Answer' }).click();
  await active.getByRole('button', { name: 'Transfer' }).click();
  await expect(search).toBeFocused();

  await search.fill('Bob');
  await assistant.getByRole('button', { name: /^Bob Baker/ }).click();
  await expect(assistant.getByRole('button', { name: 'Presence of Bob Baker: offline' })).toHaveAttribute(
    'data-presence',
    'offline',
  );
  await expect(assistant).toContainText('Engineering');
  await expect(assistant).toContainText('Pat Smith');
  await expect(active).toContainText('Transferring');
  await expect(assistant.getByRole('button', { name: 'Complete transfer' })).toBeFocused();

  // The target offers the IM menu, by right-click or Shift+F10 on its presence.
  const targetPresence = assistant.getByRole('button', { name: 'Presence of Bob Baker: offline' });
  await targetPresence.click({ button: 'right' });
  await expect(page.getByRole('menuitem', { name: 'IM', exact: true })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('menu')).toHaveCount(0);
  await targetPresence.press('Shift+F10');
  await expect(page.getByRole('menuitem', { name: 'IM', exact: true })).toBeFocused();
  await page.keyboard.press('Escape');

  // Cancel returns the call to the operator; the keyboard chooses the target again. Enter in
  // the search only moves to the first match: nothing is transferred until a match is chosen.
  await assistant.getByRole('button', { name: 'Cancel transfer' }).click();
  await expect(active).toContainText('Active');
  await expect(search).toBeFocused();
  await search.fill('Bob Baker');
  const bob = assistant.getByRole('button', { name: /^Bob Baker/ });
  await page.keyboard.press('Enter');
  await expect(bob).toBeFocused();
  await expect(active).toContainText('Active');
  const open = (await ingest('GET', 'calls')) as { calls: Call[] };
  expect(open.calls.find((each) => each.id === call.id)?.state).toBe('active');
  await page.keyboard.press('ArrowUp');
  await expect(search).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await expect(bob).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(assistant.getByRole('button', { name: /^Presence of Bob Baker/ })).toBeVisible();
  await expect(active).toContainText('Transferring');

  const complete = assistant.getByRole('button', { name: 'Complete transfer' });
  await expect(complete).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(active).toContainText('No active call');
  await expect(assistant).toContainText('No answered call to transfer');
  const { calls } = (await ingest('GET', 'calls')) as { calls: Call[] };
  expect(calls.find((open) => open.id === call.id)).toBeUndefined();
});

test("two tabs of the operator stay in step, and a reload keeps the calls", async ({ browser }) => {
  const context = await browser.newContext();
  const first = await context.newPage();
  await signIn(first, server, 'operator');
  const second = await context.newPage();
  await second.goto(server.url);
  await expect(second.getByRole('status')).toHaveText('Connected');
  const [one, two] = [panes(first), panes(second)];

  await queueCall({ caller_name: 'Sam Step', caller_number: '+1 555 0105', dialled: '2000' });
  await expect(two.queuedRow('Sam Step')).toBeVisible();
  await one.queuedRow('Sam Step').getByRole('button', { name: 'Answer' }).click();
  await expect(two.active).toContainText('Sam Step');
  await expect(two.active).toContainText('Active');
  await expect(two.queuedRow('Sam Step')).toHaveCount(0);

  await two.active.getByRole('button', { name: 'Hold' }).click();
  await expect(one.active).toContainText('On hold');

  await second.reload();
  await expect(second.getByRole('status')).toHaveText('Connected');
  await expect(two.active).toContainText('Sam Step');
  await expect(two.active).toContainText('On hold');
  await expect(two.queued).toContainText('No calls waiting');
  await context.close();
});

test('call controls are off while the console is not connected, saying why, and back after', async ({ page }) => {
  await signIn(page, server, 'operator');
  const { queuedRow, active } = panes(page);
  await queueCall({ caller_name: 'Held Line', caller_number: '+1 555 0107', dialled: '2000' });
  await queuedRow('Held Line').getByRole('button', { name: 'Answer' }).click();
  await expect(active).toContainText('Held Line');
  await queueCall({ caller_name: 'Wait Ing', caller_number: '+1 555 0108', dialled: '2000' });
  const answer = queuedRow('Wait Ing').getByRole('button', { name: 'Answer' });
  const controls = [answer, ...['Hold', 'Transfer', 'Release'].map((name) => active.getByRole('button', { name }))];
  for (const control of controls) await expect(control).toBeEnabled();

  await server.stop();
  await expect(page.getByRole('status')).toHaveText('Reconnecting…');
  for (const control of controls) {
    await expect(control).toBeDisabled();
    await expect(control).toHaveAccessibleDescription(/Not connected to the server/);
  }
  // Still focusable, so the keyboard keeps its place; Enter on it changes nothing.
  await answer.focus();
  await page.keyboard.press('Enter');
  await expect(answer).toBeFocused();

  await server.start();
  await expect(page.getByRole('status')).toHaveText('Connected', { timeout: 20_000 });
  for (const control of controls) {
    await expect(control).toBeEnabled();
    await expect(control).not.toHaveAttribute('title', /.*/);
  }
  await expect(queuedRow('Wait Ing')).toBeVisible();
  await answer.click();
  await expect(queuedRow('Wait Ing')).toHaveCount(0);
  await expect(active.getByRole('listitem').filter({ hasText: 'Held Line' })).toContainText('On hold');
});

test('a call action the server refuses is shown to the operator, then goes away', async ({ page }) => {
  // The caller hangs up while this tab misses the news (its `call` frames are held back), so the
  // operator's Release reaches a call that is already gone.
  let holdBackCalls = false;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const upstream = ws.connectToServer();
    upstream.onMessage((message) => {
      if (holdBackCalls && typeof message === 'string' && JSON.parse(message).type === 'call') return;
      ws.send(message);
    });
  });
  await signIn(page, server, 'operator');
  const { queuedRow, active } = panes(page);
  const call = await queueCall({ caller_name: 'Gone Caller', caller_number: '+1 555 0106', dialled: '2000' });
  await queuedRow('Gone Caller').getByRole('button', { name: 'Answer' }).click();
  await expect(active).toContainText('Gone Caller');

  holdBackCalls = true;
  await ingest('POST', `calls/${call.id}/clear`, undefined, 200);
  await active.getByRole('button', { name: 'Release' }).click();
  const alert = active.getByRole('alert');
  await expect(alert).toBeVisible();
  expect((await alert.textContent())?.trim()).not.toBe('');
  await expect(alert).toHaveCount(0, { timeout: 10_000 });

  // A reload brings the truth back.
  holdBackCalls = false;
  await page.reload();
  await expect(page.getByRole('status')).toHaveText('Connected');
  await expect(active).toContainText('No active call');
});
