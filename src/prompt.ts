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
  const first = await readHidden(tty, output, "password: ");
  const again = await readHidden(tty, output, "password (again): ");
  if (first !== again) throw new PromptError("the passwords do not match");
  return first;
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
 * One line typed on a terminal, not echoed. Enter ends it, Backspace takes back a character,
 * Ctrl-U the whole line; Ctrl-C (which raises no signal in raw mode) and Ctrl-D on an empty line
 * give up. Escape sequences (arrow keys) and other control characters are ignored.
 */
function readHidden(input: ReadStream, output: NodeJS.WritableStream, prompt: string): Promise<string> {
  output.write(prompt);
  return new Promise((resolve, reject) => {
    let text: string[] = [];
    const finish = (error?: PromptError) => {
      input.off("data", onData);
      input.setRawMode(false);
      input.pause();
      output.write("\n");
      if (error) reject(error);
      else resolve(text.join(""));
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ENTER.has(ch)) return finish();
        if (ch === CTRL_C) return finish(new PromptError("cancelled"));
        if (ch === CTRL_D && text.length === 0) return finish(new PromptError("no password given"));
        if (ch === ESC) return; // the rest of the chunk is the sequence
        if (ERASE.has(ch)) text.pop();
        else if (ch === CTRL_U) text = [];
        else if (ch >= " ") text.push(ch);
      }
    };
    input.setEncoding("utf8");
    input.setRawMode(true);
    input.on("data", onData);
    input.resume();
  });
}
