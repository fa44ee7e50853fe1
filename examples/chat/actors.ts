// The chat's two actor types.
//
// - A stream is a sharded, persistent entity (one per stream name, somewhere in the cluster):
//   a post is appended to its journal first, and only then published on the stream's topic, so
//   nobody ever sees a message that was not stored. A join answers the recent history.
// - A connection is a plain actor on the node that serves one browser (or scripted client). It
//   subscribes to the topic of each stream it joins and writes what arrives to the browser's
//   event stream. Pub/sub delivers at most once, so a connection that sees a gap in a stream's
//   sequence numbers asks the stream for what it missed: the browser sees every message, once,
//   in order, as long as later messages keep arriving.
import {
  type ActorRef,
  defineActor,
  definePersistentActor,
  type ProtocolOfDefinition,
} from "../../mod.ts";
import type {
  Publication,
  PubSub,
  Topic,
  TopicSubscriber,
} from "../../src/cluster/mod.ts";
import {
  type ChatEvents,
  type ChatMessage,
  HISTORY_LIMIT,
  type StreamHistory,
} from "./protocol.ts";

/** What a stream entity stores per post (the rest of a message follows from the stream). */
interface Posted {
  readonly from: string;
  readonly text: string;
  readonly at: number;
  readonly via: string;
}

function historyOf(
  stream: string,
  messages: readonly ChatMessage[],
): StreamHistory {
  return {
    stream,
    messages: messages.slice(-HISTORY_LIMIT),
    total: messages.length,
  };
}

/**
 * The stream entity type. `publish` puts a stored message on the stream's topic; `node` is the
 * name of the node the entity runs on (for `where`).
 */
export function defineStream(
  publish: (message: ChatMessage) => void,
  node: string,
) {
  return definePersistentActor({
    name: "stream",
    // The same id on every node, so a stream that moves finds its journal again.
    persistenceId: (id: string) => `chat-stream:${id}`,
    init: (id: string) => ({ id, messages: [] as ChatMessage[] }),
    events: {
      posted: (state, e: Posted) => {
        state.messages.push({
          stream: state.id,
          seq: state.messages.length + 1,
          ...e,
        });
      },
    },
    snapshotEvery: 500,
  }).handlers({
    /** Joining: the recent history. */
    join: (state): StreamHistory => historyOf(state.id, state.messages),
    /** The messages after `seq` (what a connection missed). */
    since: (state, seq: number): ChatMessage[] =>
      state.messages.slice(Math.max(0, seq)),
    /** Stores a post, then publishes it; answers the stored message. */
    post: async (
      state,
      p: { from: string; text: string; via: string },
      ctx,
    ): Promise<ChatMessage> => {
      await ctx.persist("posted", { ...p, at: Date.now() });
      const message = state.messages[state.messages.length - 1];
      publish(message);
      return message;
    },
    /** Where the stream runs, and how many messages it holds. */
    where: (state): { node: string; total: number } => ({
      node,
      total: state.messages.length,
    }),
  });
}

/** The protocol of a stream entity's refs. */
export type StreamProtocol = ProtocolOfDefinition<
  ReturnType<typeof defineStream>
>;

/** A ref to a stream entity by its name. */
export type StreamRefs = (stream: string) => ActorRef<StreamProtocol>;

/** What a connection actor starts with. */
export interface ConnectionArgs {
  /** The streams, by name (sharding refs). */
  readonly streams: StreamRefs;
  /** This node's pub/sub. */
  readonly pubsub: PubSub;
  /** The chat topic (keyed by stream name). */
  readonly topic: Topic<ChatMessage>;
  /** Writes one frame to the browser's event stream. */
  readonly send: <K extends keyof ChatEvents>(
    event: K,
    data: ChatEvents[K],
  ) => void;
}

/** A browser connection: subscribed to the streams it joined, writing to its event stream. */
export const connection = defineActor({
  name: "connection",
  init: (args: ConnectionArgs) => ({
    args,
    /** Per joined stream: the last sequence number sent to the browser. */
    last: new Map<string, number>(),
  }),
  handlers: {
    /** Joins a stream: subscribe first, then read the history, so nothing falls in between. */
    join: async (state, stream: string, ctx): Promise<StreamHistory> => {
      const { args } = state;
      args.pubsub.subscribe(
        args.topic.withKey(stream),
        ctx.self as ActorRef<TopicSubscriber<ChatMessage>>,
      );
      const history = await args.streams(stream).ask("join");
      // Publications that arrived meanwhile wait in the mailbox; those up to `total` are
      // dropped below as already shown.
      state.last.set(
        stream,
        Math.max(state.last.get(stream) ?? 0, history.total),
      );
      args.send("history", history);
      return history;
    },
    publication: async (state, p: Publication<ChatMessage>): Promise<void> => {
      const message = p.message;
      const last = state.last.get(message.stream);
      if (last === undefined || message.seq <= last) return;
      let missed: readonly ChatMessage[] = [message];
      if (message.seq > last + 1) {
        // Pub/sub lost some (at most once): read them from the stream, in order.
        missed = await state.args.streams(message.stream).ask("since", last);
      }
      for (const m of missed) {
        if (m.seq <= (state.last.get(m.stream) ?? 0)) continue;
        state.last.set(m.stream, m.seq);
        state.args.send("message", m);
      }
    },
  },
});
