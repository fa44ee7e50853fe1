// Extensions: message kinds that higher layers (membership, sharding, pub/sub) register with a
// node, without editing src/remote/. Each has a name, a codec and a handler; peers announce the
// names they handle in the handshake, and a message for a name the peer lacks is refused with
// ExtensionUnsupportedError while the connection stays up.
import { type AskOptions, type Codec, jsonCodec } from "../actor/mod.ts";
import { ExtensionRequest, type Request } from "./_requests.ts";
import { CodecError, ExtensionUnsupportedError } from "./errors.ts";
import { encodeMessage, MAX_EXTENSIONS } from "./protocol/mod.ts";

/** Who sent an extension message. */
export interface ExtensionSender {
  /** The sending node's name. */
  readonly node: string;
}

/**
 * A message kind of a higher layer, registered with a node through the `extensions` option of
 * `RemoteNode.start`. The node announces its name to every peer in the handshake.
 *
 * @typeParam M The messages it carries.
 * @typeParam R The replies to them (for asks).
 */
export interface RemoteExtension<M = unknown, R = unknown> {
  /** Its name: 1 to 100 of `A-Z a-z 0-9 _ . : -`, such as `"troupe.membership"`. */
  readonly name: string;
  /** How its messages and replies are encoded (default: JSON). */
  readonly codec?: Codec;
  /**
   * Handles a message from another node. For an ask, what it returns (or resolves to) is the
   * reply, and what it throws (or rejects with) fails the ask as a `RemoteFailureError`; for a
   * tell, both are ignored (a failure is logged).
   *
   * @param message The message, decoded.
   * @param from Who sent it.
   * @returns The reply.
   */
  handle(message: M, from: ExtensionSender): R | Promise<R>;
}

const NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
/** The most bytes the names of a node's extensions may take in a Hello or Welcome. */
const MAX_ANNOUNCED_BYTES = 2048;

/** What a channel needs of the association with a node (a Peer). */
export interface ExtensionPeer {
  /** Whether the node announced the extension `name`. */
  supports(name: string): boolean;
  /** Sends (or queues) an encoded message that expects no answer. */
  sendOneWay(frame: Uint8Array): void;
  /** Sends a request and waits for its answer. */
  request(request: Request, timeoutMs: number | undefined): Promise<unknown>;
}

/** The extensions of one node, by name. */
export class ExtensionRegistry {
  readonly #byName = new Map<string, RemoteExtension>();

  /**
   * @throws {TypeError} When an extension is invalid or a name repeats.
   * @throws {RangeError} When there are more than MAX_EXTENSIONS, or their names take more than
   * 2 KiB (the handshake's frames are small).
   */
  constructor(extensions: readonly RemoteExtension[] = []) {
    if (!Array.isArray(extensions)) {
      throw new TypeError("Invalid extensions: expected an array");
    }
    if (extensions.length > MAX_EXTENSIONS) {
      throw new RangeError(
        `Too many extensions (${extensions.length}): at most ${MAX_EXTENSIONS}`,
      );
    }
    for (const extension of extensions) {
      const name = extension?.name;
      if (typeof name !== "string" || !NAME.test(name)) {
        throw new TypeError(`Invalid extension name ${JSON.stringify(name)}`);
      }
      if (typeof extension.handle !== "function") {
        throw new TypeError(`Invalid extension "${name}": it needs handle()`);
      }
      const codec = extension.codec;
      if (
        codec !== undefined &&
        (typeof codec?.encode !== "function" ||
          typeof codec.decode !== "function")
      ) {
        throw new TypeError(
          `Invalid extension "${name}": its codec needs encode and decode`,
        );
      }
      if (this.#byName.has(name)) {
        throw new TypeError(`Extension "${name}" is registered twice`);
      }
      this.#byName.set(name, extension);
    }
    // Announced in Hello and Welcome, which must fit the small frames allowed before a peer has
    // proved itself.
    const announced = this.names.reduce((n, name) => n + name.length + 2, 0);
    if (announced > MAX_ANNOUNCED_BYTES) {
      throw new RangeError(
        `Too many extensions: their names take ${announced} bytes, at most ${MAX_ANNOUNCED_BYTES}`,
      );
    }
  }

