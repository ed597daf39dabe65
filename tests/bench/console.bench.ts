// Console benchmarks: the release console in Chromium against a real server seeded with
// 50,000 directory entries. Writes its figures (every run) to CONSOLE_BENCH_OUT, which
// `make bench` puts into BENCHMARKS.md. A benchmark, not a test: it fails only when it
// cannot measure, never because a figure missed its target.
import { Browser, Page, expect, test } from '@playwright/test';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Asterisk } from '../e2e/asterisk';
import { TestServer, signIn } from '../e2e/server';
import { Probe, probe } from './probe';

const run = promisify(execFile);
/** crates/loadgen's `bench`, which drives the presence storm and the long conversation. */
const LOAD = process.env.SWITCHBOARD_BENCH_BIN;
const OUT = process.env.CONSOLE_BENCH_OUT ?? 'console-bench.json';
const RUNS = Number(process.env.CONSOLE_BENCH_RUNS ?? 3);
const ENTRIES = 50_000;
const MESSAGES = 10_000;
/** Presence changes per second in the storm. Every storm user's connection also follows
 * everyone's presence (it never says what it shows), and the server allows each user one
 * change a second: 200 users at 200 changes/s is 40,000 frames/s of fan-out on this machine. */
const STORM_RATE = 200;
const STORM_SECONDS = 10;
const STORM_USERS = STORM_RATE;
const SEARCHES = ['Bench User 4242', 'load test', '1049'];
/** Entries an import changes per run: the path of an LDAP sync's changes to the console. */
const CHANGED = 100;
/** The busy lamp field under load: calls waiting, extensions changing once a second. */
const QUEUED_CALLS = 200;
const EXTENSIONS = 2_000;
const LAMP_SECONDS = 10;

type Figures = Record<string, number>;
declare global {
  interface Window {
    probe: Probe;
  }
}

/** Nearest-rank percentile. */
function percentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length))) - 1] ?? NaN;
}

/** Runs `action` (a click or key press); ms from it to the end of its work and to the painted result. */
async function timed(page: Page, action: () => Promise<void>, check: 'nextFrame' | 'logHas' = 'nextFrame', text?: string) {
  await page.evaluate(([check, text]) => window.probe.arm(check as 'nextFrame' | 'logHas', text), [check, text]);
  await action();
  return page.evaluate(() => window.probe.result());
}

/** Reloads the signed-in console; ms from navigation until it is connected with rows painted. */
async function load(page: Page): Promise<{ usable: number; snapshotToPaint: number; lastPageToPaint: number }> {
  await page.reload();
  await page.waitForFunction(() => window.probe.rowsPaintedAt !== undefined, null, { timeout: 60_000 });
  await expect(page.getByRole('status')).toHaveText('Connected');
  return page.evaluate(() => ({
    usable: window.probe.rowsPaintedAt!,
    snapshotToPaint: window.probe.rowsPaintedAt! - window.probe.snapshotAt!,
    lastPageToPaint: window.probe.rowsPaintedAt! - window.probe.lastPageAt!,
  }));
}

async function newConsole(browser: Browser, server: TestServer, username: string, password: string) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await page.addInitScript(probe);
  await signIn(page, server, username, password);
  return page;
}

/** The directory figures of `page` (the console, or the plain page): navigation → usable,
 * search as you type, scrolling the whole list. */
async function measureDirectory(page: Page): Promise<Figures> {
  const figures: Figures = {};
  const loaded = await load(page);
  figures.usableLarge = loaded.usable;
  figures.snapshotToPaint = loaded.snapshotToPaint;
  figures.lastPageToPaint = loaded.lastPageToPaint;

  // Search as you type, one key at a time as an operator types.
  const search = page.getByRole('searchbox', { name: 'Search directory' });
  const work: number[] = [];
  const painted: number[] = [];
  for (const query of SEARCHES) {
    await search.fill('');
    await search.focus();
    for (const key of query) {
      const timing = await timed(page, () => page.keyboard.type(key));
      work.push(timing.work);
      painted.push(timing.painted);
      await page.waitForTimeout(30);
    }
    await expect(page.getByRole('list', { name: 'Directory entries' }).getByRole('listitem').first()).toBeVisible();
  }
  figures.searchWorkP50 = percentile(work, 0.5);
  figures.searchWorkP95 = percentile(work, 0.95);
  figures.searchWorkMax = percentile(work, 1);
  figures.searchPaintedP50 = percentile(painted, 0.5);
  figures.searchPaintedP95 = percentile(painted, 0.95);

  // Scrolling the whole directory with the wheel.
  await search.fill('');
  const pane = await page.getByRole('region', { name: 'Directory' }).boundingBox();
  await page.mouse.move(pane!.x + pane!.width / 2, pane!.y + pane!.height * 0.7);
  await page.evaluate(() => window.probe.watch('frames'));
  for (let step = 0; step < 80; step++) {
    await page.mouse.wheel(0, 900);
    await page.waitForTimeout(16);
  }
  await page.waitForTimeout(300);
  const frames = await page.evaluate(() => {
    window.probe.stop();
    return window.probe.frames.splice(0);
  });
  figures.scrollFrames = frames.length;
  figures.scrollSlowFrames = frames.filter((ms) => ms > 20).length;
  figures.scrollFrameP95 = percentile(frames, 0.95);
  figures.scrollFrameMax = percentile(frames, 1);
  return figures;
}

