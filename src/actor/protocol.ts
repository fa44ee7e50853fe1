// The types that make messages typed: an actor's protocol is derived from its handlers, so
// sending a message it does not handle, or a wrong payload, is a compile-time error, and an
// ask's result type is inferred.

/**
 * A protocol: message type → `(payload) => result`. Usually derived from an actor definition
 * with {@linkcode ProtocolOf}, but it can also be written by hand as an interface, for refs to
 * actors whose code lives elsewhere:
 *
 * ```ts
 * interface CounterProtocol {
 *   add(by: number): void;
 *   get(): number;
 * }
 * ```
 */
export type Protocol = object;

/** The message type names of a protocol. */
export type MessageType<P> = keyof P & string;

/**
 * The payload type of message `K` (`undefined` when it takes none).
 *
 * For a union of message types it is the union of their payloads: when a call names a message
 * outside the protocol, the compiler falls back to all the names, and this keeps the payload
 * check from failing first, so the error is reported on the name and lists the valid ones.
 * `never` (a type forced with `as never`) takes an optional payload of any type.
 */
export type PayloadOf<P, K extends keyof P> = [K] extends [never] ? unknown
  : K extends keyof P ? P[K] extends () => unknown ? undefined
    : P[K] extends (payload: infer X) => unknown ? X
    : never
  : never;

/**
 * The result type of message `K`, as an ask resolves it: a union for a union of message types,
 * `unknown` for `never`.
 */
export type ResultOf<P, K extends keyof P> = [K] extends [never] ? unknown
  : K extends keyof P
    ? P[K] extends (...args: never[]) => infer R ? Awaited<R> : never
  : never;

/** The payload argument of a tell: optional when the payload may be `undefined`. */
export type TellArgs<X> = undefined extends X ? [payload?: X] : [payload: X];

/** Options of one ask. */
export interface AskOptions {
  /** Overrides the system's default ask timeout, in milliseconds. */
  readonly timeoutMs?: number;
}

/** The arguments of an ask after the message type: payload (optional when it may be undefined), options. */
export type AskArgs<X> = undefined extends X
  ? [payload?: X, options?: AskOptions]
  : [payload: X, options?: AskOptions];

/** A protocol whose messages are not known statically: any type, any payload. */
export type UnknownProtocol = Record<string, (payload: unknown) => unknown>;

/**
 * The protocol of an actor derived from its handler map: each handler
 * `(state, payload, ctx) => result` becomes `(payload) => result`; a handler that takes only
 * `state` becomes a message without payload.
 */
export type ProtocolOf<H> = {
  [K in keyof H & string]: H[K] extends
    (state: never, ...rest: infer A) => infer R
    ? (A extends [infer P, ...unknown[]] ? (payload: P) => R : () => R)
    : never;
};
