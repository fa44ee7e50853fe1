// The frame transport over loopback against raw TCP in the same run:
//
// - throughput: 64-byte frames one way, until the receiver has them all. Baseline: one
//   `conn.write` per frame (the writes are queued without waiting, so the baseline is as fast as
//   one write per frame can be) and a receiver that only counts bytes.
// - ping-pong: one frame each way, awaited, repeated. Baseline: the same 68 bytes as raw TCP.
//
// FrameConnection runs over TCP, TLS and the in-memory network (MemoryNetwork, two hosts in one
// process, no latency): the last shows the cost of the frame layer alone.
//
// Each iteration sets up its own connection pair outside the timed part (b.start/b.end) and
// closes it, so nothing outlives the bench. Divide the frame count in the name by the time per
// iteration to get frames/s.
//
//   deno bench -A bench/transport_bench.ts
import { platform, type TcpConn } from "../src/platform/mod.ts";
import {
  connectFrames,
  FrameConnection,
  listenFrames,
  type ListenFramesOptions,
  MemoryNetwork,
} from "../src/remote/transport/mod.ts";
import {
  LOCALHOST_CERTIFICATE,
  LOCALHOST_PRIVATE_KEY,
} from "../tests/fixtures/tls/localhost.ts";

const PAYLOAD_BYTES = 64;
const FRAME_BYTES = PAYLOAD_BYTES + 4;
const THROUGHPUT_FRAMES = 200_000;
const ROUND_TRIPS = 500;

interface RawPair {
  client: TcpConn;
  server: TcpConn;
  close(): void;
}

async function rawPair(): Promise<RawPair> {
  const listener = await platform.listen({ port: 0 });
  const [client, server] = await Promise.all([
    platform.connect({ port: listener.addr.port }),
    listener.accept(),
  ]);
  listener.close();
  client.setNoDelay(true);
  server.setNoDelay(true);
  return {
    client,
    server,
    close: () => {
      client.close();
      server.close();
    },
  };
}

interface FramePair {
  client: FrameConnection;
  server: FrameConnection;
  close(): void;
}

type Carrier = "tcp" | "tls" | "memory";

const CARRIER_NAMES: Readonly<Record<Carrier, string>> = {
  tcp: "",
  tls: " over TLS",
  memory: " over MemoryNetwork",
};

/** Two FrameConnections between two hosts of an in-memory network. */
async function memoryPair(): Promise<FramePair> {
  const network = new MemoryNetwork();
  const listener = await network.transport("b").listen({ port: 0 });
  const accepting = listener.accept();
  const client = new FrameConnection(
    await network.transport("a").connect({
      hostname: "b",
      port: listener.addr.port,
    }),
  );
  const server = new FrameConnection(await accepting);
  listener.close();
  return {
    client,
    server,
    close: () => {
      client.close();
      server.close();
    },
  };
}

async function framePair(carrier: Carrier = "tcp"): Promise<FramePair> {
  if (carrier === "memory") return memoryPair();
  const tls = carrier === "tls";
  let resolveServer!: (conn: FrameConnection) => void;
  const accepted = new Promise<FrameConnection>((resolve) => {
    resolveServer = resolve;
  });
  const options: ListenFramesOptions = tls
    ? {
      port: 0,
      tls: {
        certificate: LOCALHOST_CERTIFICATE,
        privateKey: LOCALHOST_PRIVATE_KEY,
      },
    }
    : { port: 0 };
  const listener = await listenFrames(options, resolveServer);
  const client = await connectFrames({
    port: listener.addr.port,
    ...(tls ? { tls: { caCertificates: [LOCALHOST_CERTIFICATE] } } : {}),
  });
  const server = await accepted;
  await listener.close();
  return {
    client,
    server,
    close: () => {
      client.close();
      server.close();
    },
  };
}

/** Reads until `bytes` bytes arrived. */
async function readBytes(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  bytes: number,
): Promise<void> {
  let received = 0;
  while (received < bytes) {
    const { value, done } = await reader.read();
    if (done) {
      throw new Error(`stream ended after ${received} of ${bytes} bytes`);
    }
    received += value.byteLength;
  }
}