/** Where the plain page is served from for the runs: beside the console, so that it has the
 * server's own origin (its session cookie, and a page Chromium lets open a socket to
 * 127.0.0.1). */
const PLAIN = join('dist', 'plain');

/** The same directory figures of the plain page (tests/bench/plain/), the console's
 * limit, for the signed-in bench1. */
async function measurePlain(browser: Browser, server: TestServer): Promise<Figures> {
  const page = await newConsole(browser, server, 'bench1', 'bench');
  await page.goto(`${server.url}plain/index.html`);
  const figures = await measureDirectory(page);
  await page.context().close();
  return figures;
}

/** A presence storm from other consoles, on the console of an operator (the demo's
 * `operator`): an operator's console follows everyone's presence, where an employee's follows
 * only the people it shows. */
async function measureStorm(browser: Browser, server: TestServer): Promise<Figures> {
  const page = await newConsole(browser, server, 'operator', 'operator');
  const before = await page.evaluate(() => {
    window.probe.watch('longTasks');
    return window.probe.presenceFrames;
  });
  const storm = await run(LOAD!, [
    'presence-storm', '--addr', `127.0.0.1:${server.port}`,
    '--users', String(STORM_USERS), '--rate', String(STORM_RATE), '--seconds', String(STORM_SECONDS),
  ]);
  await page.waitForTimeout(500);
  const after = await page.evaluate(() => {
    window.probe.stop();
    return { presence: window.probe.presenceFrames, longTasks: window.probe.longTasks.splice(0) };
  });
  await page.context().close();
  return {
    stormSent: Number(storm.stdout.split(' ')[0]),
    stormReceivedPerSecond: (after.presence - before) / STORM_SECONDS,
    stormLongTasks: after.longTasks.filter((ms) => ms > 50).length,
    stormLongestTask: Math.max(0, ...after.longTasks),
  };
}

/** One run on the 50,000-entry server, signed in as bench1. */
async function measure(browser: Browser, server: TestServer, runNumber: number): Promise<Figures> {
  const page = await newConsole(browser, server, 'bench1', 'bench');
  const figures = await measureDirectory(page);
  const search = page.getByRole('searchbox', { name: 'Search directory' });

  // Opening the conversation of 10,000 messages from the chat list.
  await page.getByRole('toolbar', { name: 'Console toolbar' }).getByRole('button', { name: 'Chat' }).click();
  const entry = page.getByRole('list', { name: 'Chat list' }).getByRole('listitem').filter({ hasText: 'Bench User 2' }).first();
  await expect(entry).toBeVisible();
  const opened = await timed(page, () => entry.click(), 'logHas', `message ${MESSAGES}`);
  figures.openConversation = opened.painted;
  // Where that time goes: until the console asks for the newest page, the server's answer,
  // and from the page's arrival to the paint.
  const history = await page.evaluate(() => ({
    asked: window.probe.historyAskedAt!,
    arrived: window.probe.historyAt!,
    handled: window.probe.clickHandledAt!,
  }));
  figures.historyAsked = history.asked - opened.started;
  figures.clickHandled = history.handled - opened.started;
  figures.historyAnswered = history.arrived - history.asked;
  figures.historyToPaint = opened.started + opened.painted - history.arrived;

  // A directory delta: an admin's import changes the title of Bench User 1..100 (the same
  // apply, change feed and `directory_changed` frame as an LDAP sync's changes).
  await page.keyboard.press('Escape');
  // Bench User 1's extension: the one row it shows is among those the import changes.
  await search.fill('100001');
  await expect(page.getByRole('list', { name: 'Directory entries' }).getByRole('listitem')).toHaveCount(1);
  const title = `Delta run ${runNumber}`;
  await page.evaluate((text) => (window.probe.deltaText = text), title);
  const started = Date.now();
  await importDirectory(server, title);
  figures.importRequest = Date.now() - started;
  await page.waitForFunction(() => window.probe.deltaPaintedAt !== undefined, null, { timeout: 30_000 });
  figures.deltaFrameToPaint = await page.evaluate(() => window.probe.deltaPaintedAt! - window.probe.deltaAt!);

  // Memory once all of that happened, after a garbage collection.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = await cdp.send('Runtime.getHeapUsage');
  figures.jsHeapMb = heap.usedSize / 1e6;
  figures.wasmMemoryMb = (await page.evaluate(() => window.probe.wasmMemory?.buffer.byteLength ?? NaN)) / 1e6;
  await page.context().close();
  return figures;
}

