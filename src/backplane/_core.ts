// The state behind a Device and its Lines, and the link graph operations. Everything here is
// synchronous: JavaScript runs one task at a time, so a link, an unlink or a disconnect is atomic
// and link operations are applied at once (the seed queued Line operations until disconnect).
import { type DeviceId, formatDeviceId } from "./device_id.ts";
import type { Fault } from "./fault.ts";
import { DeviceDisconnectedError } from "./errors.ts";

/** A backplane message: a linked device went away, or someone asked this one to shut down. */
export type DeviceMessage = Disconnected | Shutdown;

/** A device this one is linked to has disconnected. */
export interface Disconnected {
  /** Discriminant. */
  readonly kind: "disconnected";
  /** The device that disconnected. */
  readonly id: DeviceId;
  /** Why; `undefined` for a clean disconnect. */
  readonly fault: Fault | undefined;
}

/** Someone asked this device to shut down. */
export interface Shutdown {
  /** Discriminant. */
  readonly kind: "shutdown";
  /** The device that asked. */
  readonly id: DeviceId;
}

let sequence = 0;

export type Receiver = (message: DeviceMessage) => void;

// Watcher lists are arrays while small (most devices have one or two links) and Sets when large.
const SMALL = 8;

export class Core {
  readonly seq: number;
  #id: DeviceId | undefined = undefined;
  connected = true;
  fault: Fault | undefined = undefined;
  // The devices told when this one disconnects. Entries that disconnect first are not removed
  // eagerly (that would need a reverse index on every link); they are skipped when notifying and
  // swept when the list grows, so it stays within twice its live size.
  out: Core[] | Set<Core> | null = null;
  sweepAt = SMALL;
  queue: DeviceMessage[] | null = null;
  head = 0;
  waiter: ((message: DeviceMessage | undefined) => void) | null = null;
  receiver: Receiver | null;
  controller: AbortController | null = null;
  line: unknown = null;
  managed = false;

  constructor(receiver: Receiver | null) {
    this.seq = ++sequence;
    this.receiver = receiver;
  }

  get id(): DeviceId {
    return this.#id ??= formatDeviceId(this.seq);
  }
}

/** Delivers a message; a disconnected core drops it. A throwing receiver's error is returned. */
export function deliver(core: Core, message: DeviceMessage): unknown {
  if (!core.connected) return undefined;
  const receiver = core.receiver;
  if (receiver !== null) {
    try {
      receiver(message);
    } catch (error) {
      return error ?? new Error("receiver threw a nullish value");
    }
    return undefined;
  }
  const waiter = core.waiter;
  if (waiter !== null) {
    core.waiter = null;
    waiter(message);
    return undefined;
  }
  (core.queue ??= []).push(message);
  return undefined;
}

/** Adds the edge from→to: `to` is told when `from` disconnects. */
export function addEdge(from: Core, to: Core): void {
  if (!to.connected) return;
  if (!from.connected) {
    // Erlang semantics: linking to something already gone tells you at once.
    const error = deliver(to, {
      kind: "disconnected",
      id: from.id,
      fault: from.fault,
    });
    if (error !== undefined) throw error;
    return;
  }
  const out = from.out;
  if (out === null) {
    from.out = [to];
  } else if (Array.isArray(out)) {
    if (out.indexOf(to) !== -1) return;
    if (out.length < SMALL) {
      out.push(to);
      return;
    }
    const live = liveOnly(out);
    live.add(to);
    from.out = live;
    from.sweepAt = Math.max(SMALL * 2, live.size * 2);
  } else {
    out.add(to);
    if (out.size >= from.sweepAt) {
      for (const core of out) if (!core.connected) out.delete(core);
      from.sweepAt = Math.max(SMALL * 2, out.size * 2);
    }
  }
}

function liveOnly(cores: Core[]): Set<Core> {
  const set = new Set<Core>();
  for (const core of cores) if (core.connected) set.add(core);
  return set;
}

/** Removes the edge from→to if present. */
export function removeEdge(from: Core, to: Core): void {
  const out = from.out;
  if (out === null) return;
  if (Array.isArray(out)) {
    const i = out.indexOf(to);
    if (i !== -1) out.splice(i, 1);
  } else {
    out.delete(to);
  }
}

/** The connected devices that `core` will notify. */
export function watchersOf(core: Core): Core[] {
  const out = core.out;
  if (out === null || !core.connected) return [];
  const live: Core[] = [];
  for (const c of out) if (c.connected) live.push(c);
  return live;
}

