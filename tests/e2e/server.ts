// Starts a real switchboard-server for a spec: demo company, a temp database, a free port on 127.0.0.1.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Locator, Page, expect } from '@playwright/test';

const BIN = process.env.SWITCHBOARD_SERVER_BIN;

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? ok(address.port) : fail(new Error('no port'))));
    });
  });
}

/** One server process; `stop` and `start` again keep its port and its database. */
export class TestServer {
  private child?: ChildProcess;
  private readonly dataDir = mkdtempSync(join(tmpdir(), 'switchboard-e2e-'));
  private log = '';

  private constructor(
    readonly port: number,
    private readonly args: string[],
    private readonly env: Record<string, string>,
  ) {}

  /** `env` adds environment variables, e.g. SWITCHBOARD_INGEST_TOKEN (never a flag). */
  static async launch(args: string[] = [], env: Record<string, string> = {}): Promise<TestServer> {
    if (!BIN) throw new Error('SWITCHBOARD_SERVER_BIN is not set: run the tests with `make e2e`');
    const server = new TestServer(await freePort(), args, env);
    await server.start();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  async start(): Promise<void> {
    this.child = spawn(
      BIN!,
      [
        '--demo',
        '--listen', `127.0.0.1:${this.port}`,
        '--data-dir', this.dataDir,
        '--static-dir', resolve('dist'),
        ...this.args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.env, RUST_LOG: 'warn' } },
    );
    const remember = (chunk: Buffer) => (this.log = (this.log + chunk.toString()).slice(-20_000));
    this.child.stdout!.on('data', remember);
    this.child.stderr!.on('data', remember);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`server exited early:\n${this.log}`);
      try {
        if ((await fetch(`${this.url}healthz`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`server not ready within 30 s:\n${this.log}`);
  }

  /** Stops the process (SIGTERM: graceful; SIGKILL: a crash) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    // Exited already, by itself or by a signal (a SIGKILL earlier in the spec).
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  /** Runs a `switchboard-server` command (e.g. `directory import FILE`) on this server's
   * database, as an administrator would beside the running server; returns its output. */
  command(args: string[]): string {
    return execFileSync(BIN!, ['--data-dir', this.dataDir, ...args], { encoding: 'utf8' });
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Signs in through the console's form and waits until the console is connected. */
export async function signIn(page: Page, server: TestServer, username: string, password = username) {
  await page.goto(server.url);
  await page.getByRole('textbox', { name: 'Username' }).fill(username);
  // A password input has no ARIA role; its label is its name.
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('status')).toHaveText('Connected');
}

/** Calls `server`'s token-protected ingest API, as a telephone system would, and checks the status. */
export async function ingest(
  server: TestServer,
  token: string,
  method: 'GET' | 'POST',
  path: string,
  body?: object,
  status = method === 'GET' ? 200 : 201,
) {
  const response = await fetch(`${server.url}api/${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status, `${method} /api/${path}`).toBe(status);
  return response.json();
}

/** A user's id, as `server` reports it on sign-in (no WebSocket: presence stays as it is). */
export async function userId(server: TestServer, username: string): Promise<number> {
  const response = await fetch(`${server.url}api/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password: username }),
  });
  expect(response.status).toBe(200);
  return (await response.json()).user.id;
}

/** Follows the console toolbar's "Administration" link (admins only; it opens a tab of its
 * own, /admin/) in `page` itself, and returns the Administration view. */
export async function openAdministration(page: Page): Promise<Locator> {
  const link = page.getByRole('toolbar', { name: 'Console toolbar' }).getByRole('link', { name: 'Administration' });
  await expect(link).toHaveAttribute('href', '/admin/');
  await page.goto(new URL('/admin/', page.url()).href);
  const view = page.getByRole('region', { name: 'Administration' });
  await expect(view).toBeVisible();
  return view;
}
