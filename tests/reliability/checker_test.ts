// The reliability checker on random histories: a journal that holds what the history allows
// passes; each kind of damage (a lost acknowledged append, a duplicate, a failed append that
// landed, a phantom entry, an acknowledged append after a later one of its client, a served
// stream that differs from its journal, a gap in the sequence numbers) is found and named.
import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../src/platform/test_harness.ts";
import {
  check,
  type Completion,
  type Op,
  type StreamState,
  verdictLine,
} from "./checker.ts";
import type { Entry } from "./workload_protocol.ts";

interface Case {
  readonly history: Op[];
  readonly states: StreamState[];
}

/** A random history of 1-3 streams and 1-3 clients, and journals consistent with it. */
const consistentCase: fc.Arbitrary<Case> = fc.record({
  streams: fc.integer({ min: 1, max: 3 }),
  ops: fc.array(
    fc.record({
      stream: fc.integer({ min: 0, max: 2 }),
      client: fc.integer({ min: 0, max: 2 }),
      completion: fc.constantFrom<Completion>("ok", "fail", "info"),
      landed: fc.boolean(),
    }),
    { minLength: 1, maxLength: 40 },
  ),
}).map(({ streams, ops }) => {
  const seqs = new Map<string, number>();
  const history: Op[] = [];
  const journals = new Map<string, Entry[]>();
  ops.forEach((o, i) => {
    const stream = `s${o.stream % streams}`;
    // A client sticks to one stream, as the workload's clients do.
    const client = `${stream}/c${o.client}`;
    const seq = (seqs.get(client) ?? 0) + 1;
    seqs.set(client, seq);
    const token = `${client}:${seq}`;
    history.push({
      client,
      stream,
      seq,
      token,
      node: "m1",
      invokedAt: i,
      completedAt: i + 1,
      completion: o.completion,
    });
    const lands = o.completion === "ok" ||
      (o.completion === "info" && o.landed);
    if (lands) {
      const journal = journals.get(stream) ?? [];
      journal.push({ client, seq, token });
      journals.set(stream, journal);
    }
  });
  const states = [...new Set(history.map((op) => op.stream))].map((
    stream,
  ) => {
    const journal = journals.get(stream) ?? [];
    return {
      stream,
      journal,
      sequenceNrs: journal.map((_, i) => i + 1),
      served: [...journal],
    };
  });
  return { history, states };
});

function withJournal(
  c: Case,
  index: number,
  change: (journal: Entry[]) => Entry[],
): StreamState[] {
  return c.states.map((s, i) => {
    if (i !== index) return s;
    const journal = change([...s.journal]);
    return {
      ...s,
      journal,
      sequenceNrs: journal.map((_, k) => k + 1),
      served: journal,
    };
  });
}

test("check() accepts every journal the history allows", () => {
  fc.assert(
    fc.property(consistentCase, (c) => {
      const verdict = check(c.history, c.states);
      assert.ok(verdict.valid, JSON.stringify(verdict));
      assert.equal(
        verdict.acknowledgedPresent,
        c.history.filter((op) => op.completion === "ok").length,
      );
      assert.match(verdictLine("t", verdict), /^reliability t: PASS \|/);
    }),
    { numRuns: 50 },
  );
});

test("check() finds a lost acknowledged append", () => {
  fc.assert(
    fc.property(
      consistentCase.filter((c) =>
        c.history.some((o) => o.completion === "ok")
      ),
      fc.nat(),
      (c, pick) => {
        const acked = c.history.filter((op) => op.completion === "ok");
        const victim = acked[pick % acked.length];
        const index = c.states.findIndex((s) => s.stream === victim.stream);
        const verdict = check(
          c.history,
          withJournal(
            c,
            index,
            (j) => j.filter((e) => e.token !== victim.token),
          ),
        );
        assert.deepEqual(verdict.lost, [victim.token]);
        assert.equal(verdict.valid, false);
        assert.match(verdictLine("t", verdict), /FAIL .*LOST=1/);
      },
    ),
    { numRuns: 25 },
  );
});

test("check() finds a duplicated entry and a failed append that landed", () => {
  fc.assert(
    fc.property(consistentCase, fc.nat(), (c, pick) => {
      const index = pick % c.states.length;
      const state = c.states[index];
      if (state.journal.length > 0) {
        const twice = state.journal[pick % state.journal.length];
        const verdict = check(
          c.history,
          withJournal(c, index, (j) => [...j, twice]),
        );
        assert.deepEqual(verdict.duplicated, [twice.token]);
        assert.equal(verdict.valid, false);
      }
      const failed = c.history.find((op) =>
        op.completion === "fail" && op.stream === state.stream
      );
      if (failed !== undefined) {
        const verdict = check(
          c.history,
          withJournal(c, index, (j) => [...j, failed]),
        );
        assert.deepEqual(verdict.failedButPresent, [failed.token]);
        assert.equal(verdict.valid, false);
      }
    }),
    { numRuns: 25 },
  );
});

test("check() finds a phantom, an acknowledged append out of order, a divergent read and a sequence gap; a late indeterminate one is allowed", () => {
  fc.assert(
    fc.property(consistentCase, (c) => {
      const phantom: Entry = { client: "nobody", seq: 1, token: "nobody:1" };
      const withPhantom = check(
        c.history,
        withJournal(c, 0, (j) => [...j, phantom]),
      );
      assert.deepEqual(withPhantom.phantom, ["nobody:1"]);
      assert.equal(withPhantom.valid, false);

      // An acknowledged entry moved after a later entry of its client: a violation. An
      // indeterminate one in its place: allowed, and counted as late.
      for (const [index, state] of c.states.entries()) {
        const completion = (e: Entry) =>
          c.history.find((op) => op.token === e.token)!.completion;
        const k = state.journal.findIndex((e, i) =>
          state.journal.slice(i + 1).some((later) => later.client === e.client)
        );
        if (k < 0) continue;
        const moved = state.journal[k];
        const later = state.journal.findIndex((e, i) =>
          i > k && e.client === moved.client
        );
        const verdict = check(
          c.history,
          withJournal(c, index, (j) => {
            j.splice(k, 1);
            j.splice(later, 0, moved);
            return j;
          }),
        );
        if (completion(moved) === "ok") {
          assert.deepEqual(verdict.reordered, [
            `${moved.client}@${state.stream}`,
          ]);
          assert.equal(verdict.valid, false);
        } else {
          assert.deepEqual(verdict.reordered, []);
          assert.equal(verdict.late, 1);
          assert.ok(verdict.valid, JSON.stringify(verdict));
        }
        break;
      }

      const state = c.states[0];
      if (state.journal.length > 0) {
        const divergent = check(c.history, [
          { ...state, served: state.journal.slice(1) },
          ...c.states.slice(1),
        ]);
        assert.deepEqual(divergent.divergent, [state.stream]);
        const gap = check(c.history, [
          { ...state, sequenceNrs: state.sequenceNrs.map((n) => n + 1) },
          ...c.states.slice(1),
        ]);
        assert.deepEqual(gap.divergent, [state.stream]);
        assert.equal(gap.valid, false);
      }
    }),
    { numRuns: 25 },
  );
});
