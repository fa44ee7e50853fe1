import type { ActorSystem } from "../actor/mod.ts";
import type { PersistenceProvider } from "./journal.ts";
import { MemoryPersistence } from "./memory.ts";

const providers = new WeakMap<ActorSystem, PersistenceProvider>();

/**
 * Sets the persistence provider of an actor system: persistent actors spawned in it store
 * their events and snapshots there (unless their definition names a provider). Without this,
 * a system uses its own in-memory provider.
 *
 * @param system The actor system.
 * @param provider The provider. The caller closes it after the system shuts down.
 *
 * @example Usage
 * ```ts
 * import { ActorSystem, MemoryPersistence, usePersistence } from "@troupe/troupe";
 * await using system = new ActorSystem();
 * usePersistence(system, new MemoryPersistence());
 * ```
 */
export function usePersistence(
  system: ActorSystem,
  provider: PersistenceProvider,
): void {
  if (
    typeof provider?.journal?.append !== "function" ||
    typeof provider.snapshots?.save !== "function"
  ) {
    throw new TypeError(
      "usePersistence(): provider must have a journal and a snapshot store",
    );
  }
  providers.set(system, provider);
}

/**
 * The persistence provider of an actor system (its in-memory one when none was set).
 *
 * @param system The actor system.
 * @returns The provider.
 *
 * @example Usage
 * ```ts
 * import { ActorSystem, persistenceOf } from "@troupe/troupe";
 * await using system = new ActorSystem();
 * console.log(typeof persistenceOf(system).journal.append); // "function"
 * ```
 */
export function persistenceOf(system: ActorSystem): PersistenceProvider {
  let provider = providers.get(system);
  if (provider === undefined) {
    provider = new MemoryPersistence();
    providers.set(system, provider);
  }
  return provider;
}
