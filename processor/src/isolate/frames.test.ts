import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameError, encodeFrame } from './frames.ts';

describe('frames', () => {
  it('decodes messages split across chunks and several messages in one chunk', () => {
    const wire = Buffer.concat([encodeFrame({ a: 1 }), encodeFrame({ b: 'ü'.repeat(1000) }), encodeFrame([3])]);
    const decoder = new FrameDecoder(1 << 20);
    const messages: unknown[] = [];
    for (let at = 0; at < wire.length; at += 7) messages.push(...decoder.push(wire.subarray(at, at + 7)));
    expect(messages).toEqual([{ a: 1 }, { b: 'ü'.repeat(1000) }, [3]]);
  });

  it('refuses a frame larger than the limit from its header, before buffering it', () => {
    const decoder = new FrameDecoder(16);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1_000_000_000, 0);
    expect(() => decoder.push(header)).toThrow(FrameError);
  });

  it('refuses a frame that is not JSON', () => {
    const body = Buffer.from('{oops');
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length, 0);
    expect(() => new FrameDecoder(100).push(Buffer.concat([header, body]))).toThrow('frame is not valid JSON');
  });
});
