/**
 * Serializes control messages: each request is answered before the next one
 * is handled, in arrival order, so the lifecycle state machine never sees two
 * status changes at once. Nothing here blocks: handlers are asynchronous.
 */
import type { ControlMessageHandler } from '../shared/transport.js';

export class MessagePump {
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly handler: ControlMessageHandler,
    private readonly reply: (response: Uint8Array) => void,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  push(request: Uint8Array): void {
    this.tail = this.tail.then(async () => {
      try {
        this.reply(await this.handler(request));
      } catch (err) {
        this.onError(err);
      }
    });
  }

  /** Resolves once every pushed request has been answered. */
  idle(): Promise<void> {
    return this.tail;
  }
}