/** The large server's directory as a CSV file: its bench users as `--bench-users` made them,
 * the first CHANGED of them with `title`. */
function benchDirectory(title: string): string {
  const rows = ['id,name,username,department,title,extension,mobile'];
  for (let n = 1; n <= ENTRIES; n++) {
    const extension = 100_000 + n;
    rows.push(`ext-${extension},Bench User ${n},bench${n},Load test,${n <= CHANGED ? title : ''},${extension},+1 555 ${extension}`);
  }
  return rows.join('\n') + '\n';
}

/** Replaces `server`'s directory through the admin API (as the demo's admin). */
async function importDirectory(server: TestServer, title: string) {
  const session = await fetch(`${server.url}api/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'admin' }),
  });
  const cookie = session.headers.get('set-cookie')!.split(';')[0];
  const response = await fetch(`${server.url}api/admin/directory/import`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/csv', Cookie: cookie },
    body: benchDirectory(title),
  });
  expect(response.status, await response.clone().text()).toBe(200);
}

/** One run of the operator's console with QUEUED_CALLS calls waiting in Asterisk while every
 * one of EXTENSIONS extensions changes its lamp once a second. */
async function measureLamps(browser: Browser, server: TestServer, pbx: Asterisk): Promise<Figures> {
  const page = await newConsole(browser, server, 'operator', 'operator');
  await expect(page.getByRole('region', { name: 'Queued calls' })).toContainText(`${QUEUED_CALLS} waiting`, { timeout: 60_000 });
  await page.evaluate(() => window.probe.watch('longTasks'));
  const storm = await run(LOAD!, [
    'lamp-storm', '--ari', `127.0.0.1:${pbx.port}`,
    '--extensions', String(EXTENSIONS), '--seconds', String(LAMP_SECONDS),
  ]);
  await page.waitForTimeout(500);
  const longTasks = await page.evaluate(() => {
    window.probe.stop();
    return window.probe.longTasks.splice(0);
  });
  await page.context().close();
  return {
    lampChanges: Number(storm.stdout.split(' ')[0]) / LAMP_SECONDS,
    lampLongTasks: longTasks.filter((ms) => ms > 50).length,
    lampLongestTask: Math.max(0, ...longTasks),
  };
}

/** Navigation to usable on the demo company's directory (about 250 entries). */
async function measureDemo(browser: Browser, server: TestServer): Promise<number> {
  const page = await newConsole(browser, server, 'operator', 'operator');
  const { usable } = await load(page);
  await page.context().close();
  return usable;
}

function wasmSize(): { raw: number; gzipped: number } {
  const file = readdirSync('dist').find((name) => name.endsWith('.wasm'));
  const bytes = readFileSync(join('dist', file!));
  return { raw: bytes.length / 1e3, gzipped: gzipSync(bytes, { level: 9 }).length / 1e3 };
}

test('console benchmarks', async ({ browser }) => {
  test.setTimeout(30 * 60_000);
  expect(LOAD, 'SWITCHBOARD_BENCH_BIN (crates/loadgen bench) is set: run `make bench`').toBeTruthy();
  const config = join(mkdtempSync(join(tmpdir(), 'switchboard-bench-')), 'switchboard.toml');
  // The long conversation is sent as fast as the server commits it.
  writeFileSync(config, '[limits]\nmessages_per_second = 100000\nmessage_burst = 100000\n');
  const large = await TestServer.launch([
    '--bench-users', String(ENTRIES), '--demo-bots', 'false', '--simulator-calls-per-minute', '0', '--config', config,
  ]);
  const demo = await TestServer.launch(['--demo-bots', 'false']);
  const pbx = await Asterisk.launch();
  const withPbx = await TestServer.launch([
    '--bench-users', String(EXTENSIONS), '--demo-bots', 'false', '--simulator-calls-per-minute', '0',
    '--config', pbx.config('Stasis:{extension}'),
  ]);
  const runs: Figures[] = [];
  cpSync(join('tests', 'bench', 'plain'), PLAIN, { recursive: true });
  try {
    // The directory becomes the bench users alone, as an import writes them (the demo's
    // entries go): each run's import then changes exactly CHANGED entries.
    await importDirectory(large, '');
    await run(LOAD!, [
      'conversation', '--addr', `127.0.0.1:${large.port}`,
      '--from', 'bench2', '--to', 'bench1', '--messages', String(MESSAGES),
    ]);
    for (let n = 0; n < QUEUED_CALLS; n++) await pbx.call('2000', `Waiting Caller <556${String(n).padStart(4, '0')}>`);
    for (let n = 1; n <= RUNS; n++) {
      const figures = { ...(await measure(browser, large, n)), ...(await measureLamps(browser, withPbx, pbx)) };
      Object.assign(figures, await measureStorm(browser, large));
      figures.usableDemo = await measureDemo(browser, demo);
      for (const [key, value] of Object.entries(await measurePlain(browser, large))) figures[`plain_${key}`] = value;
      console.log(`run ${n}/${RUNS}: ${JSON.stringify(figures)}`);
      runs.push(figures);
    }
  } finally {
    rmSync(PLAIN, { recursive: true, force: true });
    await large.dispose();
    await demo.dispose();
    await withPbx.dispose();
    await pbx.dispose();
  }
  const all = (key: string) => runs.map((figures) => figures[key]);
  const size = wasmSize();
  const figure = (name: string, unit: string, key: string, goal: { below?: number; at_least?: number } = {}) => ({
    name, unit, runs: all(key), ...goal,
  });
  /** A directory figure, with the plain page's as its limit. */
  const limited = (name: string, unit: string, key: string, goal: { below?: number; at_least?: number } = {}) => ({
    ...figure(name, unit, key, goal), limit: all(`plain_${key}`),
  });
  const results = {
    notes: [
      `console: release build in dist/, Chromium ${browser.version()} (headless, software rendering), viewport 1440×900, ${RUNS} runs, each in a fresh browser context signed in as a bench user; times are the page's own clock, from the input (or the frame's arrival) to the first frame painted after the result is in the DOM`,
    ],
    sections: [
      {
        title: `Console: directory of ${ENTRIES.toLocaleString('en')} entries`,
        about:
          `The server is seeded with ${ENTRIES.toLocaleString('en')} bench users (\`--bench-users\`), each a directory entry. ` +
          'The snapshot comes in pages of about 16 KiB (about 420 frames here): from the last page, the time is the console\'s own work ' +
          '(joining the pages, sorting and indexing the entries, drawing the visible rows); from the first, it also holds the transfer of the other pages. ' +
          `Search: the queries ${SEARCHES.map((q) => `"${q}"`).join(', ')} typed one key at a time; each keystroke is timed from its keydown to the end of ` +
          'the work it caused (event handlers, filtering, the DOM update) and to the painted result, which also waits for the display\'s next frame (up to 16.7 ms at 60 Hz). ' +
          'Scroll: 80 mouse-wheel steps of 900 px, 16 ms apart; a frame is slow when the interval between animation frames exceeds 20 ms (a missed 60 Hz frame). ' +
          'The limit is the plain page (tests/bench/plain/): the same list written by hand without a framework, timed by the same probe in the same run.',
        figures: [
          limited('whole snapshot arrived → first rows painted', 'ms', 'lastPageToPaint', { below: 200 }),
          limited('first snapshot page arrived → first rows painted', 'ms', 'snapshotToPaint', { below: 50 }),
          limited('search keystroke → work done, p50', 'ms', 'searchWorkP50'),
          limited('search keystroke → work done, p95', 'ms', 'searchWorkP95', { below: 16 }),
          limited('search keystroke → work done, max', 'ms', 'searchWorkMax'),
          limited('search keystroke → painted, p50', 'ms', 'searchPaintedP50'),
          limited('search keystroke → painted, p95', 'ms', 'searchPaintedP95'),
          limited('scroll: animation frames', 'count', 'scrollFrames'),
          limited('scroll: slow frames (> 20 ms)', 'count', 'scrollSlowFrames', { below: 1 }),
          limited('scroll: frame interval p95', 'ms', 'scrollFrameP95'),
          limited('scroll: longest frame interval', 'ms', 'scrollFrameMax'),
        ],
      },
      {
        title: 'Console: presence storm',
        about:
          `${STORM_USERS.toLocaleString('en')} other bench users change their presence ${STORM_RATE.toLocaleString('en')} times per second in total for ${STORM_SECONDS} s ` +
          '(crates/loadgen `bench presence-storm`: all connected first, then all start at once), each change a `presence` frame to an operator\'s console (which follows everyone\'s presence; an employee\'s console gets only those of the people it shows); ' +
          `the frames received are counted over the whole command and divided by ${STORM_SECONDS} s (they include the ${STORM_USERS.toLocaleString('en')} users coming online and going offline); ` +
          'long tasks are the browser\'s Long Tasks API entries over the storm.',
        figures: [
          figure('presence changes sent', 'count', 'stormSent'),
          figure('presence frames received by the console', 'per s', 'stormReceivedPerSecond', { at_least: STORM_RATE * 0.99 }),
          figure('long tasks over 50 ms', 'count', 'stormLongTasks', { below: 1 }),
          figure('longest task', 'ms', 'stormLongestTask'),
        ],
      },
      {
        title: 'Console: busy lamp field under load',
        about:
          `The operator's console with ${QUEUED_CALLS} calls waiting in a real Asterisk (scripts/asterisk.sh, tests/asterisk/) and a directory of ` +
          `${EXTENSIONS.toLocaleString('en')} extensions (bench users) besides the demo's, each of whose lamps changes once a second for ${LAMP_SECONDS} s ` +
          '(crates/loadgen `bench lamp-storm`: Stasis device states set through ARI); the server gathers lamp changes and sends them 5 times a second. ' +
          'Long tasks are the browser\'s Long Tasks API entries over the storm.',
        figures: [
          figure('lamp changes in Asterisk', 'per s', 'lampChanges'),
          figure('long tasks over 50 ms', 'count', 'lampLongTasks', { below: 1 }),
          figure('longest task', 'ms', 'lampLongestTask'),
        ],
      },
      {
        title: `Console: conversation of ${MESSAGES.toLocaleString('en')} messages`,
        about:
          `bench2 sent bench1 ${MESSAGES.toLocaleString('en')} messages through the server before the runs. ` +
          'Timed from the click on its chat list entry to the painted conversation log showing the newest message.',
        figures: [
          figure('click → conversation painted', 'ms', 'openConversation', { below: 100 }),
          figure('click → newest page asked for', 'ms', 'historyAsked'),
          figure('click → its views drawn (the main thread free again)', 'ms', 'clickHandled'),
          figure('page asked for → page handled (the server, then waiting for the main thread)', 'ms', 'historyAnswered'),
          figure('page arrived → conversation painted', 'ms', 'historyToPaint'),
        ],
      },
      {
        title: `Console: directory delta of ${CHANGED} entries`,
        about:
          `An admin imports the ${ENTRIES.toLocaleString('en')}-entry directory through \`POST /api/admin/directory/import\` with ${CHANGED} titles changed; ` +
          'the server applies it in one transaction and its change feed (every 300 ms) sends one `directory_changed` frame, the same path as the changes an LDAP sync finds. ' +
          'The console shows Bench User 1 (searched by extension); timed in the page from the frame\'s arrival to the first changed row painted, and in the bench from the request to its answer ' +
          `(parsing and comparing all ${ENTRIES.toLocaleString('en')} rows, which an LDAP sync does after its search).`,
        figures: [
          figure('directory_changed arrived → changed row painted', 'ms', 'deltaFrameToPaint', { below: 100 }),
          figure(`import request of ${ENTRIES.toLocaleString('en')} rows → answered`, 'ms', 'importRequest'),
        ],
      },
      {
        title: 'Console: loading and memory',
        about:
          'Usable: from navigation (a reload of the signed-in console) until it is connected and the first directory rows are painted. ' +
          'Memory: after the runs above, after a garbage collection (CDP `Runtime.getHeapUsage`, and the wasm linear memory).',
        figures: [
          figure('navigation → usable, demo company', 'ms', 'usableDemo'),
          limited(`navigation → usable, ${ENTRIES.toLocaleString('en')} entries`, 'ms', 'usableLarge', { below: 250 }),
          figure('JS heap in use', 'MB', 'jsHeapMb'),
          figure('wasm memory', 'MB', 'wasmMemoryMb'),
          { name: 'release wasm, raw', unit: 'kB', runs: [size.raw] },
          { name: 'release wasm, gzipped', unit: 'kB', runs: [size.gzipped], below: 350 },
        ],
      },
    ],
  };
  writeFileSync(OUT, JSON.stringify(results, null, 2));
});
