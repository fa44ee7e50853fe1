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
    return this.#peer.ask(this.path, type, payload, options) as Promise<never>;
  }

  stop(): Promise<void> {
    return this.#peer.stop(this.path);
  }

  toJSON(): string {
    return formatAddress(this.address);
  }

  [WATCH_LINE](): Line {
    return this.#peer.watchLine(this.path);
  }
}
