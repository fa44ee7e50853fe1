import {
  Core,
  deliver,
  type DeviceMessage,
  disconnect,
  link,
  type Receiver,
  unlink,
  watchersOf,
} from "./_core.ts";
import type { DeviceId } from "./device_id.ts";
import { DeviceDisconnectedError } from "./errors.ts";
import { DROPPED, type Fault } from "./fault.ts";
import { type Crash, runManaged } from "./manage.ts";
import type { Result } from "./result.ts";

/**
 * How two devices are linked.
 *
 * - `Monitor`: this device is told when the other disconnects.
 * - `Notify`: the other device is told when this one disconnects.
 * - `Peer`: both (`Monitor | Notify`).
 *
 * Modes add up: linking `Monitor` and then `Notify` is the same as `Peer`, and unlinking
 * `Monitor` from a `Peer` link leaves `Notify`.
 */
export const LinkMode: {
  readonly Monitor: 1;
  readonly Notify: 2;
  readonly Peer: 3;
} = Object.freeze({ Monitor: 1, Notify: 2, Peer: 3 } as const);
/** A value of {@linkcode LinkMode}. */
export type LinkMode = typeof LinkMode[keyof typeof LinkMode];

/** Options for {@linkcode Device}. */
export interface DeviceOptions {
  /**
   * Receives every backplane message synchronously, instead of queueing it for
   * {@linkcode Device.receive}. It runs inside whatever call caused the message (often another
   * device's `disconnect()`), so it must be quick and must not throw: if it throws, the
   * disconnect that delivered the message still notifies everyone else and then rethrows the
   * first such error. A `disconnect()` it makes (to follow a fault, say) does not nest: its
   * notices are queued and delivered, in order, before the outermost `disconnect()` returns,
   * so a cascade through any number of devices runs in constant stack.
   */
  readonly onMessage?: (message: DeviceMessage) => void;
}

// Set in Line's static block: lets Device read a line's core without exposing it.
let coreOfLine: (line: Line) => Core;

/**
 * A cloneable, non-owning reference to a {@linkcode Device}: it can link and unlink the device
 * and ask it to shut down, but cannot disconnect it or read its messages. A line may outlive its
 * device; using it then is not an error (see {@linkcode Line.linkLine}).
 *
 * @example Usage
 * ```ts
 * import { Device, LinkMode } from "@troupe/troupe";
 * using watcher = new Device();
 * const worker = new Device();
 * const line = worker.line;
 * watcher.linkLine(line, LinkMode.Monitor);
 * worker.disconnect();
 * console.log(watcher.tryReceive()?.kind); // "disconnected"
 * ```
 */
export class Line {
  #core: Core;

  /** @internal Lines are obtained from {@linkcode Device.line}. */
  constructor(core: unknown) {
    if (!(core instanceof Core)) {
      throw new TypeError("Cannot construct a Line: use device.line");
    }
    this.#core = core;
  }

  /** The id of the device this line refers to. */
  get id(): DeviceId {
    return this.#core.id;
  }

  /** Whether the device is still connected. */
  get connected(): boolean {
    return this.#core.connected;
  }

  /** The fault the device disconnected with (`undefined` while connected or after a clean exit). */
  get fault(): Fault | undefined {
    return this.#core.fault;
  }

  /** Returns this line: lines are immutable, so a clone is the same reference. */
  clone(): Line {
    return this;
  }

