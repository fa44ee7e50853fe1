import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  Counter,
  DEFAULT_TIME_BUCKETS,
  Gauge,
  Histogram,
  isValidLabelName,
  isValidMetricName,
  MetricsRegistry,
  PROMETHEUS_CONTENT_TYPE,
} from "./mod.ts";

/** Joins lines into an exposition, each line ending with `\n`. */
function text(...lines: string[]): string {
  return lines.map((line) => line + "\n").join("");
}

// --- names -------------------------------------------------------------------------------------

test("isValidMetricName() accepts the Prometheus grammar and rejects the rest", () => {
  for (const name of ["a", "_a", ":a", "a:b_c9", "troupe_sent_total", "A"]) {
    assert.equal(isValidMetricName(name), true, name);
  }
  for (const name of ["", "9a", "a-b", "a b", "a.b", "é", "a\n"]) {
    assert.equal(isValidMetricName(name), false, name);
  }
  assert.equal(isValidMetricName(42 as unknown as string), false);
});

test("isValidLabelName() rejects colons, a leading digit and the reserved __ prefix", () => {
  for (const name of ["a", "_a", "actor", "le", "a_9"]) {
    assert.equal(isValidLabelName(name), true, name);
  }
  for (const name of ["", "a:b", "9a", "__name__", "__x", "a-b", "a b"]) {
    assert.equal(isValidLabelName(name), false, name);
  }
});

// --- counters ----------------------------------------------------------------------------------

test("Counter.inc() adds 1 by default and the given amount otherwise", () => {
  const counter = new Counter("sent_total", "Messages sent.");
  assert.equal(counter.value(), 0);
  counter.inc();
  counter.inc(2.5);
  counter.inc(0);
  assert.equal(counter.value(), 3.5);
  assert.equal(counter.labels().value, 3.5);
});

test("Counter constructor throws TypeError unless the name ends in _total", () => {
  assert.throws(() => new Counter("sent", "Messages sent."), TypeError);
  assert.throws(() => new Counter("sent_totals", "x"), TypeError);
  assert.throws(() => new Counter("1_total", "x"), TypeError);
  assert.equal(new Counter("_total", "x").name, "_total");
});

test("CounterChild.inc() throws RangeError for a negative or NaN increment and keeps the value", () => {
  const counter = new Counter("sent_total", "Messages sent.", {
    labelNames: ["to"],
  });
  const child = counter.labels("a");
  child.inc(2);
  assert.throws(() => child.inc(-1), RangeError);
  assert.throws(() => child.inc(NaN), RangeError);
  assert.throws(() => child.inc(-Infinity), RangeError);
  assert.equal(child.value, 2);
  const plain = new Counter("plain_total", "x");
  assert.throws(() => plain.inc(-0.5), RangeError);
  assert.equal(plain.value(), 0);
});

test("Counter.labels() returns the same child for the same values and another for others", () => {
  const counter = new Counter("sent_total", "x", {
    labelNames: ["from", "to"],
  });
  const ab = counter.labels("a", "b");
  assert.equal(counter.labels("a", "b"), ab);
  assert.notEqual(counter.labels("a", "c"), ab);
  assert.notEqual(counter.labels("b", "a"), ab);
  ab.inc(3);
  counter.labels("a", "c").inc();
  assert.equal(counter.value("a", "b"), 3);
  assert.equal(counter.value("a", "c"), 1);
  assert.equal(counter.value("b", "a"), 0);
});

test("Counter.labels() keeps values apart that a joined key could confuse", () => {
  const counter = new Counter("sent_total", "x", {
    labelNames: ["from", "to"],
  });
  const first = counter.labels("a\u0000b", "c");
  const second = counter.labels("a", "b\u0000c");
  const third = counter.labels("", "a\u0000b\u0000c");
  assert.notEqual(first, second);
  assert.notEqual(second, third);
  assert.notEqual(first, third);
  first.inc();
  assert.equal(counter.value("a", "b\u0000c"), 0);
  assert.equal(counter.value("a\u0000b", "c"), 1);
});

test("Counter.labels() throws TypeError for the wrong number of values or a non-string value", () => {
  const counter = new Counter("sent_total", "x", { labelNames: ["to"] });
  assert.throws(() => counter.labels(), TypeError);
  assert.throws(() => counter.labels("a", "b"), TypeError);
  assert.throws(() => counter.labels(1 as unknown as string), TypeError);
  assert.throws(() => counter.value("a", "b"), TypeError);
  const plain = new Counter("plain_total", "x");
  assert.throws(() => plain.labels("a"), TypeError);
  assert.equal(plain.labels(), plain.labels());
});

