// The console survives a server restart: it says so, retries, and resumes with fresh state.
import { expect, test } from '@playwright/test';
import { TestServer, signIn } from './server';

let server: TestServer;
test.beforeAll(async () => (server = await TestServer.launch()));
test.afterAll(async () => server.dispose());

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  test(`the console reconnects by itself after a server stop (${signal})`, async ({ page }) => {
    await signIn(page, server, 'operator');
    const directory = page.getByRole('region', { name: 'Directory' });
    await directory.getByRole('searchbox', { name: 'Search directory' }).fill('Archer');
    await expect(directory.getByRole('listitem')).toHaveCount(1);

    await server.stop(signal);
    await expect(page.getByRole('status')).toHaveText('Reconnecting…');

    await server.start();
    await expect(page.getByRole('status')).toHaveText('Connected', { timeout: 20_000 });
    // Fresh state, no duplicated rows, the search the operator typed is kept.
    await expect(directory.getByRole('listitem')).toHaveCount(1);
    await expect(directory.getByRole('button', { name: 'Presence of Alice Archer: offline' })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Sign in' })).toHaveCount(0);
  });
}
