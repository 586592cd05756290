// At most one push per registration per interval: the first event of a quiet registration is
// pushed at once and opens a window; events inside the window are summed, and when it closes
// they go out as one push (count, last sender) that opens the next window. A window that closes
// with nothing in it is forgotten, so idle registrations cost nothing. An urgent event (a call)
// is pushed at once whatever the window, taking along what the window had summed so far.
import type { Summary } from "./notification.ts";

interface Window<T> {
  readonly target: T;
  count: number;
  sender: string;
  body: string | undefined;
  timer: NodeJS.Timeout | undefined;
}

export class Batcher<T> {
  private readonly windows = new Map<string, Window<T>>();
  private readonly intervalMs: number;
  private readonly fire: (target: T, summary: Summary) => void;

  constructor(intervalMs: number, fire: (target: T, summary: Summary) => void) {
    this.intervalMs = intervalMs;
    this.fire = fire;
  }

  /** `count` new events for `key`, the last from `sender`. */
  add(key: string, target: T, count: number, sender: string, body: string | undefined): void {
    const open = this.windows.get(key);
    if (open) {
      open.count += count;
      open.sender = sender;
      open.body = body;
      return;
    }
    this.open(key, target);
    this.fire(target, { count, sender, body });
  }

  /** An urgent event for `key`: pushed now, marked high priority, with the events the open window held (which it empties). */
  urgent(key: string, target: T, count: number, sender: string, body: string | undefined): void {
    const open = this.windows.get(key);
    let held = 0;
    if (open) {
      held = open.count;
      open.count = 0;
    } else this.open(key, target);
    this.fire(target, { count: held + count, sender, body, priority: "high" });
  }

  /** Forgets a registration (disabled): nothing pending for it goes out. */
  drop(key: string): void {
    clearTimeout(this.windows.get(key)?.timer);
    this.windows.delete(key);
  }

  clear(): void {
    for (const w of this.windows.values()) clearTimeout(w.timer);
    this.windows.clear();
  }

  get size(): number {
    return this.windows.size;
  }

  private open(key: string, target: T): void {
    const w: Window<T> = { target, count: 0, sender: "", body: undefined, timer: undefined };
    w.timer = setTimeout(() => this.close(key, w), this.intervalMs);
    w.timer.unref();
    this.windows.set(key, w);
  }

  private close(key: string, w: Window<T>): void {
    if (this.windows.get(key) !== w) return;
    this.windows.delete(key);
    if (w.count > 0) this.add(key, w.target, w.count, w.sender, w.body);
  }
}
