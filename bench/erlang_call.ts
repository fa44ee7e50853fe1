// Erlang's remote gen_server:call against a Troupe remote ask, in the same run: each round runs
// bench/remote_bench.ts's sequential part (a raw TCP ping-pong baseline and sequential remote
// asks between two Deno processes) and then sequential gen_server:calls between two Erlang nodes
// on this machine (bench/erlang/echo_bench.erl), each timed per round trip, one in flight.
//
//   deno run -A bench/erlang_call.ts [--rounds 5] [--calls 20000]
//
// Needs `erl` and `erlc` (Debian's erlang packages); says so and exits 0 without them. Prints
// each round and the medians over the rounds, with ranges, of: raw ping-pong, Troupe ask, Erlang
// call, and the ratios of the two calls to the raw ping-pong of the same round.

const args = new Map<string, string>();
for (let i = 0; i < Deno.args.length; i += 2) {
  args.set(Deno.args[i], Deno.args[i + 1]);
}
const ROUNDS = Number(args.get("--rounds") ?? 5);
const CALLS = Number(args.get("--calls") ?? 20_000);
const here = new URL(".", import.meta.url).pathname;

async function run(cmd: string, argv: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args: argv,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${argv.join(" ")} failed:\n${text}${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return text;
}

async function has(cmd: string): Promise<boolean> {
  try {
    await new Deno.Command(cmd, {
      args: ["-version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return true;
  } catch {
    return false;
  }
}

function lastJson(text: string): Record<string, unknown> {
  const line = text.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
  if (line === undefined) throw new Error(`no JSON line in:\n${text}`);
  return JSON.parse(line);
}

/** One Erlang measurement: a peer node with the echo server, a client node calling it. */
async function erlangRound(beam: string): Promise<number> {
  const tag = Math.random().toString(36).slice(2, 8);
  const cookie = `troupe${tag}`;
  const host = (await run("hostname", ["-s"])).trim();
  const peerName = `troupe_peer_${tag}`;
  // An Erlang node named `name`, with the cluster's cookie and the compiled bench, running `code`.
  const node = (name: string, code: string) => [
    "-sname",
    name,
    "-setcookie",
    cookie,
    "-noshell",
    "-pa",
    beam,
    "-eval",
    code,
  ];
  const peer = new Deno.Command("erl", {
    args: node(peerName, "echo_bench:server()."),
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = peer.stdout.getReader();
    let seen = "";
    while (!seen.includes("READY")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the Erlang peer stopped: ${seen}`);
      seen += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    const out = await run(
      "erl",
      node(
        `troupe_client_${tag}`,
        `echo_bench:client('${peerName}@${host}', ${CALLS}), halt().`,
      ),
    );
    return Number(lastJson(out).medianUs);
  } finally {
    peer.kill("SIGKILL");
    await peer.status;
    await peer.stdout.cancel().catch(() => {});
  }
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
const range = (v: number[], digits = 1) =>
  `${Math.min(...v).toFixed(digits)}–${Math.max(...v).toFixed(digits)}`;

if (!(await has("erl")) || !(await has("erlc"))) {
  console.log("erlang_call: erl or erlc is not installed; nothing measured");
  Deno.exit(0);
}
const beam = await Deno.makeTempDir({ prefix: "troupe-erlang-" });
try {
  await run("erlc", ["-o", beam, `${here}erlang/echo_bench.erl`]);
  const raw: number[] = [], ask: number[] = [], erl: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const troupe = lastJson(
      await run(Deno.execPath(), [
        "run",
        "-A",
        `${here}remote_bench.ts`,
        "--only",
        "sequential",
        "--json",
      ]),
    );
    const erlang = await erlangRound(beam);
    raw.push(Number(troupe.rawUs));
    ask.push(Number(troupe.askUs));
    erl.push(erlang);
    console.log(
      `round ${round}: raw ping-pong ${raw.at(-1)!.toFixed(1)} µs, Troupe ask ${
        ask.at(-1)!.toFixed(1)
      } µs (${
        (ask.at(-1)! / raw.at(-1)!).toFixed(2)
      }× raw), Erlang gen_server:call ${erlang.toFixed(1)} µs (${
        (erlang / raw.at(-1)!).toFixed(2)
      }× raw)`,
    );
  }
  const askRatio = ask.map((a, i) => a / raw[i]);
  const erlRatio = erl.map((e, i) => e / raw[i]);
  const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(
    0,
    3,
  );
  console.log(
    `median of ${ROUNDS}: raw ${median(raw).toFixed(1)} µs (${
      range(raw)
    }), Troupe ask ${median(ask).toFixed(1)} µs (${range(ask)}) = ${
      median(askRatio).toFixed(2)
    }× raw (${range(askRatio, 2)}), Erlang call ${median(erl).toFixed(1)} µs (${
      range(erl)
    }) = ${median(erlRatio).toFixed(2)}× raw (${
      range(erlRatio, 2)
    }); Troupe ÷ Erlang ${
      median(ask.map((a, i) => a / erl[i])).toFixed(2)
    }; load ${load.join(" ")}`,
  );
} finally {
  await Deno.remove(beam, { recursive: true });
}
