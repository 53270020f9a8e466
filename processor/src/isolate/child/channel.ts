import net from 'node:net';
import { FrameDecoder, encodeFrame } from '../frames.ts';
import type { ChildMessage, ParentMessage } from '../protocol.ts';

/** The parent writes module sources here, so the limit is generous; it is a sanity bound. */
const MAX_INBOUND_FRAME_BYTES = 512 * 1024 * 1024;

/** The child's end of the framed pipe the parent opened as fd 3. */
export class Channel {
  private readonly socket: net.Socket;
  private readonly decoder = new FrameDecoder(MAX_INBOUND_FRAME_BYTES);

  constructor(fd: number, onMessage: (message: ParentMessage) => void, onClose: () => void) {
    this.socket = new net.Socket({ fd, readable: true, writable: true });
    this.socket.on('data', (chunk: Buffer) => {
      for (const message of this.decoder.push(chunk)) onMessage(message as ParentMessage);
    });
    // The parent closing the pipe (or dying) is the signal to go: no orphaned parse processes.
    this.socket.on('end', onClose);
    this.socket.on('close', onClose);
    this.socket.on('error', onClose);
  }

  send(message: ChildMessage): void {
    this.socket.write(encodeFrame(message));
  }
}