export const MONITOR = 1;
export const NOTIFY = 2;

function checkMode(mode: number, action: string): void {
  if (mode !== 1 && mode !== 2 && mode !== 3) {
    throw new TypeError(`Cannot ${action}: invalid link mode ${String(mode)}`);
  }
}

/** Applies a link mode between `self` and `other`. */
export function link(self: Core, other: Core, mode: number): void {
  if (self === other) {
    throw new TypeError(`Cannot link device "${self.id}" to itself`);
  }
  checkMode(mode, "link");
  // At most one of the two edges can notify at once, and only when one side is already gone, in
  // which case the other edge is a no-op: so a Peer link is all or nothing.
  if ((mode & NOTIFY) !== 0) addEdge(self, other);
  if ((mode & MONITOR) !== 0) addEdge(other, self);
}

/** Removes the edges of a link mode between `self` and `other`. */
export function unlink(self: Core, other: Core, mode: number): void {
  checkMode(mode, "unlink");
  if ((mode & MONITOR) !== 0) removeEdge(other, self);
  if ((mode & NOTIFY) !== 0) removeEdge(self, other);
}

// Disconnected cores whose watchers are still to be told, oldest first. Receivers run inside
// the disconnect that notifies them and often disconnect in turn (a managed device follows a
// fault at once): such a nested disconnect only joins this queue, and the outermost one
// delivers every notice in a loop before it returns. So a cascade down a chain of any length
// runs in constant stack, in breadth-first order.
// Each queued core comes with its watchers as they were when it disconnected (the set is fixed
// then: a watcher that unlinks while the notice waits in the queue is still told).
const pending: Array<Core | undefined> = [];
const pendingOut: Array<Core[] | Set<Core> | null> = [];
let pendingHead = 0;
let delivering = false;

/**
 * Disconnects a core and notifies its watchers: at once when called from outside a delivery,
 * otherwise (from a receiver) after the notices already queued, before the outermost
 * disconnect returns. The set of watchers is fixed at this moment. Returns false if it was
 * already disconnected.
 */
export function disconnect(core: Core, fault: Fault | undefined): boolean {
  if (!core.connected) return false;
  core.connected = false;
  core.fault = fault;
  core.queue = null;
  core.head = 0;
  const waiter = core.waiter;
  if (waiter !== null) {
    core.waiter = null;
    waiter(undefined);
  }
  core.receiver = null;
  // Nobody to tell and no signal to abort: nothing to deliver, now or later.
  if (core.out === null && core.controller === null) return true;
  if (delivering) {
    pending.push(core);
    pendingOut.push(core.out);
    core.out = null;
    return true;
  }
  delivering = true;
  let firstError: unknown = undefined;
  try {
    const out = core.out;
    core.out = null;
    firstError = notify(core, out, firstError);
    while (pendingHead < pending.length) {
      const next = pending[pendingHead]!;
      const nextOut = pendingOut[pendingHead];
      pending[pendingHead] = undefined;
      pendingOut[pendingHead++] = null;
      if (pendingHead >= 4096 && pendingHead * 2 >= pending.length) {
        pending.copyWithin(0, pendingHead);
        pending.length -= pendingHead;
        pendingOut.copyWithin(0, pendingHead);
        pendingOut.length -= pendingHead;
        pendingHead = 0;
      }
      firstError = notify(next, nextOut, firstError);
    }
  } finally {
    // Only a cascade (or a receiver that threw) leaves anything here: keep the common case cheap.
    if (pending.length !== 0) {
      pending.length = 0;
      pendingOut.length = 0;
    }
    pendingHead = 0;
    delivering = false;
  }
  if (firstError !== undefined) throw firstError;
  return true;
}

// Tells a disconnected core's watchers (`out`, as they were when it disconnected) and aborts its
// signal; returns the first receiver error.
function notify(
  core: Core,
  out: Core[] | Set<Core> | null,
  firstError: unknown,
): unknown {
  if (out !== null) {
    const message: Disconnected = {
      kind: "disconnected",
      id: core.id,
      fault: core.fault,
    };
    for (const watcher of out) {
      const error = deliver(watcher, message);
      if (error !== undefined && firstError === undefined) firstError = error;
    }
  }
  const controller = core.controller;
  if (controller !== null) {
    controller.abort(
      new DeviceDisconnectedError(
        core.id,
        core.fault,
        "continue work of device",
      ),
    );
  }
  return firstError;
}
