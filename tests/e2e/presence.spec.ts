// Live presence between two browsers: signing in, choosing a state, signing out, closing tabs.
import { expect, test } from '@playwright/test';
import { TestServer, signIn } from './server';

let server: TestServer;
test.beforeAll(async () => (server = await TestServer.launch()));
test.afterAll(async () => server.dispose());

test("alice's presence reaches the operator live", async ({ browser }) => {
  const operatorContext = await browser.newContext();
  const operator = await operatorContext.newPage();
  await signIn(operator, server, 'operator');
  await operator.getByRole('searchbox', { name: 'Search directory' }).fill('Alice');
  const alicePresence = (state: string) =>
    operator.getByRole('button', { name: `Presence of Alice Archer: ${state}` });
  await expect(alicePresence('offline')).toHaveAttribute('data-presence', 'offline');

  // Alice signs in in another browser: available within a second, no reload.
  const aliceContext = await browser.newContext();
  const alice = await aliceContext.newPage();
  await signIn(alice, server, 'alice');
  await expect(alicePresence('available')).toBeVisible({ timeout: 1_000 });

  // She chooses "busy" and then "do not disturb" from her toolbar.
  const picker = alice.getByRole('combobox', { name: 'My presence' });
  await picker.selectOption({ label: 'Busy' });
  await expect(alicePresence('busy')).toHaveAttribute('data-presence', 'busy');
  await picker.selectOption({ label: 'Do not disturb' });
  await expect(alicePresence('dnd')).toBeVisible();

  // Signing out makes her offline (grey).
  await alice.getByRole('button', { name: 'Sign out' }).click();
  await expect(alice.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(alicePresence('offline')).toBeVisible();

  // Signing in again brings back her chosen state; closing her last tab makes her offline.
  await signIn(alice, server, 'alice');
  await expect(alicePresence('dnd')).toBeVisible();
  const secondTab = await aliceContext.newPage();
  await secondTab.goto(server.url);
  await expect(secondTab.getByRole('status')).toHaveText('Connected');
  await alice.close();
  await expect(alicePresence('dnd')).toBeVisible();
  await secondTab.close();
  await expect(alicePresence('offline')).toBeVisible();

  await aliceContext.close();
  await operatorContext.close();
});

test("a colleague's console follows the presence of the people it shows, not everyone's", async ({ browser }) => {
  const aliceContext = await browser.newContext();
  const alice = await aliceContext.newPage();
  const ids = new Map<string, number>();
  // Whose presence changes reached Alice's console, and the sets it watched, in order.
  const changesFor: number[] = [];
  const watched: number[][] = [];
  alice.on('websocket', (socket) => {
    socket.on('framereceived', ({ payload }) => {
      const frame = JSON.parse(String(payload));
      if (frame.type === 'directory_snapshot') {
        for (const entry of frame.entries) if (entry.user) ids.set(entry.name, entry.user);
      }
      if (frame.type === 'presence') changesFor.push(frame.user);
    });
    socket.on('framesent', ({ payload }) => {
      const frame = JSON.parse(String(payload));
      if (frame.type === 'watch') watched.push(frame.users);
    });
  });
  await signIn(alice, server, 'alice');
  const search = alice.getByRole('searchbox', { name: 'Search directory' });
  const presenceOf = (name: string, state: string) =>
    alice.getByRole('button', { name: `Presence of ${name}: ${state}` });
  await search.fill('Bob Baker');
  await expect(presenceOf('Bob Baker', 'offline')).toBeVisible();

  // Bob, shown on Alice's screen, signs in and gets busy: she sees both.
  const bobContext = await browser.newContext();
  const bob = await bobContext.newPage();
  await signIn(bob, server, 'bob');
  await expect(presenceOf('Bob Baker', 'available')).toBeVisible();
  const bobPicker = bob.getByRole('combobox', { name: 'My presence' });
  await bobPicker.selectOption({ label: 'Busy' });
  await expect(presenceOf('Bob Baker', 'busy')).toBeVisible();

  // She looks for Carol instead: her console stops following Bob.
  await search.fill('Carol Carter');
  await expect(presenceOf('Carol Carter', 'offline')).toBeVisible();
  const bobId = ids.get('Bob Baker')!;
  const carolId = ids.get('Carol Carter')!;
  await expect
    .poll(() => {
      const last = watched.at(-1) ?? [];
      return last.includes(carolId) && !last.includes(bobId);
    })
    .toBe(true);
  const before = changesFor.length;
  await bobPicker.selectOption({ label: 'Away' });
  await expect(bobPicker).toHaveValue('away');
  const carolContext = await browser.newContext();
  const carol = await carolContext.newPage();
  await signIn(carol, server, 'carol');
  await expect(presenceOf('Carol Carter', 'available')).toBeVisible();
  // Bob's change came before Carol's sign-in, and never reached Alice's console.
  expect(changesFor.slice(before)).not.toContain(bobId);
  expect(changesFor.slice(before)).toContain(carolId);

  // Bob shown again: his current state, not the one she last saw.
  await search.fill('Bob Baker');
  await expect(presenceOf('Bob Baker', 'away')).toBeVisible();

  await carolContext.close();
  await bobContext.close();
  await aliceContext.close();
});

test('rows keep showing the right person, presence and focus as the directory scrolls', async ({ browser }) => {
  const bobContext = await browser.newContext();
  const bob = await bobContext.newPage();
  await signIn(bob, server, 'bob');
  const list = bob.getByRole('list', { name: 'Directory entries' });
  const rows = list.getByRole('listitem');
  const total = Number((await bob.getByText(/^\d+ entries$/).textContent())!.split(' ')[0]);
  expect(total).toBeGreaterThan(100);

  // To the last entry by keyboard: the rows that showed the first entries now show the last.
  await bob.getByRole('searchbox', { name: 'Search directory' }).press('ArrowDown');
  await bob.keyboard.press('End');
  const last = rows.last();
  await expect(last).toHaveAttribute('aria-posinset', String(total));
  await expect(last).toBeFocused();
  await expect(list.getByRole('listitem').filter({ hasText: 'Alice Archer' })).toHaveCount(0);
  // Every row shown names the same person in its text and in its presence field (entries
  // without a user, such as shared telephones, have a blank field and no button).
  for (const row of await rows.all()) {
    const field = row.getByRole('button', { name: /^Presence of / });
    if ((await field.count()) === 0) continue;
    const label = await field.getAttribute('aria-label');
    const name = label!.replace(/^Presence of (.*): \w+$/, '$1');
    await expect(row).toContainText(name);
  }

  // Back at the top, then down one row at a time past the bottom of the view: the focus moves
  // one entry each time, never skipping one as the rows are handed new entries.
  await bob.keyboard.press('Home');
  await expect(rows.first()).toHaveAttribute('aria-posinset', '1');
  const focusedPlace = () => bob.evaluate(() => document.activeElement?.getAttribute('aria-posinset') ?? null);
  const shown = await rows.count();
  for (let place = 2; place <= shown + 10; place++) {
    await bob.keyboard.press('ArrowDown');
    await expect.poll(focusedPlace).toBe(String(place));
  }
  // Keys repeated faster than the list draws (an arrow held down) are not lost either.
  for (let press = 0; press < 10; press++) await bob.keyboard.press('ArrowDown');
  await expect.poll(focusedPlace).toBe(String(shown + 20));
  // Scrolled away with the wheel, the focused row is not left showing someone else: the focus
  // is let go with the row.
  await rows.nth(2).hover();
  await bob.mouse.wheel(0, 3_000);
  await expect(rows.first()).not.toHaveAttribute('aria-posinset', '1');
  await expect.poll(focusedPlace).toBeNull();

  // Alice's row follows her presence again once shown: she signs in, chooses a state, and it
  // shows.
  await bob.getByRole('searchbox', { name: 'Search directory' }).press('ArrowDown');
  await bob.keyboard.press('Home');
  await expect(rows.first()).toHaveAttribute('aria-posinset', '1');
  const alicePresence = (state: string) =>
    list.getByRole('button', { name: `Presence of Alice Archer: ${state}` });
  await expect(alicePresence('offline')).toBeVisible();
  const aliceContext = await browser.newContext();
  const alice = await aliceContext.newPage();
  await signIn(alice, server, 'alice');
  await alice.getByRole('combobox', { name: 'My presence' }).selectOption({ label: 'Busy' });
  await expect(alicePresence('busy')).toBeVisible();

  await aliceContext.close();
  await bobContext.close();
});
