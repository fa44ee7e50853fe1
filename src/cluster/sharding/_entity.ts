// How sharding runs an entity: its actor id (from the type and the entity id) and the
// passivation message it adds to the entity's definition.
import {
  type ActorContext,
  type ActorDefinition,
  defineActor,
  type Handlers,
  type UnknownProtocol,
} from "../../actor/mod.ts";

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

/**
 * Adds the passivation handler to an entity type's definition.
 *
 * @param definition The user's definition.
 * @returns The definition sharding spawns.
 */
export function withPassivation(
  definition: ActorDefinition<unknown, unknown, Handlers<unknown>>,
): ActorDefinition<unknown, unknown, Handlers<unknown>> {
  return defineActor({
    ...definition,
    handlers: {
      ...definition.handlers,
      [PASSIVATE]: (
        _state: unknown,
        _payload: never,
        ctx: ActorContext<UnknownProtocol>,
      ) => ctx.stop(),
    },
  });
}
