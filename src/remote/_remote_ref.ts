// A ref to an actor on another node: the same API as a local ref, over the association with
// that node.
import {
  type ActorRef,
  type AskOptions,
  formatAddress,
  type UnknownProtocol,
  WATCH_LINE,
} from "../actor/mod.ts";
import type { Line } from "../backplane/mod.ts";
import type { Peer } from "./_peer.ts";
import { AskRequest, PlainRequest } from "./_requests.ts";

export class RemoteActorRef implements ActorRef<UnknownProtocol> {
  readonly #peer: Peer;
  readonly path: string;
  readonly address: { readonly node: string; readonly path: string };

  constructor(peer: Peer, path: string) {
    this.#peer = peer;
    this.path = path;
    this.address = Object.freeze({ node: peer.node, path });
  }

  get id(): string {
    return this.path.slice(this.path.lastIndexOf("/") + 1);
  }

  get stopped(): boolean {
    return this.#peer.isStopped(this.path);
  }

  tell(type: string, payload?: unknown): void {
    this.#peer.tell(this.path, type, payload);
  }

  ask(type: string, payload?: unknown, options?: AskOptions): Promise<never> {
    const peer = this.#peer;
    const codecs = peer.owner.codecs;
    let body: Uint8Array | string;
    let codec: string;
    try {
      codec = codecs.nameFor(type);
      // JSON goes into the frame as text: no buffer of its own.
      body = codecs.jsonText(codec, type, payload) ??
        codecs.encode(codec, type, payload);
    } catch (error) {
      return Promise.reject(error);
    }
    const system = peer.owner.system;
    const timeoutMs = options?.timeoutMs ?? system.askTimeoutMs;
    const tracer = system.tracer;
    return peer.request(
      new AskRequest(
        codecs,
        this.path,
        type,
        codec,
        body,
        Math.ceil(timeoutMs),
        tracer === null ? undefined : tracer.traceparent(tracer.capture()),
      ),
      timeoutMs,
    ) as Promise<never>;
  }

  stop(): Promise<void> {
    const path = this.path;
    return this.#peer.request(
      new PlainRequest(
        this.#peer.node,
        `stop of "${path}"`,
        (id) => ({ kind: "stop", id, path }),
        () => undefined,
      ),
      undefined,
    ) as Promise<void>;
  }

  toJSON(): string {
    return formatAddress(this.address);
  }

  [WATCH_LINE](): Line {
    return this.#peer.watchLine(this.path);
  }
}