test("Counter.inc() throws TypeError on a counter with labels", () => {
  const counter = new Counter("sent_total", "x", { labelNames: ["to"] });
  assert.throws(() => counter.inc(), TypeError);
});

test("Counter.value() does not create the child it reads", () => {
  const registry = new MetricsRegistry();
  const counter = registry.counter("sent_total", "Sent.", ["to"]);
  assert.equal(counter.value("a"), 0);
  assert.deepEqual(counter.snapshot().samples, []);
  assert.equal(
    registry.prometheusText(),
    text("# HELP sent_total Sent.", "# TYPE sent_total counter"),
  );
});

// --- gauges ------------------------------------------------------------------------------------

test("Gauge.set(), inc() and dec() move the value both ways", () => {
  const gauge = new Gauge("live_actors", "Alive.");
  gauge.set(10);
  gauge.inc();
  gauge.inc(4);
  gauge.dec();
  gauge.dec(20);
  assert.equal(gauge.value(), -6);
  gauge.inc(-1);
  assert.equal(gauge.value(), -7);
});

test("GaugeChild keeps one value per combination of labels", () => {
  const gauge = new Gauge("mailbox_length", "Queued.", {
    labelNames: ["actor"],
  });
  const orders = gauge.labels("orders");
  assert.equal(gauge.labels("orders"), orders);
  orders.set(5);
  orders.inc();
  gauge.labels("users").dec(2);
  assert.equal(orders.value, 6);
  assert.equal(gauge.value("orders"), 6);
  assert.equal(gauge.value("users"), -2);
});

test("Gauge.set(), inc() and dec() throw TypeError on a gauge with labels", () => {
  const gauge = new Gauge("mailbox_length", "Queued.", {
    labelNames: ["actor"],
  });
  assert.throws(() => gauge.set(1), TypeError);
  assert.throws(() => gauge.inc(), TypeError);
  assert.throws(() => gauge.dec(), TypeError);
});

// --- histograms --------------------------------------------------------------------------------

test("HistogramChild.observe() updates count, sum and cumulative bucket counts", () => {
  const histogram = new Histogram("batch_size", "Batch size.", {
    buckets: [1, 5, 10],
  });
  for (const value of [0, 3, 4, 7, 100]) histogram.observe(value);
  const child = histogram.labels();
  assert.equal(child.count, 5);
  assert.equal(child.sum, 114);
  assert.deepEqual(child.buckets, [1, 5, 10]);
  assert.deepEqual(child.bucketCounts(), [1, 3, 4, 5]);
});

test("HistogramChild.observe() counts a value equal to a bound in that bound's bucket", () => {
  const histogram = new Histogram("handle_seconds", "Handling time.");
  const child = histogram.labels();
  child.observe(0.001);
  assert.deepEqual(child.bucketCounts(), [
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
  ]);
  child.observe(0.000001); // the first bound
  child.observe(10); // the last bound
  child.observe(10.000001); // above every bound: +Inf only
  child.observe(-5); // below every bound: first bucket
  const counts = child.bucketCounts();
  assert.equal(counts[0], 2);
  assert.equal(counts[DEFAULT_TIME_BUCKETS.indexOf(0.001)], 3);
  assert.equal(counts[DEFAULT_TIME_BUCKETS.indexOf(0.00025)], 2);
  assert.equal(counts[DEFAULT_TIME_BUCKETS.length - 1], 4);
  assert.equal(counts[DEFAULT_TIME_BUCKETS.length], 5);
  assert.equal(child.count, 5);
});

test("HistogramChild.observe() counts NaN only in the +Inf bucket", () => {
  const histogram = new Histogram("x_seconds", "x", { buckets: [1, 2] });
  histogram.observe(NaN);
  assert.deepEqual(histogram.labels().bucketCounts(), [0, 0, 1]);
  assert.ok(Number.isNaN(histogram.labels().sum));
});

test("Histogram uses DEFAULT_TIME_BUCKETS unless told otherwise", () => {
  assert.deepEqual(DEFAULT_TIME_BUCKETS, [
    0.000001,
    0.0000025,
    0.00001,
    0.000025,
    0.0001,
    0.00025,
    0.001,
    0.0025,
    0.01,
    0.025,
    0.1,
    0.25,
    1,
    2.5,
    10,
  ]);
  assert.ok(Object.isFrozen(DEFAULT_TIME_BUCKETS));
  const histogram = new Histogram("x_seconds", "x");
  assert.deepEqual(histogram.buckets, DEFAULT_TIME_BUCKETS);
  assert.equal(histogram.labels().bucketCounts().length, 16);
});