function frameOf(payloadBytes: number): Uint8Array {
  const frame = new Uint8Array(4 + payloadBytes);
  new DataView(frame.buffer).setUint32(0, payloadBytes);
  return frame;
}

// ---- throughput -----------------------------------------------------------------------------

Deno.bench({
  name:
    `raw TCP: one conn.write per 64-byte frame (${THROUGHPUT_FRAMES} frames)`,
  group: "throughput",
  baseline: true,
  n: 10,
  warmup: 2,
  async fn(b) {
    const pair = await rawPair();
    try {
      const reader = pair.server.readable.getReader();
      const writer = pair.client.writable.getWriter();
      const frame = frameOf(PAYLOAD_BYTES);
      b.start();
      const receiving = readBytes(reader, THROUGHPUT_FRAMES * FRAME_BYTES);
      let last: Promise<void> = Promise.resolve();
      for (let i = 0; i < THROUGHPUT_FRAMES; i++) last = writer.write(frame);
      await Promise.all([last, receiving]);
      b.end();
    } finally {
      pair.close();
    }
  },
});

for (const carrier of ["tcp", "tls", "memory"] as const) {
  Deno.bench({
    name: `FrameConnection${
      CARRIER_NAMES[carrier]
    }: send() per 64-byte frame (${THROUGHPUT_FRAMES} frames)`,
    group: "throughput",
    n: 50,
    warmup: 5,
    async fn(b) {
      const pair = await framePair(carrier);
      try {
        let received = 0;
        let done!: () => void;
        const all = new Promise<void>((resolve) => {
          done = resolve;
        });
        pair.server.start({
          onFrame: () => {
            if (++received === THROUGHPUT_FRAMES) done();
          },
          onClose: () => {},
        });
        const payload = new Uint8Array(PAYLOAD_BYTES);
        b.start();
        for (let i = 0; i < THROUGHPUT_FRAMES; i++) pair.client.send(payload);
        await all;
        b.end();
      } finally {
        pair.close();
      }
    },
  });
}

// ---- ping-pong ------------------------------------------------------------------------------

Deno.bench({
  name: `raw TCP ping-pong, 68 bytes each way (${ROUND_TRIPS} round trips)`,
  group: "ping-pong",
  baseline: true,
  n: 20,
  warmup: 2,
  async fn(b) {
    const pair = await rawPair();
    try {
      const frame = frameOf(PAYLOAD_BYTES);
      // The server answers each complete 68 bytes with 68 bytes.
      const serverReader = pair.server.readable.getReader();
      const serverWriter = pair.server.writable.getWriter();
      const serving = (async (): Promise<void> => {
        let pending = 0;
        while (true) {
          const { value, done } = await serverReader.read().catch(() => ({
            value: undefined,
            done: true,
          }));
          if (done || value === undefined) return;
          pending += value.byteLength;
          while (pending >= FRAME_BYTES) {
            pending -= FRAME_BYTES;
            await serverWriter.write(frame);
          }
        }
      })();
      const clientReader = pair.client.readable.getReader();
      const clientWriter = pair.client.writable.getWriter();
      b.start();
      for (let i = 0; i < ROUND_TRIPS; i++) {
        await clientWriter.write(frame);
        await readBytes(clientReader, FRAME_BYTES);
      }
      b.end();
      pair.close();
      await serving.catch(() => {});
    } finally {
      pair.close();
    }
  },
});

for (const carrier of ["tcp", "memory"] as const) {
  Deno.bench({
    name: `FrameConnection${
      CARRIER_NAMES[carrier]
    } ping-pong, one 64-byte frame each way (${ROUND_TRIPS} round trips)`,
    group: "ping-pong",
    n: 20,
    warmup: 2,
    async fn(b) {
      const pair = await framePair(carrier);
      try {
        const server = pair.server;
        server.start({
          onFrame: (payload) => server.send(payload),
          onClose: () => {},
        });
        let wake: () => void = () => {};
        pair.client.start({ onFrame: () => wake(), onClose: () => {} });
        const payload = new Uint8Array(PAYLOAD_BYTES);
        b.start();
        for (let i = 0; i < ROUND_TRIPS; i++) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            pair.client.send(payload);
          });
        }
        b.end();
      } finally {
        pair.close();
      }
    },
  });
}
