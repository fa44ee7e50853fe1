// Death watch across nodes, both sides of it.
//
// - WatchProxies, on the watching node: one proxy device per watched remote actor, which its
//   watchers link to; it disconnects when the actor stops (a Terminated notice) or the node is
//   lost. A Watch goes out once a proxy has watchers, an Unwatch once it has none left, so
//   nothing is held once watching ends. It also remembers which remote actors are known to
//   have stopped (a ref's `stopped`).
// - WatchedActors, on the watched node: a device linked to each local actor watched for the
//   other node, which sends the Terminated notice; an Unwatch or the end of the connection
//   unlinks it.
import {
  type ActorRef,
  type UnknownProtocol,
  watchLineOf,
} from "../actor/mod.ts";
import {
  Device,
  type DeviceMessage,
  errorFault,
  type Fault,
  type Line,
  LinkMode,
} from "../backplane/mod.ts";
import { RemoteFailureError } from "./errors.ts";
import {
  errorTextBound,
  type TerminatedMessage,
  truncateErrorText,
  type UnwatchMessage,
  type WatchMessage,
} from "./protocol/mod.ts";

/** The local stand-in for a watched remote actor: watchers link to its device. */
interface WatchProxy {
  readonly device: Device;
  /** Whether the Watch went out (or into the outbox). */
  announced: boolean;
}

/** How many paths a peer remembers as stopped (the oldest are forgotten first). */
const MAX_STOPPED_PATHS = 10_000;

/** A line that is disconnected already, with `error` (a watch of a node this one cannot reach). */
export function goneLine(error: unknown): Line {
  const gone = new Device();
  gone.disconnect(errorFault(error));
  return gone.line;
}

/** The watching side, for one remote node. */
export class WatchProxies {
  readonly #node: string;
  readonly #control: (message: WatchMessage | UnwatchMessage) => void;
  readonly #proxies = new Map<string, WatchProxy>();
  /** Paths whose proxies to check once the current task is done (see line). */
  #unsettled: string[] = [];
  /** Paths of actors known to have stopped, oldest first. */
  readonly #stopped = new Set<string>();

  /**
   * @param node The remote node's name.
   * @param control Sends (or queues) a Watch or an Unwatch to that node.
   */
  constructor(
    node: string,
    control: (message: WatchMessage | UnwatchMessage) => void,
  ) {
    this.#node = node;
    this.#control = control;
  }

  /** How many proxies exist. */
  get size(): number {
    return this.#proxies.size;
  }

  /** How many paths are remembered as stopped. */
  get stoppedCount(): number {
    return this.#stopped.size;
  }

  /**
   * The line of the proxy device for the actor at `path`, which disconnects when that actor
   * stops or the node is lost. Watchers link to it right after this returns, unwatchers unlink
   * from it (ctx.unwatch also gets the line first), so once the current task is done the proxy
   * is settled: with watchers and not announced yet, the Watch goes out; with none left, it is
   * dropped and, if announced, an Unwatch goes out. The heartbeat settles proxies whose
   * watchers stopped (see sweep).
   */
  line(path: string): Line {
    let proxy = this.#proxies.get(path);
    if (proxy === undefined) {
      proxy = { device: new Device(), announced: false };
      this.#proxies.set(path, proxy);
    }
    if (this.#unsettled.push(path) === 1) queueMicrotask(this.#settleTask);
    return proxy.device.line;
  }

  readonly #settleTask = (): void => {
    const paths = this.#unsettled;
    this.#unsettled = [];
    for (const path of paths) this.#settle(path);
  };

