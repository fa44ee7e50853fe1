// How sharding runs an entity: its actor id (from the type and the entity id), and the
// definition it spawns: the user's plus the passivation message, with journal conflicts counted.
import {
  type ActorContext,
  type ActorDefinition,
  defineActor,
  type Handlers,
  type UnknownProtocol,
} from "../../actor/mod.ts";
import { isJournalConflictError } from "../../persistence/mod.ts";

/** The message type that passivates an entity (handled by the wrapper sharding adds). */
export const PASSIVATE = "troupe.sharding.passivate";

const ID = /^[A-Za-z0-9_.:@+-]{1,150}$/;

/**
 * The actor id of an entity: `<type>:<id>` when the id is made of id characters, otherwise
 * `<type>:=<base64url of its UTF-8 bytes>`.
 *
 * @throws {RangeError} When the id is too long for an actor id.
 */
export function entityActorId(entityType: string, id: string): string {
  if (ID.test(id)) return `${entityType}:${id}`;
  let binary = "";
  for (const byte of new TextEncoder().encode(id)) {
    binary += String.fromCharCode(byte);
  }
  const encoded = btoa(binary).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
  const actorId = `${entityType}:=${encoded}`;
  if (actorId.length > 200) {
    throw new RangeError(
      `Entity id ${
        JSON.stringify(id.slice(0, 40))
      }… is too long (at most about 110 bytes)`,
    );
  }
  return actorId;
}

/** Whether `error` is, or was caused by, a journal conflict (another writer of the id). */
export function isConflict(error: unknown): boolean {
  for (let e = error, depth = 0; e != null && depth < 4; depth++) {
    if (isJournalConflictError(e)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * The definition sharding spawns for an entity type: the user's, plus the passivation message,
 * with each handler watched for journal conflicts (a second live incarnation of the entity
 * wrote to its journal; the expected-sequence check refused this one's write).
 *
 * @param definition The user's definition.
 * @param onConflict Called for each message that failed with a journal conflict.
 * @returns The definition sharding spawns.
 */
export function forSharding(
  definition: ActorDefinition<unknown, unknown, Handlers<unknown>>,
  onConflict: () => void,
): ActorDefinition<unknown, unknown, Handlers<unknown>> {
  const watched = (error: unknown): never => {
    if (isConflict(error)) onConflict();
    throw error;
  };
  const handlers: Handlers<unknown> = {};
  for (const [type, handler] of Object.entries(definition.handlers)) {
    handlers[type] = (state, payload, ctx) => {
      let result: unknown;
      try {
        result = handler(state, payload, ctx);
      } catch (error) {
        watched(error);
      }
      return typeof (result as Promise<unknown> | undefined)?.then ===
          "function"
        ? (result as Promise<unknown>).then(undefined, watched)
        : result;
    };
  }
  return defineActor({
    ...definition,
    handlers: {
      ...handlers,
      [PASSIVATE]: (
        _state: unknown,
        _payload: never,
        ctx: ActorContext<UnknownProtocol>,
      ) => ctx.stop(),
    },
  });
}

/**
 * The entity id of an entity's actor id (the inverse of {@linkcode entityActorId}), or
 * undefined when `path` is not the actor id of an entity of `entityType`.
 */
export function entityIdOf(
  entityType: string,
  path: string,
): string | undefined {
  if (!path.startsWith(entityType) || path[entityType.length] !== ":") {
    return undefined;
  }
  const rest = path.slice(entityType.length + 1);
  if (!rest.startsWith("=")) return ID.test(rest) ? rest : undefined;
  try {
    const binary = atob(
      rest.slice(1).replaceAll("-", "+").replaceAll("_", "/"),
    );
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const id = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return entityActorId(entityType, id) === path ? id : undefined;
  } catch {
    return undefined;
  }
}
