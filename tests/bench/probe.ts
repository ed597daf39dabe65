// Runs in the page before the console (page.addInitScript): times what the operator sees,
// with the browser's own clock, from an input (or a frame off the socket) to the next paint.
// It must stay self-contained: Playwright sends its source text to the page.

export interface Probe {
  /** When the first and the last page of the directory snapshot came off the socket (ms
   * since navigation). */
  snapshotAt?: number;
  lastPageAt?: number;
  /** When the first directory rows after it had been painted. */
  rowsPaintedAt?: number;
  /** `presence` frames received. */
  presenceFrames: number;
  /** Set by the bench: a text a `directory_changed` frame will make a directory row show. */
  deltaText?: string;
  /** When the last `directory_changed` frame came off the socket, and when a row showing
   * `deltaText` was painted after it. */
  deltaAt?: number;
  deltaPaintedAt?: number;
  /** When the console first asked for a page of chat history since the last timed input, and
   * when that page was handled off the socket (a message event waits for the main thread). */
  historyAskedAt?: number;
  historyAt?: number;
  /** When the console had handled the last click (its listeners and the microtasks they
   * queued: the views the click changed are drawn into the document by then). */
  clickHandledAt?: number;
  /** The console's wasm memory, once trunk has started it. */
  wasmMemory?: WebAssembly.Memory;
  /** Long tasks (> 50 ms) seen while `watchLongTasks` ran: their durations. */
  longTasks: number[];
  /** Intervals between animation frames while `watchFrames` ran. */
  frames: number[];
  /** Starts timing at the next mouse button or key press; `result` resolves when `check`
   * holds and the frame that shows it has been painted: `painted` is the time until then,
   * `work` until the console had handled the `input` event of a key press and the browser
   * had laid out its result (NaN for a click). */
  arm(check: 'nextFrame' | 'logHas', argument?: string): void;
  result(): Promise<{ work: number; painted: number; started: number }>;
  /** Records long tasks, or animation frame intervals, until `stop`. */
  watch(what: 'longTasks' | 'frames'): void;
  stop(): void;
}

export function probe() {
  const probe = {
    presenceFrames: 0,
    longTasks: [] as number[],
    frames: [] as number[],
  } as unknown as Probe;
  (window as unknown as { probe: Probe }).probe = probe;

  // Calls `done` once the current task is over: from an animation frame callback, once the
  // frame being prepared has been painted.
  const afterThisFrame = (done: () => void) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => done();
    channel.port2.postMessage(0);
  };
  const rowsShown = () => !!document.querySelector('[aria-label="Directory entries"] [role="listitem"]');
  const untilPainted = (check: () => boolean, done: (at: number) => void) => {
    requestAnimationFrame(() => {
      if (check()) afterThisFrame(() => done(performance.now()));
      else untilPainted(check, done);
    });
  };

  const Native = window.WebSocket;
  class ProbedSocket extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener('message', (event: MessageEvent) => {
        if (typeof event.data !== 'string') return;
        if (event.data.startsWith('{"type":"presence",')) probe.presenceFrames += 1;
        else if (event.data.startsWith('{"type":"history_page"')) probe.historyAt ??= performance.now();
        else if (event.data.startsWith('{"type":"directory_changed"') && probe.deltaText !== undefined) {
          const text = probe.deltaText;
          probe.deltaAt = performance.now();
          probe.deltaPaintedAt = undefined;
          const shown = () =>
            [...document.querySelectorAll('[aria-label="Directory entries"] [role="listitem"]')].some((row) =>
              row.textContent?.includes(text),
            );
          untilPainted(shown, (at) => (probe.deltaPaintedAt = at));
        }
        else if (event.data.startsWith('{"type":"directory_snapshot"') && probe.rowsPaintedAt === undefined) {
          probe.lastPageAt = performance.now();
          if (probe.snapshotAt !== undefined) return;
          probe.snapshotAt = probe.lastPageAt;
          untilPainted(rowsShown, (at) => (probe.rowsPaintedAt = at));
        }
      });
    }
  }
  const send = Native.prototype.send;
  ProbedSocket.prototype.send = function (data) {
    if (typeof data === 'string' && data.startsWith('{"type":"history"')) probe.historyAskedAt ??= performance.now();
    send.call(this, data);
  };
  window.WebSocket = ProbedSocket;
  addEventListener('TrunkApplicationStarted', (event) => {
    probe.wasmMemory = (event as CustomEvent).detail.wasm.memory;
  });

  type Timing = { work: number; painted: number; started: number };
  let armed: { check: () => boolean; started?: number; work?: number; done?: (t: Timing) => void; timing?: Timing } | undefined;
  const checks = {
    nextFrame: () => () => true,
    logHas: (text?: string) => () =>
      [...document.querySelectorAll('[role="log"]')].some((log) => log.textContent?.includes(text ?? '')),
  };
  probe.arm = (check, argument) => {
    armed = { check: checks[check](argument) };
  };
  const start = () => {
    const measuring = armed;
    if (!measuring || measuring.started !== undefined) return;
    measuring.started = performance.now();
    probe.historyAskedAt = probe.historyAt = undefined;
    untilPainted(measuring.check, (at) => {
      measuring.timing = { work: measuring.work ?? NaN, painted: at - measuring.started!, started: measuring.started! };
      measuring.done?.(measuring.timing);
    });
  };
  addEventListener('keydown', start, { capture: true });
  // On the window, bubbling: after the console's own listener on the field and the
  // microtasks it queued (its reactive updates).
  addEventListener('input', () => {
    if (armed?.started === undefined || armed.work !== undefined) return;
    void document.body.offsetHeight; // the layout the next frame would do
    armed.work = performance.now() - armed.started;
  });
  addEventListener('mousedown', start, { capture: true });
  // On the window, bubbling: after the console's listeners; the message comes after their
  // microtasks.
  addEventListener('click', () => afterThisFrame(() => (probe.clickHandledAt = performance.now())));
  probe.result = () =>
    new Promise((resolve) => {
      const measuring = armed!;
      if (measuring.timing !== undefined) resolve(measuring.timing);
      else measuring.done = resolve;
    });

  const stoppers: (() => void)[] = [];
  probe.watch = (what) => {
    if (what === 'longTasks') {
      const observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) probe.longTasks.push(entry.duration);
      });
      observer.observe({ type: 'longtask' });
      stoppers.push(() => observer.disconnect());
      return;
    }
    let running = true;
    let last = 0;
    const tick = (now: number) => {
      probe.frames.push(now - last);
      last = now;
      if (running) requestAnimationFrame(tick);
    };
    requestAnimationFrame((now) => {
      last = now;
      requestAnimationFrame(tick);
    });
    stoppers.push(() => (running = false));
  };
  probe.stop = () => stoppers.splice(0).forEach((stop) => stop());
}
