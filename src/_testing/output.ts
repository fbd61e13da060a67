// What the etcd helpers keep of a child's output: all of it in a log file,
// and the last few KiB in memory for error messages.

// Copies stdout and stderr into the log until etcd closes them, so that the
// pipes never fill up and block etcd; keeps the tail for error messages.
export async function drain(
  child: Deno.ChildProcess,
  log: Deno.FsFile,
  tail: OutputTail,
): Promise<void> {
  const writer = log.writable.getWriter();
  const copy = async (stream: ReadableStream<Uint8Array>): Promise<void> => {
    for await (const chunk of stream) {
      tail.push(chunk);
      // A failed write (disk full) must not stop the draining.
      await writer.write(chunk).catch(() => {});
    }
  };
  try {
    await Promise.all([copy(child.stdout), copy(child.stderr)]);
  } finally {
    await writer.close().catch(() => {});
  }
}

export class OutputTail {
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    while (this.#bytes - this.#chunks[0].length >= this.#max) {
      this.#bytes -= this.#chunks.shift()!.length;
    }
  }

  toString(): string {
    const text = new TextDecoder().decode(concat(this.#chunks));
    return text.slice(-this.#max);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
