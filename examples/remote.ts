// Two processes talking. Run it with `deno task example:remote`.
//
// This file is both sides. Started without arguments it is the "shop" node, which starts the
// same file again in a child process as the "worker" node:
//
// 1. The worker listens on a free loopback port and prints its address; the shop connects.
//    Both nodes prove they know the cluster's secret (the secret itself never crosses the wire).
// 2. The shop spawns a counter on the worker (a remote spawn of a factory the worker
//    registered), then tells it and asks it, through a ref with the same API as a local one.
// 3. A local actor of the shop watches the remote counter. The shop asks the worker process to
//    exit; it exits at once, without closing anything, and the watch fires with the reason.
// 4. The shop closes its node and its system, and the example ends with exit code 0.
import {
  type ActorRef,
  ActorSystem,
  defineActor,
  describeFault,
  RemoteNode,
  type StopNotice,
} from "../mod.ts";

const CLUSTER = "example";
/** Shared by every node of the cluster; a real one comes from a secret store, not the code. */
const SECRET = "example secret, shared by both processes of the demo";

/** The actor type the worker lets other nodes spawn. */
const counter = defineActor({
  name: "counter",
  init: (start: number) => ({ count: start }),
  handlers: {
    add: (state, by: number) => {
      state.count += by;
    },
    get: (state) => state.count,
  },
  started: (state) =>
    console.log(`counter started in process ${Deno.pid} at ${state.count}`),
});

/** How the shop sees the counter: a protocol written as an interface. */
interface Counter {
  add(by: number): void;
  get(): number;
}

if (Deno.args[0] === "worker") await worker();
else await shop();

async function worker(): Promise<void> {
  const system = new ActorSystem({ node: "worker" });
  const node = await RemoteNode.start(system, {
    cluster: CLUSTER,
    secret: SECRET,
  });
  node.register("counter", counter); // other nodes may spawn counters here
  const control = defineActor({
    name: "control",
    init: () => ({}),
    handlers: {
      // Answer, then end the process abruptly: the shop sees the connection drop.
      exit: () => {
        setTimeout(() => Deno.exit(0), 20);
        return "exiting";
      },
    },
  });
  await system.spawn(control, undefined, { id: "control" });
  console.log(`READY ${node.address}`);
}

async function shop(): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "worker"],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = readLines(child.stdout);
  const system = new ActorSystem({ node: "shop" });
  const node = await RemoteNode.start(system, {
    cluster: CLUSTER,
    secret: SECRET,
    // The worker's exit is expected here; say it in one line.
    logger: { error: (message) => console.log(`  (shop log) ${message}`) },
  });
  try {
    const address = await within(readyAddress(lines), 30_000, "the worker");
    // Everything else the worker prints, marked as its own.
    const forwarded = (async () => {
      for await (const line of lines) console.log(`  worker | ${line}`);
    })();

    const peer = await node.connect(address);
    console.log(`1. connected to node "${peer}" at ${address}`);

    const remote = await node.spawn<Counter>(peer, "counter", 40, {
      id: "counter",
    });
    console.log(`2. spawned ${remote.toJSON()} in the worker process`);
    remote.tell("add", 1);
    remote.tell("add", 1);
    console.log(`   told "add" twice; ask "get" -> ${await remote.ask("get")}`);

    let notified!: (notice: StopNotice) => void;
    const stopped = new Promise<StopNotice>((resolve) => notified = resolve);
    const watcher = defineActor({
      name: "watcher",
      init: (target: ActorRef<Counter>) => ({ target }),
      handlers: {},
      started: (state, ctx) => ctx.watch(state.target),
      terminated: (_state, notice) => notified(notice),
    });
    await system.spawn(watcher, remote);
    const control = node.ref<{ exit(): string }>(peer, "control");
    console.log(
      `3. asked the worker to exit -> "${await control.ask("exit")}"`,
    );
    const status = await within(child.status, 10_000, "the worker's exit");
    const notice = await within(stopped, 10_000, "the watch");
    console.log(
      `   the worker process exited (code ${status.code}); the watch fired for ` +
        `${notice.ref.toJSON()}: ${describeFault(notice.fault)}`,
    );
    await forwarded;
  } finally {
    await node.close();
    await system.shutdown();
    try {
      child.kill("SIGKILL");
    } catch {
      // It has exited already.
    }
    await child.status;
  }
  console.log("4. the shop closed its node and its system");
}

/** The lines a child writes to `stream`. */
async function* readLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let buffered = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    let end: number;
    while ((end = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
    }
  }
  if (buffered !== "") yield buffered;
}

async function readyAddress(lines: AsyncGenerator<string>): Promise<string> {
  while (true) {
    const { value, done } = await lines.next();
    if (done) throw new Error("the worker exited before it was ready");
    const match = /^READY (\S+)$/.exec(value);
    if (match !== null) return match[1];
    console.log(`  worker | ${value}`);
  }
}

/** `promise`, or an error naming `what` after `ms` milliseconds. */
async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
