// Turns a persistent actor's spec, handlers and hooks into an actor definition: each handler
// waits for the events its message persisted, then applies the failure policy.
import {
  type ActorContext,
  defineActor,
  type Handlers,
  type UnknownProtocol,
} from "../actor/mod.ts";
import { persistenceOf } from "./extension.ts";
import {
  type PersistentActorDefinition,
  type PersistentActorSpec,
  PersistentContext,
  type PersistentHooks,
} from "./persistent_actor.ts";
import type { Internal, Spec } from "./_persistent_internal.ts";
import { settleOutcome, withJournalRetry } from "./_persist.ts";
import { journalDown, recover } from "./_recovery.ts";

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

/** After a message's persists: escalates or stops on a failed persist, by the policy. */
function applyFailurePolicy(
  internal: Internal,
  spec: Spec,
  ctx: ActorContext<UnknownProtocol>,
): void {
  const failure = internal.failure;
  if (failure === undefined) return;
  internal.failure = undefined;
  if (spec.then === "escalate") throw failure;
  if (spec.then === "stop") ctx.stop();
}

/** Builds the actor definition of a persistent actor from its checked spec, handlers and hooks. */
export function compile<A, H>(
  spec: Spec,
  input: PersistentActorSpec<A, unknown, unknown>,
  userHandlers: H,
  hooks: PersistentHooks<unknown, unknown, unknown>,
): PersistentActorDefinition<A, H> {
  const name = spec.name;
  if (typeof userHandlers !== "object" || userHandlers === null) {
    throw new TypeError(
      `Cannot define persistent actor "${name}": handlers must be an object`,
    );
  }
  for (
    const hookName of [
      "recovered",
      "stopped",
      "childStopped",
      "terminated",
    ] as const
  ) {
    if (
      hooks[hookName] !== undefined && typeof hooks[hookName] !== "function"
    ) {
      throw new TypeError(
        `Cannot define persistent actor "${name}": ${hookName} must be a function`,
      );
    }
  }
  type Ctx = ActorContext<UnknownProtocol>;
  type UserHook = (state: unknown, ...rest: unknown[]) => unknown;
  const contextOf = (internal: Internal, ctx: Ctx) =>
    internal.pctx ??= new PersistentContext(
      ctx,
      internal,
      spec,
    ) as PersistentContext<unknown, unknown, UnknownProtocol>;

  const handlers: Record<
    string,
    (internal: Internal, payload: unknown, ctx: Ctx) => unknown
  > = {};
  for (
    const [type, fn] of Object.entries(userHandlers as Record<string, unknown>)
  ) {
    if (typeof fn !== "function") {
      throw new TypeError(
        `Cannot define persistent actor "${name}": handler "${type}" is not a function`,
      );
    }
    const user = fn as unknown as (
      state: unknown,
      payload: unknown,
      ctx: unknown,
    ) => unknown;
    handlers[type] = (internal, payload, ctx) => {
      if (internal.unsettled !== undefined) {
        // The last append's outcome is unknown: learn it from the journal first.
        return internal.chain.then(() =>
          internal.unsettled === undefined
            ? undefined
            : settleOutcome(internal, spec)
        ).then(() => handlers[type](internal, payload, ctx));
      }
      const pctx = contextOf(internal, ctx);
      const before = internal.persistsStarted;
      const result = user(internal.user, payload, pctx);
      if (!isThenable(result) && internal.persistsStarted === before) {
        return result;
      }
      // Wait for the events this message persisted, then apply the failure policy. When the
      // handler's result settles with the chain idle (it returned or awaited its last
      // persist), they are done already.
      return Promise.resolve(result).then(
        (value) => {
          if (internal.busy === 0) {
            applyFailurePolicy(internal, spec, ctx);
            return value;
          }
          return internal.chain.then(() => {
            applyFailurePolicy(internal, spec, ctx);
            return value;
          });
        },
        (error) => {
          if (internal.busy === 0) {
            applyFailurePolicy(internal, spec, ctx);
            throw error;
          }
          return internal.chain.then(() => {
            applyFailurePolicy(internal, spec, ctx);
            throw error;
          });
        },
      );
    };
  }

  const hook = (fn: UserHook | undefined, settleFirst: boolean) =>
    fn === undefined ? undefined : (internal: Internal, ...rest: unknown[]) => {
      const run = () => {
        const ctx = rest.pop() as Ctx;
        return fn(internal.user, ...rest, contextOf(internal, ctx));
      };
      if (!settleFirst || internal.unsettled === undefined) return run();
      return internal.chain.then(() =>
        internal.unsettled === undefined
          ? undefined
          : settleOutcome(internal, spec)
      ).then(run);
    };

  const definition = defineActor({
    name,
    init: (args: unknown): Internal => {
      const internal: Internal = {
        persistent: true,
        args,
        user: undefined,
        pid: "",
        seq: 0,
        keptSnapshots: [],
        provider: null,
        chain: Promise.resolve(),
        busy: 0,
        release: () => {
          internal.busy--;
        },
        persistsStarted: 0,
        failure: undefined,
        unsettled: undefined,
        clock: null,
        signal: null,
        pctx: null,
      };
      return internal;
    },
    handlers: handlers as unknown as Handlers<Internal>,
    started: async (internal, ctx) => {
      const path = ctx.self.path;
      internal.pid = spec.persistenceId?.(internal.args, path) ?? path;
      internal.provider = spec.provider ?? persistenceOf(ctx.system);
      internal.clock = ctx.system.clock;
      internal.signal = ctx.signal;
      await withJournalRetry(
        spec,
        internal.clock,
        internal.signal,
        () => recover(internal, spec),
        journalDown,
      );
      const recovered = hooks.recovered as UserHook | undefined;
      if (recovered !== undefined) {
        await recovered(
          internal.user,
          contextOf(internal, ctx as unknown as Ctx),
        );
      }
    },
    stopped: hook(hooks.stopped as UserHook | undefined, false) as never,
    childStopped: hook(
      hooks.childStopped as UserHook | undefined,
      true,
    ) as never,
    terminated: hook(hooks.terminated as UserHook | undefined, true) as never,
    supervision: input.supervision,
    mailbox: input.mailbox,
  });
  return definition as unknown as PersistentActorDefinition<A, H>;
}