  /**
   * Links this line's device with another line's device.
   *
   * When either device is already gone, whoever the link says should be told is told at once
   * (a `Disconnected` message with the gone device's fault), as Erlang does.
   *
   * @param other The line to link to.
   * @param mode How to link, from this line's side.
   * @throws {TypeError} When both lines refer to the same device or `mode` is not a link mode.
   */
  linkLine(other: Line, mode: LinkMode): void {
    link(this.#core, coreOfLine(other), mode);
  }

  /**
   * Removes the given link mode between the two devices. Unlinking what is not linked is a no-op.
   *
   * @param other The line to unlink from.
   * @param mode Which direction(s) to remove.
   * @throws {TypeError} When `mode` is not a link mode.
   */
  unlinkLine(other: Line, mode: LinkMode): void {
    unlink(this.#core, coreOfLine(other), mode);
  }

  /**
   * Asks the device to shut down by sending it a `Shutdown` message. A managed device
   * disconnects cleanly on it; others decide for themselves.
   *
   * @param requester Who asks (the id travels in the message).
   * @returns `false` when the device is already gone.
   */
  requestShutdown(requester: DeviceId): boolean {
    if (!this.#core.connected) return false;
    const error = deliver(this.#core, { kind: "shutdown", id: requester });
    if (error !== undefined) throw error;
    return true;
  }

  static {
    coreOfLine = (line) => line.#core;
  }
}

/**
 * An owned presence on the backplane. Other devices link to it and are told when it
 * disconnects; it is told when the devices it monitors disconnect.
 *
 * A device disconnects when its owner calls {@linkcode Device.disconnect}, or when it is
 * dropped: JavaScript has no destructors, so dropping is explicit: `[Symbol.dispose]()` (or
 * leaving a `using` block) disconnects a still-connected device with the `dropped` fault. A
 * device that is merely forgotten is never disconnected; its watchers wait forever.
 *
 * Messages are queued until read with {@linkcode Device.receive}, {@linkcode Device.tryReceive}
 * or `for await`, unless {@linkcode DeviceOptions.onMessage} takes them as they arrive.
 *
 * @example Usage
 * ```ts
 * import { Device, errorFault, LinkMode } from "@troupe/troupe";
 * using supervisor = new Device();
 * const worker = new Device();
 * supervisor.link(worker, LinkMode.Monitor);
 * worker.disconnect(errorFault("out of memory"));
 * const message = await supervisor.receive();
 * console.log(message?.kind, message?.id === worker.id); // "disconnected" true
 * ```
 */
export class Device implements Disposable, AsyncIterable<DeviceMessage> {
  #core: Core;

  /**
   * Creates a connected device.
   *
   * @param options See {@linkcode DeviceOptions}.
   */
  constructor(options?: DeviceOptions) {
    const onMessage = options?.onMessage;
    if (onMessage !== undefined && typeof onMessage !== "function") {
      throw new TypeError("Cannot create device: onMessage must be a function");
    }
    this.#core = new Core((onMessage as Receiver | undefined) ?? null);
  }

  /** This device's id, unique for the life of the process. */
  get id(): DeviceId {
    return this.#core.id;
  }

  /** A non-owning reference to this device (the same object every time). */
  get line(): Line {
    const core = this.#core;
    return (core.line ??= new Line(core)) as Line;
  }

  /** Whether the device is still connected. */
  get connected(): boolean {
    return this.#core.connected;
  }

  /** The fault the device disconnected with (`undefined` while connected or after a clean exit). */
  get fault(): Fault | undefined {
    return this.#core.fault;
  }

  /**
   * Aborts when the device disconnects, with a {@linkcode DeviceDisconnectedError} (carrying
   * the fault) as its reason, so ordinary async code can follow the device's life.
   */
  get signal(): AbortSignal {
    const core = this.#core;
    if (core.controller === null) {
      core.controller = new AbortController();
      if (!core.connected) {
        core.controller.abort(
          new DeviceDisconnectedError(
            core.id,
            core.fault,
            "continue work of device",
          ),
        );
      }
    }
    return core.controller.signal;
  }

  /**
   * Links this device with another. See {@linkcode LinkMode}. Linking twice is idempotent:
   * the other device is told at most once.
   *
   * @param other The device to link to.
   * @param mode How to link, from this device's side.
   * @throws {TypeError} When `other` is this device or `mode` is not a link mode.
   * @throws {DeviceDisconnectedError} When this device is disconnected.
   */
  link(other: Device, mode: LinkMode): void {
    this.#checkConnected("link device");
    link(this.#core, other.#core, mode);
  }

  /**
   * Removes the given link mode between this device and another. A no-op when not linked.
   *
   * @param other The device to unlink from.
   * @param mode Which direction(s) to remove.
   * @throws {TypeError} When `mode` is not a link mode.
   */
  unlink(other: Device, mode: LinkMode): void {
    unlink(this.#core, other.#core, mode);
  }

  /**
   * Links this device with the device behind a line. When that device is already gone and
   * the mode includes `Monitor`, a `Disconnected` message arrives at once.
   *
   * @param line The line to link to.
   * @param mode How to link, from this device's side.
   * @throws {TypeError} When the line is this device's own or `mode` is not a link mode.
   * @throws {DeviceDisconnectedError} When this device is disconnected.
   */
  linkLine(line: Line, mode: LinkMode): void {
    this.#checkConnected("link device");
    link(this.#core, coreOfLine(line), mode);
  }

  /**
   * Removes the given link mode between this device and the device behind a line.
   *
   * @param line The line to unlink from.
   * @param mode Which direction(s) to remove.
   * @throws {TypeError} When `mode` is not a link mode.
   */
  unlinkLine(line: Line, mode: LinkMode): void {
    unlink(this.#core, coreOfLine(line), mode);
  }

  /**
   * The devices that will be told when this one disconnects, for diagnostics.
   *
   * @returns Their ids, in no particular order; empty once this device has disconnected.
   */
  watchers(): DeviceId[] {
    return watchersOf(this.#core).map((core) => core.id);
  }

  /**
   * Disconnects the device: every device linked to be told receives
   * `Disconnected(this.id, fault)` before this returns, pending and queued messages are
   * discarded, a pending {@linkcode Device.receive} resolves `undefined`, and
   * {@linkcode Device.signal} aborts. A second call is a no-op.
   *
   * Called while notices are being delivered (from an `onMessage` receiver, or from managed
   * work's cascade), the device disconnects at once but its own notices are queued behind the
   * ones in flight: the outermost `disconnect()` delivers them all, breadth first, in a loop,
   * so cascades down chains of any length never recurse.
   *
   * @param fault Why; omit for a clean disconnect.
   * @returns `true` if this call disconnected the device, `false` if it already was.
   * @throws {unknown} The first error thrown by a watcher's `onMessage`, after all are notified.
   */
  disconnect(fault?: Fault): boolean {
    return disconnect(this.#core, fault);
  }

  /** Drops the device: disconnects it with the `dropped` fault if it is still connected. */
  [Symbol.dispose](): void {
    disconnect(this.#core, DROPPED);
  }

  /**
   * Takes the next message without waiting.
   *
   * @returns The oldest queued message, or `undefined` when none is queued.
   */
  tryReceive(): DeviceMessage | undefined {
    const core = this.#core;
    const queue = core.queue;
    if (queue === null || core.head >= queue.length) return undefined;
    const message = queue[core.head++];
    if (core.head === queue.length) {
      queue.length = 0;
      core.head = 0;
    }
    return message;
  }

  /**
   * Waits for the next message.
   *
   * @returns The next message, or `undefined` once the device has disconnected.
   * @throws {TypeError} When another `receive()` is pending, or messages go to `onMessage` or
   * to managed work.
   */
  receive(): Promise<DeviceMessage | undefined> {
    const core = this.#core;
    if (!core.connected) return Promise.resolve(undefined);
    if (core.receiver !== null || core.managed) {
      return Promise.reject(
        new TypeError(
          `Cannot receive on device "${core.id}": its messages go to ${
            core.managed ? "managed work" : "onMessage"
          }`,
        ),
      );
    }
    if (core.waiter !== null) {
      return Promise.reject(
        new TypeError(
          `Cannot receive on device "${core.id}": a receive() is already pending`,
        ),
      );
    }
    const message = this.tryReceive();
    if (message !== undefined) return Promise.resolve(message);
    return new Promise((resolve) => {
      core.waiter = resolve;
    });
  }

  /** Yields messages as they arrive, until the device disconnects. */
  async *[Symbol.asyncIterator](): AsyncIterator<DeviceMessage> {
    while (true) {
      const message = await this.receive();
      if (message === undefined) return;
      yield message;
    }
  }

  /**
   * Runs `work` under the device's management until the first of:
   *
   * - `work` resolves `ok(value)`: the result is returned and the device **stays connected**
   *   (nobody is notified);
   * - `work` resolves `err(error)`: the device disconnects with an `error` fault;
   * - `work` throws or rejects: the device disconnects with a `thrown` fault;
   * - a linked device disconnects with a fault: this one disconnects with a `cascade` fault
   *   (a clean disconnect of a linked device is ignored and work goes on);
   * - a `Shutdown` request arrives: the device disconnects cleanly.
   *
   * Messages already queued when this is called are handled first. While managed, the device's
   * messages belong to the manager. `work` gets the device, whose `signal` aborts when it
   * disconnects so the work can stop early; whatever it does after that is ignored.
   *
   * @param work The async work, returning a {@linkcode Result}.
   * @returns `ok(value)`, or `err(crash)` describing why the device disconnected.
   * @throws {TypeError} When the device is already managed or has an `onMessage` receiver.
   * @throws {DeviceDisconnectedError} When the device is disconnected.
   */
  partManage<T, E>(
    work: (device: Device) => Promise<Result<T, E>>,
  ): Promise<Result<T, Crash<E>>> {
    return runManaged(this, this.#core, work, false);
  }

  /**
   * Like {@linkcode Device.partManage}, but a successful result also disconnects the device
   * cleanly: the device is given up for good.
   *
   * @param work The async work, returning a {@linkcode Result}.
   * @returns `ok(value)`, or `err(crash)` describing why the device disconnected.
   * @throws {TypeError} When the device is already managed or has an `onMessage` receiver.
   * @throws {DeviceDisconnectedError} When the device is disconnected.
   *
   * @example Usage
   * ```ts
   * import { Device, err, LinkMode } from "@troupe/troupe";
   * using watcher = new Device();
   * const device = new Device();
   * watcher.link(device, LinkMode.Monitor);
   * const outcome = await device.manage(() => Promise.resolve(err("no such file")));
   * console.log(outcome.ok ? "done" : outcome.error.kind); // "error"
   * const message = watcher.tryReceive();
   * console.log(message?.kind === "disconnected" && message.fault?.kind); // "error"
   * ```
   */
  manage<T, E>(
    work: (device: Device) => Promise<Result<T, E>>,
  ): Promise<Result<T, Crash<E>>> {
    return runManaged(this, this.#core, work, true);
  }

  #checkConnected(action: string): void {
    const core = this.#core;
    if (!core.connected) {
      throw new DeviceDisconnectedError(core.id, core.fault, action);
    }
  }
}
