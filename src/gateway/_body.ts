// A PUT's body, read within a size limit and a time limit, and the error
// that carries an HTTP status of the gateway's own.

/** An answer the gateway gives itself, with its status (not an upstream failure). */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * Reads `request`'s body: at most `limit` bytes (else a 413), whole within
 * `timeoutMs` (else a 408); after either, the rest of the body is cancelled.
 */
export async function readBody(
  request: Request,
  limit: number,
  timeoutMs: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > limit) throw new HttpError(413, `Value too large: limit is ${limit} bytes`);
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  // A client that sends part of a body and stalls would hold the request
  // (and its memory) for ever: Deno.serve has no read timeout of its own.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new HttpError(408, `Request body not received within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await readChunks(reader, limit, expired);
  } catch (error) {
    reader.cancel().catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

// Reads no more than the limit, whatever the client declared.
async function readChunks(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  limit: number,
  expired: Promise<never>,
): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await Promise.race([reader.read(), expired]);
    if (done) break;
    size += value.length;
    if (size > limit) throw new HttpError(413, `Value too large: limit is ${limit} bytes`);
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}