test("Histogram constructor checks the bucket bounds", () => {
  const make = (buckets: readonly number[]) => () =>
    new Histogram("x_seconds", "x", { buckets });
  assert.throws(make([2, 1]), RangeError);
  assert.throws(make([1, 1]), RangeError);
  assert.throws(make([1, NaN]), RangeError);
  assert.throws(make([-Infinity, 1]), RangeError);
  assert.throws(make([Infinity, 1]), RangeError);
  assert.throws(make(["1" as unknown as number]), TypeError);
  assert.throws(make("1,2" as unknown as number[]), TypeError);
  assert.deepEqual(
    new Histogram("x", "x", { buckets: [1, Infinity] }).buckets,
    [
      1,
    ],
  );
  const onlyInf = new Histogram("y", "y", { buckets: [] });
  onlyInf.observe(3);
  assert.deepEqual(onlyInf.labels().bucketCounts(), [1]);
});

test("Histogram constructor throws TypeError for a label named le", () => {
  assert.throws(
    () => new Histogram("x_seconds", "x", { labelNames: ["le"] }),
    TypeError,
  );
});

test("Histogram.observe() throws TypeError on a histogram with labels", () => {
  const histogram = new Histogram("x_seconds", "x", { labelNames: ["a"] });
  assert.throws(() => histogram.observe(1), TypeError);
  assert.equal(histogram.labels("b"), histogram.labels("b"));
});

// --- validation --------------------------------------------------------------------------------

test("MetricsRegistry throws TypeError for invalid metric and label names", () => {
  const registry = new MetricsRegistry();
  assert.throws(() => registry.counter("bad-name_total", "x"), TypeError);
  assert.throws(() => registry.gauge("", "x"), TypeError);
  assert.throws(() => registry.histogram("9lives", "x"), TypeError);
  assert.throws(() => registry.gauge("g", "x", ["a:b"]), TypeError);
  assert.throws(() => registry.gauge("g", "x", ["__reserved"]), TypeError);
  assert.throws(() => registry.gauge("g", "x", ["9"]), TypeError);
  assert.throws(() => registry.gauge("g", "x", ["a", "a"]), TypeError);
  assert.throws(() => registry.counter("sent", "x"), TypeError);
  assert.throws(
    () => registry.gauge("g", 5 as unknown as string),
    TypeError,
  );
  // Nothing was registered by the failed calls.
  assert.equal(registry.get("g"), undefined);
  assert.equal(registry.prometheusText(), "");
  assert.equal(registry.gauge("g", "x", ["a"]).labelNames[0], "a");
});

test("MetricsRegistry constructor checks the prefix and const labels", () => {
  assert.throws(() => new MetricsRegistry({ prefix: "9_" }), TypeError);
  assert.throws(() => new MetricsRegistry({ prefix: "a-" }), TypeError);
  assert.throws(
    () => new MetricsRegistry({ constLabels: { "a:b": "x" } }),
    TypeError,
  );
  assert.throws(
    () => new MetricsRegistry({ constLabels: { __node: "x" } }),
    TypeError,
  );
  assert.throws(
    () =>
      new MetricsRegistry({
        constLabels: { node: 1 as unknown as string },
      }),
    TypeError,
  );
  assert.equal(new MetricsRegistry({ prefix: "troupe:" }).prefix, "troupe:");
});

// --- registration ------------------------------------------------------------------------------

test("MetricsRegistry returns the existing metric when the same one is registered again", () => {
  const registry = new MetricsRegistry();
  const counter = registry.counter("sent_total", "Sent.", ["to"]);
  const gauge = registry.gauge("queued", "Queued.");
  const histogram = registry.histogram("ask_seconds", "Asks.", {
    labelNames: ["actor"],
    buckets: [0.1, 1],
  });
  const defaults = registry.histogram("handle_seconds", "Handling.");
  assert.equal(registry.counter("sent_total", "Other help.", ["to"]), counter);
  assert.equal(registry.gauge("queued", "Queued.", []), gauge);
  assert.equal(
    registry.histogram("ask_seconds", "Asks.", {
      labelNames: ["actor"],
      buckets: [0.1, 1, Infinity],
    }),
    histogram,
  );
  assert.equal(
    registry.histogram("handle_seconds", "Handling.", {
      buckets: DEFAULT_TIME_BUCKETS,
    }),
    defaults,
  );
  assert.equal(registry.get("sent_total"), counter);
  assert.equal(registry.get("queued"), gauge);
  assert.equal(registry.get("ask_seconds"), histogram);
  assert.equal(registry.get("missing"), undefined);
  assert.equal(registry.snapshot().length, 4);
});

