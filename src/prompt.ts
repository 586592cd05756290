// The password prompt of the account commands. On a terminal nothing typed is echoed (the
// terminal is in raw mode while the password is read) and the password is asked twice, since a
// typo in a new password would lock the account out; from a pipe, the first line is the password,
// so that scripts can feed it.
import type { ReadStream } from "node:tty";
import { createInterface } from "node:readline/promises";

export class PromptError extends Error {}

export async function askNewPassword(input: NodeJS.ReadStream = process.stdin, output: NodeJS.WritableStream = process.stderr): Promise<string> {
  if (!input.isTTY) return firstLine(input);
  const tty = input as ReadStream;
  // Echo goes off before the first prompt shows and comes back after the second answer: nothing
  // typed early, or between the two, is echoed either.
  tty.setEncoding("utf8");
  tty.setRawMode(true);
  const keys = new Keys(tty);
  try {
    output.write("password: ");
    const first = await keys.line();
    output.write("\npassword (again): ");
    const again = await keys.line();
    output.write("\n");
    if (first !== again) throw new PromptError("the passwords do not match");
    return first;
  } catch (e) {
    output.write("\n");
    throw e;
  } finally {
    keys.close();
    tty.setRawMode(false);
  }
}

async function firstLine(input: NodeJS.ReadableStream): Promise<string> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  throw new PromptError("no password given");
}

const ENTER = new Set(["\r", "\n"]);
const CTRL_C = "\u0003";
const CTRL_D = "\u0004";
const CTRL_U = "\u0015";
const ESC = "\u001b";
const ERASE = new Set(["\u007f", "\b"]);

/**
 * The keys typed on a terminal in raw mode, read a line at a time; what is typed ahead waits
 * for the next line. Enter ends a line, Backspace takes back a character, Ctrl-U the whole line;
 * Ctrl-C (which raises no signal in raw mode) and Ctrl-D on an empty line give up. Escape
 * sequences (arrow keys) and other control characters are ignored.
 */
class Keys {
  private readonly typed: string[] = [];
  private wake: (() => void) | undefined;
  private readonly input: ReadStream;
  private readonly onData = (chunk: string) => {
    // An escape sequence arrives as one chunk: the key, not characters of the password.
    const esc = chunk.indexOf(ESC);
    this.typed.push(...(esc < 0 ? chunk : chunk.slice(0, esc)));
    this.wake?.();
  };

  constructor(input: ReadStream) {
    this.input = input;
    input.on("data", this.onData);
    input.resume();
  }

  async line(): Promise<string> {
    let text: string[] = [];
    for (;;) {
      const ch = this.typed.shift();
      if (ch === undefined) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      if (ENTER.has(ch)) return text.join("");
      if (ch === CTRL_C) throw new PromptError("cancelled");
      if (ch === CTRL_D && text.length === 0) throw new PromptError("no password given");
      if (ERASE.has(ch)) text.pop();
      else if (ch === CTRL_U) text = [];
      else if (ch >= " ") text.push(ch);
    }
  }

  close(): void {
    this.input.off("data", this.onData);
    this.input.pause();
  }
}
