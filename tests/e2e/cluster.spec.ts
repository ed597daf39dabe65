// Two nodes on one PostgreSQL database joined by NATS (docs/cluster.md): Alice's console on
// node A and Bob's on node B see each other's presence live, chat both ways with red dots, and
// when node B dies Bob turns offline on node A within the stated 10 s. PostgreSQL and
// nats-server are throwaway servers started around the specs by `make e2e`
// (crates/loadgen/src/bin/with_cluster.rs).
import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { TestServer } from './server';
import { chat, openChatWith, presenceInDirectory, say, signedIn } from './chat';

const POSTGRES = process.env.SWITCHBOARD_TEST_POSTGRES;
const NATS = process.env.SWITCHBOARD_TEST_NATS;

/** A new, empty database on the test cluster; its URL. */
function newDatabase(name: string): string {
  execFileSync('psql', [POSTGRES!, '-q', '-c', `CREATE DATABASE ${name}`]);
  return POSTGRES!.replace(/\/[^/]*$/, `/${name}`);
}

test('consoles on two nodes chat and see presence as on one; a dead node\'s user turns offline', async ({ browser }) => {
  test.setTimeout(90_000);
  if (!POSTGRES || !NATS) throw new Error('no PostgreSQL or NATS for the test: run it with `make e2e`');
  const database = newDatabase(`e2e_cluster_${process.pid}`);
  const args = ['--database-url', database, '--nats-url', NATS, '--demo-bots', 'false'];
  const a = await TestServer.launch(args);
  const b = await TestServer.launch(args);
  try {
    const alice = await signedIn(browser, a, 'alice');
    const bob = await signedIn(browser, b, 'bob');

    // Presence across the nodes, live.
    const bobOnA = await presenceInDirectory(alice.page, 'Bob Baker');
    await expect(bobOnA).toHaveAttribute('data-presence', 'available');
    await bob.page.getByRole('combobox', { name: 'My presence' }).selectOption({ label: 'Busy' });
    await expect(bobOnA).toHaveAttribute('data-presence', 'busy');

    // Alice (node A) writes to Bob (node B): a red dot for Bob, then his reply reaches her.
    await openChatWith(alice.page, 'Bob Baker');
    await say(alice.page, 'Your caller is holding on line 2');
    await expect(chat(bob.page).toolbarButton).toHaveAttribute('data-unread', 'true');
    await chat(bob.page).toolbarButton.click();
    await chat(bob.page).entry('Alice Archer').click();
    await expect(chat(bob.page).log).toContainText('Your caller is holding on line 2');
    await expect(chat(bob.page).toolbarButton).toHaveAttribute('data-unread', 'false');
    await say(bob.page, 'Put them through <b>now</b>');
    await expect(chat(alice.page).log).toContainText('Put them through <b>now</b>');

    // Node B dies (SIGKILL): Bob shows offline on node A within the stated time.
    await b.stop('SIGKILL');
    await expect(bobOnA).toHaveAttribute('data-presence', 'offline', { timeout: 12_000 });
  } finally {
    await a.dispose();
    await b.dispose();
  }
});