test("MetricsRegistry throws TypeError for a conflicting re-registration", () => {
  const registry = new MetricsRegistry();
  registry.counter("sent_total", "Sent.", ["to"]);
  registry.histogram("ask_seconds", "Asks.", { buckets: [0.1, 1] });
  assert.throws(() => registry.gauge("sent_total", "Sent."), TypeError);
  assert.throws(() => registry.counter("sent_total", "Sent."), TypeError);
  assert.throws(
    () => registry.counter("sent_total", "Sent.", ["from"]),
    TypeError,
  );
  assert.throws(
    () => registry.counter("sent_total", "Sent.", ["to", "from"]),
    TypeError,
  );
  assert.throws(
    () => registry.histogram("ask_seconds", "Asks.", { buckets: [0.1, 2] }),
    TypeError,
  );
  assert.throws(() => registry.histogram("ask_seconds", "Asks."), TypeError);
  assert.throws(
    () =>
      registry.histogram("ask_seconds", "Asks.", {
        labelNames: ["a"],
        buckets: [0.1, 1],
      }),
    /already registered as a histogram/,
  );
});

test("MetricsRegistry throws TypeError when a name collides with a histogram's samples", () => {
  const registry = new MetricsRegistry();
  registry.histogram("ask_seconds", "Asks.");
  assert.throws(() => registry.gauge("ask_seconds_count", "x"), TypeError);
  assert.throws(() => registry.gauge("ask_seconds_sum", "x"), TypeError);
  assert.throws(() => registry.gauge("ask_seconds_bucket", "x"), TypeError);
  registry.gauge("batch_sum", "x");
  assert.throws(() => registry.histogram("batch", "x"), TypeError);
  assert.equal(registry.get("batch"), undefined);
  assert.equal(registry.get("ask_seconds_count"), undefined);
});

test("MetricsRegistry throws TypeError when a metric label repeats a const label", () => {
  const registry = new MetricsRegistry({ constLabels: { node: "a" } });
  assert.throws(() => registry.counter("sent_total", "x", ["node"]), TypeError);
  assert.equal(registry.get("sent_total"), undefined);
  const withLe = new MetricsRegistry({ constLabels: { le: "x" } });
  assert.throws(() => withLe.histogram("ask_seconds", "x"), TypeError);
  assert.equal(withLe.gauge("g", "x").name, "g");
});

test("MetricsRegistry puts the prefix in front of names but get() takes the short name", () => {
  const registry = new MetricsRegistry({ prefix: "troupe_" });
  const counter = registry.counter("sent_total", "Sent.");
  assert.equal(counter.name, "troupe_sent_total");
  assert.equal(registry.get("sent_total"), counter);
  assert.equal(registry.get("troupe_sent_total"), undefined);
  assert.equal(registry.counter("sent_total", "Sent."), counter);
});

// --- exposition --------------------------------------------------------------------------------

