// Helpers for the remoting tests: wait for a condition instead of sleeping a fixed time, and a
// TCP relay that can cut every connection through it, to lose a connection between two live
// nodes the way a network does.
import {
  platform,
  type TcpConn,
  type TcpListener,
} from "../../src/platform/mod.ts";

/**
 * Polls `condition` until it holds, and fails with `message` after `timeoutMs`.
 *
 * @param condition Checked every few milliseconds.
 * @param message What the failure says.
 * @param timeoutMs How long to wait (default 10 s: generous, for a loaded machine).
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  message: string,
  timeoutMs = 10_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!await condition()) {
    if (Date.now() > until) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for: ${message}`,
      );
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Relays TCP connections from its own port to `target`; {@linkcode TcpRelay.cut} drops them. */
export class TcpRelay implements AsyncDisposable {
  readonly #listener: TcpListener;
  #target: { hostname: string; port: number };
  readonly #conns = new Set<TcpConn>();
  readonly #pipes = new Set<Promise<void>>();
  #accepting: Promise<void>;
  /** How many connections it accepted. */
  accepted = 0;

  private constructor(listener: TcpListener, target: string) {
    this.#listener = listener;
    this.#target = split(target);
    this.#accepting = this.#acceptLoop();
  }

  /** Starts a relay to `target` (`host:port`) on a free loopback port. */
  static async start(target: string): Promise<TcpRelay> {
    return new TcpRelay(
      await platform.listen({ hostname: "127.0.0.1", port: 0 }),
      target,
    );
  }

  /** The relay's own address, `host:port`. */
  get address(): string {
    return `127.0.0.1:${this.#listener.addr.port}`;
  }

  /** Where new connections go from now on. */
  retarget(target: string): void {
    this.#target = split(target);
  }

  /** Closes every connection through the relay (both sides see the connection drop). */
  cut(): void {
    for (const conn of this.#conns) conn.close();
    this.#conns.clear();
  }

  async #acceptLoop(): Promise<void> {
    while (true) {
      let inbound: TcpConn;
      try {
        inbound = await this.#listener.accept();
      } catch {
        return;
      }
      this.accepted++;
      const pipe = this.#relay(inbound);
      this.#pipes.add(pipe);
      void pipe.finally(() => this.#pipes.delete(pipe));
    }
  }

  async #relay(inbound: TcpConn): Promise<void> {
    this.#conns.add(inbound);
    let outbound: TcpConn;
    try {
      outbound = await platform.connect(this.#target);
    } catch {
      inbound.close();
      this.#conns.delete(inbound);
      return;
    }
    this.#conns.add(outbound);
    const close = () => {
      inbound.close();
      outbound.close();
      this.#conns.delete(inbound);
      this.#conns.delete(outbound);
    };
    await Promise.all([
      inbound.readable.pipeTo(outbound.writable).catch(() => {}).finally(
        close,
      ),
      outbound.readable.pipeTo(inbound.writable).catch(() => {}).finally(
        close,
      ),
    ]);
  }

  /** Stops listening and cuts every connection. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    this.cut();
    await this.#accepting;
    await Promise.all([...this.#pipes]);
  }
}

function split(address: string): { hostname: string; port: number } {
  const at = address.lastIndexOf(":");
  return {
    hostname: address.slice(0, at),
    port: Number(address.slice(at + 1)),
  };
}
