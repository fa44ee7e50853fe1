// What a small byte array costs per allocation on this runtime, against a view of an existing
// buffer (the baseline, measured in the same rounds): why short encodings are views into a shared
// slab (jsonCodec, src/actor/codec.ts; the Redis batcher's records).
//
//   deno run bench/runtimes/alloc_runtimes.mjs [--rounds 7]
//   node bench/runtimes/alloc_runtimes.mjs
//   bun bench/runtimes/alloc_runtimes.mjs
//
// Each round allocates 1M of each kind in turn (a few are kept so nothing is optimized away);
// prints ns per allocation: the median of the rounds and their range.
const args = globalThis.Deno ? Deno.args : process.argv.slice(2);
const at = args.indexOf("--rounds");
const ROUNDS = at >= 0 ? Number(args[at + 1]) : 7;
const N = 1_000_000;
const runtime = globalThis.Deno
  ? `Deno ${Deno.version.deno}`
  : globalThis.Bun
  ? `Bun ${Bun.version}`
  : `Node ${process.version.slice(1)}`;

const big = new Uint8Array(1 << 20);
let keep = [];
const KINDS = {
  "view (subarray of a 1 MiB buffer), baseline": (i) =>
    big.subarray(i & 0xffff, (i & 0xffff) + 8),
  "new Uint8Array(8)": () => new Uint8Array(8),
  "new Uint8Array(100)": () => new Uint8Array(100),
};
const times = Object.fromEntries(Object.keys(KINDS).map((k) => [k, []]));
for (let round = 0; round < ROUNDS + 1; round++) {
  for (const [kind, make] of Object.entries(KINDS)) {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const bytes = make(i);
      if ((i & 1023) === 0) keep.push(bytes);
    }
    const ns = (performance.now() - t0) * 1e6 / N;
    if (round > 0) times[kind].push(ns); // round 0 warms up
    keep = [];
  }
}
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
console.log(
  `${runtime}: ns per allocation, median of ${ROUNDS} rounds (range)`,
);
for (const [kind, v] of Object.entries(times)) {
  console.log(
    `  ${kind}: ${median(v).toFixed(0)} (${Math.min(...v).toFixed(0)}–${
      Math.max(...v).toFixed(0)
    })`,
  );
}