test("MetricsRegistry.prometheusText() renders a small registry exactly", () => {
  const registry = new MetricsRegistry({
    prefix: "troupe_",
    constLabels: { node: "n1" },
  });
  const sent = registry.counter("sent_total", "Messages sent.", [
    "from",
    "to",
  ]);
  const live = registry.gauge("live_actors", "Actors alive now.");
  const ask = registry.histogram("ask_seconds", "Ask round trips.", {
    labelNames: ["actor"],
    buckets: [0.01, 0.1, 1],
  });
  registry.gauge("unused", "Never set.", ["x"]);

  // Creation order, not sorted order.
  sent.labels("z", "a").inc(2);
  sent.labels("a", "z").inc();
  live.set(3);
  const orders = ask.labels("orders");
  orders.observe(0.01);
  orders.observe(0.5);
  orders.observe(4);
  ask.labels("users");

  assert.equal(
    registry.prometheusText(),
    text(
      "# HELP troupe_sent_total Messages sent.",
      "# TYPE troupe_sent_total counter",
      'troupe_sent_total{node="n1",from="z",to="a"} 2',
      'troupe_sent_total{node="n1",from="a",to="z"} 1',
      "# HELP troupe_live_actors Actors alive now.",
      "# TYPE troupe_live_actors gauge",
      'troupe_live_actors{node="n1"} 3',
      "# HELP troupe_ask_seconds Ask round trips.",
      "# TYPE troupe_ask_seconds histogram",
      'troupe_ask_seconds_bucket{node="n1",actor="orders",le="0.01"} 1',
      'troupe_ask_seconds_bucket{node="n1",actor="orders",le="0.1"} 1',
      'troupe_ask_seconds_bucket{node="n1",actor="orders",le="1"} 2',
      'troupe_ask_seconds_bucket{node="n1",actor="orders",le="+Inf"} 3',
      'troupe_ask_seconds_sum{node="n1",actor="orders"} 4.51',
      'troupe_ask_seconds_count{node="n1",actor="orders"} 3',
      'troupe_ask_seconds_bucket{node="n1",actor="users",le="0.01"} 0',
      'troupe_ask_seconds_bucket{node="n1",actor="users",le="0.1"} 0',
      'troupe_ask_seconds_bucket{node="n1",actor="users",le="1"} 0',
      'troupe_ask_seconds_bucket{node="n1",actor="users",le="+Inf"} 0',
      'troupe_ask_seconds_sum{node="n1",actor="users"} 0',
      'troupe_ask_seconds_count{node="n1",actor="users"} 0',
      "# HELP troupe_unused Never set.",
      "# TYPE troupe_unused gauge",
    ),
  );
});

test("MetricsRegistry.prometheusText() renders unlabelled metrics without braces", () => {
  const registry = new MetricsRegistry();
  registry.counter("started_total", "Started.");
  registry.histogram("size", "Size.", { buckets: [2] }).observe(2);
  assert.equal(
    registry.prometheusText(),
    text(
      "# HELP started_total Started.",
      "# TYPE started_total counter",
      "started_total 0",
      "# HELP size Size.",
      "# TYPE size histogram",
      'size_bucket{le="2"} 1',
      'size_bucket{le="+Inf"} 1',
      "size_sum 2",
      "size_count 1",
    ),
  );
});

test("MetricsRegistry.prometheusText() is empty for an empty registry", () => {
  assert.equal(new MetricsRegistry().prometheusText(), "");
  assert.equal(
    PROMETHEUS_CONTENT_TYPE,
    "text/plain; version=0.0.4; charset=utf-8",
  );
});

test("MetricsRegistry.prometheusText() escapes label values and help text", () => {
  const registry = new MetricsRegistry({
    constLabels: { node: 'say "hi"' },
  });
  const gauge = registry.gauge(
    "weird",
    'Back\\slash, "quotes" and\na new line.',
    ["path"],
  );
  gauge.labels('C:\\dir\\"x"\nnext').set(1);
  gauge.labels("ünïcode ✓").set(2);
  assert.equal(
    registry.prometheusText(),
    text(
      '# HELP weird Back\\\\slash, "quotes" and\\na new line.',
      "# TYPE weird gauge",
      'weird{node="say \\"hi\\"",path="C:\\\\dir\\\\\\"x\\"\\nnext"} 1',
      'weird{node="say \\"hi\\"",path="ünïcode ✓"} 2',
    ),
  );
});

test("MetricsRegistry.prometheusText() formats numbers as Prometheus expects", () => {
  const registry = new MetricsRegistry();
  const gauge = registry.gauge("value", "Values.", ["case"]);
  const cases: [string, number, string][] = [
    ["integer", 3, "3"],
    ["negative", -42, "-42"],
    ["fraction", 1.5, "1.5"],
    ["tiny", 1e-7, "1e-7"],
    ["huge", 1e21, "1e+21"],
    ["negative_zero", -0, "0"],
    ["inf", Infinity, "+Inf"],
    ["minus_inf", -Infinity, "-Inf"],
    ["nan", NaN, "NaN"],
  ];
  for (const [name, value] of cases) gauge.labels(name).set(value);
  const lines = registry.prometheusText().trimEnd().split("\n").slice(2);
  assert.deepEqual(
    lines,
    cases.map(([name, , formatted]) => `value{case="${name}"} ${formatted}`),
  );
});

