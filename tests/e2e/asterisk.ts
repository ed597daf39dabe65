// The PBX of the Asterisk spec: the build of scripts/asterisk.sh with the test dialplan of
// tests/asterisk/ in a temp dir, its own process on 127.0.0.1; callers are Local channels
// originated through ARI, like crates/loadgen/src/asterisk.rs does for the Rust tests.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './server';

const USER = 'switchboard';
/** The ARI password of the test configuration, as crates/loadgen/src/asterisk.rs has it (`bench
 * lamp-storm` signs in with it). */
const PASSWORD = 'test-ari-secret';

export class Asterisk {
  readonly dir = mkdtempSync(join(tmpdir(), 'switchboard-asterisk-'));
  private child?: ChildProcess;

  private constructor(
    readonly port: number,
    private readonly prefix: string,
  ) {}

  static async launch(): Promise<Asterisk> {
    const prefix = execFileSync(resolve('scripts/asterisk.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    const asterisk = new Asterisk(await freePort(), prefix);
    for (const sub of ['run', 'log', 'spool', 'lib']) mkdirSync(join(asterisk.dir, sub));
    for (const file of readdirSync(resolve('tests/asterisk'))) {
      const text = readFileSync(resolve('tests/asterisk', file), 'utf8')
        .replaceAll('@PREFIX@', prefix)
        .replaceAll('@CONF@', asterisk.dir)
        .replaceAll('@PORT@', String(asterisk.port))
        .replaceAll('@PASSWORD@', PASSWORD);
      writeFileSync(join(asterisk.dir, file), text);
    }
    writeFileSync(join(asterisk.dir, 'password'), PASSWORD);
    await asterisk.start();
    return asterisk;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** `[pbx.asterisk]` for the server: the operator's telephone answers at once; `device` is
   * the device behind each extension's lamp. */
  config(device = 'Local/{extension}@internal'): string {
    const path = join(this.dir, 'switchboard.toml');
    writeFileSync(
      path,
      [
        '[pbx.asterisk]',
        `url = "${this.url}"`,
        `user = "${USER}"`,
        `password_file = "${join(this.dir, 'password')}"`,
        'context = "internal"',
        `device = "${device}"`,
        '[pbx.asterisk.operators]',
        'operator = "Local/200@operators"',
      ].join('\n'),
    );
    return path;
  }

  async start(): Promise<void> {
    this.child = spawn(join(this.prefix, 'sbin/asterisk'), ['-C', join(this.dir, 'asterisk.conf'), '-f', '-n'], {
      cwd: this.dir,
      stdio: 'ignore',
    });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        if ((await this.ari('GET', '/asterisk/info')).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('Asterisk did not answer ARI within 60 s');
  }

  /** Kills Asterisk (SIGKILL): every call on it is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  private ari(method: string, path: string): Promise<Response> {
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    return fetch(`${this.url}/ari${path}`, { method, headers: { authorization: `Basic ${auth}` } });
  }

  /** A caller (`"Jane Doe <5550100>"`) dials company line `dialled`; returns their end's id. */
  async call(dialled: string, callerId: string): Promise<string> {
    const query = new URLSearchParams({
      endpoint: `Local/${dialled}@company`,
      context: 'callers',
      extension: 'talk',
      callerId,
    });
    const response = await this.ari('POST', `/channels?${query}`);
    if (!response.ok) throw new Error(`originate: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { id: string }).id;
  }

  /** The caller puts the phone down. */
  async hangUp(channel: string): Promise<void> {
    await this.ari('DELETE', `/channels/${channel}`);
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