  /** The names, as announced in the handshake. */
  get names(): string[] {
    return [...this.#byName.keys()];
  }

  /** The extension named `name`, if registered. */
  get(name: string): RemoteExtension | undefined {
    return this.#byName.get(name);
  }

  /**
   * Encodes a message or reply of `name` with its codec.
   *
   * @throws {CodecError} When the codec cannot encode it.
   */
  encode(extension: RemoteExtension, value: unknown): Uint8Array {
    try {
      return (extension.codec ?? jsonCodec).encode(extension.name, value);
    } catch (error) {
      throw new CodecError(
        `Cannot encode a message of extension "${extension.name}"`,
        error,
      );
    }
  }

  /**
   * Decodes a message or reply of `name` with its codec.
   *
   * @throws {CodecError} When the bytes do not decode.
   */
  decode(extension: RemoteExtension, bytes: Uint8Array): unknown {
    try {
      return (extension.codec ?? jsonCodec).decode(extension.name, bytes);
    } catch (error) {
      throw new CodecError(
        `Cannot decode a message of extension "${extension.name}"`,
        error,
      );
    }
  }

  /**
   * The channel of the extension `name`.
   *
   * @param ownNode This node's name (for the error).
   * @param peerOf The association with a node; throws TypeError for an unknown one.
   * @throws {TypeError} When no extension of that name is registered.
   */
  channel<M, R>(
    name: string,
    ownNode: string,
    peerOf: (node: string) => ExtensionPeer,
  ): ExtensionChannel<M, R> {
    const extension = this.#byName.get(name);
    if (extension === undefined) {
      throw new TypeError(
        `Extension ${
          JSON.stringify(name)
        } is not registered on node "${ownNode}"`,
      );
    }
    /** The node's peer, if it handles the extension. */
    const supporting = (node: string): ExtensionPeer => {
      const peer = peerOf(node);
      if (!peer.supports(name)) throw new ExtensionUnsupportedError(node, name);
      return peer;
    };
    return Object.freeze({
      name,
      tell: (node: string, message: M): void => {
        const peer = supporting(node);
        const payload = this.encode(extension, message);
        peer.sendOneWay(
          encodeMessage({ kind: "extension", id: 0, name, payload }),
        );
      },
      ask: (node: string, message: M, options?: AskOptions): Promise<R> => {
        let peer: ExtensionPeer;
        let payload: Uint8Array;
        try {
          peer = supporting(node);
          payload = this.encode(extension, message);
        } catch (error) {
          return Promise.reject(error);
        }
        return peer.request(
          new ExtensionRequest(node, this, extension, payload),
          options?.timeoutMs,
        ) as Promise<R>;
      },
      supportedBy: (node: string): boolean => {
        try {
          return peerOf(node).supports(name);
        } catch {
          return false;
        }
      },
    });
  }
}

/**
 * The channel of one extension on a node (from `RemoteNode.extension`): its messages to other
 * nodes and their replies.
 *
 * @typeParam M The extension's messages.
 * @typeParam R Its replies.
 */
export interface ExtensionChannel<M = unknown, R = unknown> {
  /** The extension's name. */
  readonly name: string;
  /**
   * Sends a message that expects no answer.
   *
   * @param node A connected node.
   * @param message The message.
   * @throws {ExtensionUnsupportedError} When the node did not announce the extension.
   * @throws {CodecError} When the codec cannot encode the message.
   * @throws {FrameTooLargeError} When it is over the frame limit.
   * @throws {NodeUnreachableError} When this node is closing, or too much waits for the node.
   * @throws {TypeError} When the node is unknown.
   */
  tell(node: string, message: M): void;
  /**
   * Sends a request and waits for the reply of the other node's handler.
   *
   * @param node A connected node.
   * @param message The request.
   * @param options Timeout (default: the system's ask timeout).
   * @returns The reply.
   * @throws {ExtensionUnsupportedError} (as a rejection) When the node does not handle it.
   * @throws {RemoteFailureError} (as a rejection) When the handler failed there.
   * @throws {AskTimeoutError} (as a rejection) When no reply came in time.
   * @throws {NodeUnreachableError} (as a rejection) When the connection was lost.
   */
  ask(node: string, message: M, options?: AskOptions): Promise<R>;
  /**
   * Whether `node` announced this extension when last connected.
   *
   * @param node A node's name.
   * @returns Whether it did.
   */
  supportedBy(node: string): boolean;
}