  #settle(path: string): void {
    const proxy = this.#proxies.get(path);
    if (proxy === undefined) return;
    if (proxy.device.watchers().length === 0) {
      this.#proxies.delete(path);
      proxy.device.disconnect();
      if (proxy.announced) this.#control({ kind: "unwatch", target: path });
    } else if (!proxy.announced) {
      proxy.announced = true;
      this.#control({ kind: "watch", target: path });
    }
  }

  /** Settles the announced proxies (their watchers may have stopped since). */
  sweep(): void {
    for (const [path, proxy] of this.#proxies) {
      if (proxy.announced) this.#settle(path);
    }
  }

  /** The Watch of `target` could not go out: its watchers are told with `error`. */
  failed(target: string, error: unknown): void {
    const proxy = this.#proxies.get(target);
    this.#proxies.delete(target);
    proxy?.device.disconnect(errorFault(error));
  }

  /** The node is lost (or this one closes): every watcher is told with `error`. */
  disconnectAll(error: unknown): void {
    const fault = errorFault(error);
    const proxies = [...this.#proxies.values()];
    this.#proxies.clear();
    for (const proxy of proxies) proxy.device.disconnect(fault);
  }

  /** A Terminated notice: the actor at `target` stopped (`fault` empty when it stopped normally). */
  terminated(message: TerminatedMessage): void {
    const proxy = this.#proxies.get(message.target);
    this.#proxies.delete(message.target);
    this.markStopped(message.target);
    proxy?.device.disconnect(
      message.fault === "" ? undefined : errorFault(
        new RemoteFailureError(
          this.#node,
          message.fault,
          "Stopped",
          message.reason,
        ),
      ),
    );
  }

  isStopped(path: string): boolean {
    return this.#stopped.has(path);
  }

  /** The actor at `path` answered (or was found, or spawned): it runs. */
  markRunning(path: string): void {
    this.#stopped.delete(path);
  }

  markStopped(path: string): void {
    const stopped = this.#stopped;
    stopped.delete(path);
    stopped.add(path);
    if (stopped.size > MAX_STOPPED_PATHS) {
      stopped.delete(stopped.values().next().value!);
    }
  }
}

/** A stop's reason for a Terminated notice, cut to what fits a frame. */
function describeFaultShort(fault: Fault, maxFrameBytes: number): string {
  const error = (fault as { error?: unknown }).error;
  if (error instanceof Error) {
    return truncateErrorText(
      `${error.name}: ${error.message}`,
      errorTextBound(maxFrameBytes),
    );
  }
  return fault.kind;
}

/** The watched side: this node's actors watched for one connected node. */
export class WatchedActors {
  readonly #send: (message: TerminatedMessage) => void;
  readonly #maxFrameBytes: number;
  /** A device linked to each watched actor, by path. */
  readonly #watches = new Map<string, { device: Device; line: Line }>();

  /**
   * @param send Sends a Terminated notice to the watching node.
   * @param maxFrameBytes The frame limit, which bounds a notice's reason.
   */
  constructor(
    send: (message: TerminatedMessage) => void,
    maxFrameBytes: number,
  ) {
    this.#send = send;
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** How many local actors are watched for the other node. */
  get size(): number {
    return this.#watches.size;
  }

  /** A Watch of the actor at `target` (`ref`, or `undefined` when none runs there). */
  watch(target: string, ref: ActorRef<UnknownProtocol> | undefined): void {
    if (this.#watches.has(target)) return;
    if (ref === undefined) {
      this.#send({
        kind: "terminated",
        target,
        fault: "",
        reason: "not running",
      });
      return;
    }
    // A device of its own per watch, so an Unwatch or the end of the session unlinks it.
    const watch = {
      device: new Device({
        onMessage: (message: DeviceMessage) => {
          if (message.kind !== "disconnected") return;
          if (this.#watches.get(target) !== watch) return;
          this.unwatch(target);
          const fault = message.fault;
          this.#send({
            kind: "terminated",
            target,
            fault: fault === undefined ? "" : fault.kind,
            reason: fault === undefined
              ? "stopped"
              : describeFaultShort(fault, this.#maxFrameBytes),
          });
        },
      }),
      line: watchLineOf(ref),
    };
    this.#watches.set(target, watch);
    watch.device.linkLine(watch.line, LinkMode.Monitor);
  }

  /** An Unwatch: lets go of the actor at `target`. */
  unwatch(target: string): void {
    const watch = this.#watches.get(target);
    if (watch === undefined) return;
    this.#watches.delete(target);
    watch.device.unlinkLine(watch.line, LinkMode.Monitor);
    watch.device.disconnect();
  }

  /** The connection ended: lets go of every watched actor. */
  unwatchAll(): void {
    for (const target of [...this.#watches.keys()]) this.unwatch(target);
  }
}
