// The console's heartbeat: an idle link stays up, a half-open one (no close, frames lost) is noticed and replaced.
import { expect, test } from '@playwright/test';
import { TestServer, signIn } from './server';

let server: TestServer;
// No bots and no simulated calls: on an idle link only the heartbeat comes and goes.
test.beforeAll(
  async () => (server = await TestServer.launch(['--demo-bots', 'false', '--simulator-calls-per-minute', '0'])),
);
test.afterAll(async () => server.dispose());

/** One console WebSocket through the test: `forwarding` false drops every frame both ways. */
type Link = { pings: number; forwarding: boolean };

test('a link that goes silent shows Reconnecting… within 12 s, then Connected on a new one', async ({ page }) => {
  test.setTimeout(90_000);
  const links: Link[] = [];
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const link: Link = { pings: 0, forwarding: true };
    links.push(link);
    const upstream = ws.connectToServer();
    ws.onMessage((message) => {
      if (typeof message === 'string' && JSON.parse(message).type === 'ping') link.pings += 1;
      if (link.forwarding) upstream.send(message);
    });
    upstream.onMessage((message) => {
      if (link.forwarding) ws.send(message);
    });
  });
  await signIn(page, server, 'alice');
  const status = page.getByRole('status');

  // Four heartbeats (12 s) on an idle link: every one answered, so the link is kept.
  await expect.poll(() => links[0].pings, { timeout: 20_000 }).toBeGreaterThanOrEqual(4);
  await expect(status).toHaveText('Connected');
  expect(links).toHaveLength(1);

  // Half-open: the socket stays open but nothing gets through any more.
  // The new link connects at once, so "Reconnecting…" may show for a moment only: every text
  // the status takes is recorded in the page.
  await status.evaluate((element) => {
    const seen: string[] = [];
    (window as unknown as { statusTexts: string[] }).statusTexts = seen;
    new MutationObserver(() => seen.push(element.textContent ?? '')).observe(element, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
  const statusTexts = () => page.evaluate(() => (window as unknown as { statusTexts: string[] }).statusTexts);
  links[0].forwarding = false;
  await expect.poll(statusTexts, { timeout: 12_000 + 4_000 }).toContain('Reconnecting…');
  await expect(status).toHaveText('Connected');
  expect(links).toHaveLength(2);
});