test("MetricsRegistry.prometheusText() formats bucket bounds like sample values", () => {
  const registry = new MetricsRegistry();
  registry.histogram("h", "x", { buckets: [1e-7, 0.0000025, 2, 100] });
  assert.deepEqual(
    registry.prometheusText().split("\n").filter((line) =>
      line.startsWith("h_bucket")
    ),
    [
      'h_bucket{le="1e-7"} 0',
      'h_bucket{le="0.0000025"} 0',
      'h_bucket{le="2"} 0',
      'h_bucket{le="100"} 0',
      'h_bucket{le="+Inf"} 0',
    ],
  );
});

test("MetricsRegistry.prometheusText() writes only lines of the text format", () => {
  const registry = new MetricsRegistry({ constLabels: { node: "a" } });
  registry.counter("c_total", "c\\x", ["k"]).labels('v"\n').inc();
  registry.gauge("g", "g").set(NaN);
  registry.histogram("h", "h", { labelNames: ["k"] }).labels("\\").observe(1);
  const name = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const pair = String.raw`[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*"`;
  const number = String.raw`(NaN|[+-]Inf|-?[0-9.]+(e[+-][0-9]+)?)`;
  const comment = new RegExp(
    `^# (HELP ${name} .*|TYPE ${name} (counter|gauge|histogram))$`,
  );
  const sample = new RegExp(
    String.raw`^${name}(\{${pair}(,${pair})*\})? ${number}$`,
  );
  assert.equal(sample.test('x{a="b"c"} 1'), false);
  assert.equal(sample.test('x{a="b\\"} 1'), false);
  const exposition = registry.prometheusText();
  assert.ok(exposition.endsWith("\n"));
  for (const line of exposition.slice(0, -1).split("\n")) {
    assert.ok(comment.test(line) || sample.test(line), line);
  }
});

// --- snapshots ---------------------------------------------------------------------------------

test("MetricsRegistry.snapshot() returns values with const labels first, in registration order", () => {
  const registry = new MetricsRegistry({
    prefix: "t_",
    constLabels: { node: "n1" },
  });
  registry.gauge("queued", "Queued.", ["actor"]).labels("orders").set(7);
  registry.counter("sent_total", "Sent.").inc(2);
  registry.histogram("ask_seconds", "Asks.", { buckets: [1] }).observe(0.5);
  const snapshot = registry.snapshot();
  assert.deepEqual(snapshot, [
    {
      kind: "gauge",
      name: "t_queued",
      help: "Queued.",
      samples: [{ labels: { node: "n1", actor: "orders" }, value: 7 }],
    },
    {
      kind: "counter",
      name: "t_sent_total",
      help: "Sent.",
      samples: [{ labels: { node: "n1" }, value: 2 }],
    },
    {
      kind: "histogram",
      name: "t_ask_seconds",
      help: "Asks.",
      buckets: [1],
      samples: [{
        labels: { node: "n1" },
        count: 1,
        sum: 0.5,
        bucketCounts: [1, 1],
      }],
    },
  ]);
  assert.deepEqual(Object.keys(snapshot[0].samples[0].labels), [
    "node",
    "actor",
  ]);
});

test("MetricsRegistry.snapshot() is a copy that later updates do not change", () => {
  const registry = new MetricsRegistry();
  const counter = registry.counter("sent_total", "Sent.");
  const histogram = registry.histogram("h", "h", { buckets: [1] });
  counter.inc();
  histogram.observe(0.5);
  const before = registry.snapshot();
  counter.inc();
  histogram.observe(0.5);
  assert.deepEqual(before[0].samples, [{ labels: {}, value: 1 }]);
  assert.deepEqual(before[1].samples, [
    { labels: {}, count: 1, sum: 0.5, bucketCounts: [1, 1] },
  ]);
  assert.equal(counter.value(), 2);
});

test("Metric children keep their values when fetched again through the registry", () => {
  const registry = new MetricsRegistry();
  const child = registry.counter("sent_total", "Sent.", ["to"]).labels("a");
  child.inc(5);
  const again = registry.counter("sent_total", "Sent.", ["to"]).labels("a");
  assert.equal(again, child);
  assert.equal(again.value, 5);
  const many = registry.gauge("many", "Many.", ["i"]);
  for (let i = 0; i < 1000; i++) many.labels(String(i)).set(i);
  for (let i = 0; i < 1000; i++) assert.equal(many.value(String(i)), i);
  assert.deepEqual(
    many.snapshot().samples.slice(0, 3).map((sample) => sample.labels.i),
    ["0", "1", "2"],
  );
});
