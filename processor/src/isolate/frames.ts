/**
 * Length-prefixed JSON frames: a 4-byte big-endian byte count, then that many bytes of UTF-8
 * JSON. Used on the pipe between the processor and a parse process in both directions. Node's
 * own IPC channel buffers a message of any size before it parses it; a DAG file that escapes
 * its vm context could write one enormous message and exhaust the processor's memory. Here the
 * reader learns a frame's size from its header and refuses it before buffering it.
 */

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** The body size announced by the header just read, while its body is incomplete. */
  private bodyBytes: number | null = null;

  constructor(private readonly maxFrameBytes: number) {}

  /** The messages completed by this chunk, in order. Throws FrameError on a malformed stream. */
  push(chunk: Buffer): unknown[] {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    const messages: unknown[] = [];
    for (;;) {
      if (this.bodyBytes === null) {
        if (this.bufferedBytes < 4) break;
        const size = this.take(4).readUInt32BE(0);
        if (size > this.maxFrameBytes) {
          throw new FrameError(`frame of ${size} bytes exceeds the ${this.maxFrameBytes}-byte limit`);
        }
        this.bodyBytes = size;
      }
      if (this.bufferedBytes < this.bodyBytes) break;
      const body = this.take(this.bodyBytes).toString('utf8');
      this.bodyBytes = null;
      try {
        messages.push(JSON.parse(body));
      } catch {
        throw new FrameError('frame is not valid JSON');
      }
    }
    return messages;
  }

  /** Removes and returns the first `n` buffered bytes; joins chunks only once they are all here. */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks, this.bufferedBytes);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.bufferedBytes -= n;
    return out;
  }
}
