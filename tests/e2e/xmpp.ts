// The XMPP side of the federation spec: Debian's Prosody as tests/xmpp/prosody.py runs it, and
// XMPP users in a standard client library (tests/xmpp/scripted_client.py), driven by JSON lines.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort } from './server';

/** Debian's Python, which sees Debian's python3-slixmpp. */
const PYTHON = '/usr/bin/python3';
export const HOST = 'localhost';
export const COMPONENT = 'switchboard.localhost';

function listening(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), ok(true)));
    socket.once('error', () => ok(false));
  });
}

/** A throwaway Prosody; `stop` (SIGKILL) and `start` again keep its ports and data. */
export class Prosody {
  readonly dir = mkdtempSync(join(tmpdir(), 'switchboard-prosody-'));
  private child?: ChildProcess;

  private constructor(
    readonly c2sPort: number,
    readonly componentPort: number,
  ) {}

  static async launch(users: string[]): Promise<Prosody> {
    const prosody = new Prosody(await freePort(), await freePort());
    await prosody.start(users);
    return prosody;
  }

  async start(users: string[] = []): Promise<void> {
    this.child = spawn(PYTHON, [
      'tests/xmpp/prosody.py', '--dir', this.dir, '--c2s-port', String(this.c2sPort),
      '--component-port', String(this.componentPort), '--users', users.join(','),
    ], { stdio: 'ignore' });
    const deadline = Date.now() + 15_000;
    for (const port of [this.c2sPort, this.componentPort]) {
      while (!(await listening(port))) {
        if (Date.now() > deadline) throw new Error(`Prosody did not listen on ${port} within 15 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** The `[xmpp]` section of a Switchboard config file linking to this Prosody. */
  get configSection(): string {
    return `[xmpp]\ndomain = "${COMPONENT}"\nserver = "127.0.0.1:${this.componentPort}"\n` +
      `secret_file = "${join(this.dir, 'secret')}"\n`;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** An event of the scripted client (see tests/xmpp/scripted_client.py). */
export type XmppEvent = {
  event: string;
  from?: string;
  type?: string;
  id?: string | null;
  origin_id?: string | null;
  body?: string | null;
  received?: string | null;
  displayed?: string | null;
};

/** An XMPP user signed in to `prosody` (password = name), who approves subscriptions. */
export class XmppUser {
  private readonly events: XmppEvent[] = [];
  private waiting?: () => void;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.events.push(JSON.parse(line));
      this.waiting?.();
    });
  }

  static async signIn(prosody: Prosody, name: string): Promise<XmppUser> {
    const child = spawn(PYTHON, [
      'tests/xmpp/scripted_client.py', '--jid', `${name}@${HOST}`, '--password', name,
      '--server', `127.0.0.1:${prosody.c2sPort}`,
    ], { stdio: ['pipe', 'pipe', 'inherit'] });
    const user = new XmppUser(child);
    await user.next((e) => e.event === 'online');
    return user;
  }

  private command(command: object) {
    this.child.stdin!.write(JSON.stringify(command) + '\n');
  }

  say(to: string, id: string, body: string) {
    this.command({ say: { to, id, body } });
  }

  presence(show: string | null) {
    this.command({ presence: { show } });
  }

  /** The first event (received so far or to come, within `ms`) that `wanted` takes; it and
   * everything before it are consumed. */
  async next(wanted: (event: XmppEvent) => boolean, ms = 15_000): Promise<XmppEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const index = this.events.findIndex(wanted);
      if (index >= 0) return this.events.splice(0, index + 1)[index];
      if (Date.now() > deadline) {
        throw new Error(`no wanted XMPP event within ${ms} ms; got ${JSON.stringify(this.events)}`);
      }
      await new Promise<void>((r) => {
        this.waiting = r;
        setTimeout(r, 100);
      });
    }
  }

  /** Every message received so far (not consumed). */
  messages(): XmppEvent[] {
    return this.events.filter((e) => e.event === 'message');
  }

  /** Signs out (killed after 5 s if it does not end by itself). */
  async quit(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.command({ quit: true });
    const late = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(late);
  }
}
