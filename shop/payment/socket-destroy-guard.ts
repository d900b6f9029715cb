/**
 * A repair for alipay-sdk's HTTP client. urllib 4 replaces `net.Socket.prototype.destroy`, for
 * every socket of the process, with one that tags the error with the socket as a read-only
 * property. undici destroys all connections of a pool with one shared error, so the second
 * socket's tag throws "Cannot redefine property: Symbol(socket of error)" — an unhandled rejection
 * each time a pool with two connections closes or fails (alipay/alipay-sdk-nodejs-all#146, open).
 *
 * Import this module before `alipay-sdk` (it remembers Node's own `destroy` when it is evaluated)
 * and call `repairSocketDestroy()` after: an error that already carries a socket is then destroyed
 * by Node's own method, which is what urllib would have done after tagging it.
 */
import { Socket } from 'node:net';

type Destroy = (this: Socket, error?: Error) => Socket;

const nodeDestroy: Destroy = Socket.prototype.destroy;
const repaired = new WeakSet<Destroy>();

/** urllib's tag, found by its description: its CommonJS and ESM builds each make their own symbol. */
function carriesSocket(error: Error): boolean {
  return Object.getOwnPropertySymbols(error).some((symbol) => symbol.description === 'socket of error');
}

/** Wraps whatever replaced `Socket.prototype.destroy` since this module was evaluated; idempotent. */
export function repairSocketDestroy(): void {
  const current: Destroy = Socket.prototype.destroy;
  if (current === nodeDestroy || repaired.has(current)) return;
  const guarded: Destroy = function (this: Socket, error?: Error): Socket {
    if (error !== null && typeof error === 'object' && carriesSocket(error)) return nodeDestroy.call(this, error);
    return current.call(this, error);
  };
  repaired.add(guarded);
  Socket.prototype.destroy = guarded;
}
