// The sharded chat in a real browser: Debian's headless Chromium driven by playwright-core,
// against the three-process cluster of examples/chat/main.ts (run with --keep, so it serves
// after its scripted clients). A person on n1's page posts; the message shows on n2's page,
// which is served by another process; the answer goes back the other way.
//
// Skipped with a loud notice when Chromium is missing, except on CI, where that fails. Under
// Deno only: the npm build does not include the examples (see examples/chat/build_node.ts).
import assert from "node:assert/strict";
import fc from "fast-check";
import { chromiumReady, launchChromium } from "../http/browser.ts";
import { test } from "../../src/platform/test_harness.ts";
import {
  spawnTestProcess,
  type TestProcess,
} from "../../src/platform/test_process.ts";
import { sameRuntime, testRuntime } from "../../src/platform/test_runtime.ts";
import { platform } from "../../src/platform/mod.ts";

function sleep(ms: number): Promise<void> {
  return new Promise<void>((resolve) => platform.setTimer(resolve, ms));
}

/** Waits up to `ms` for `process` to exit, then kills it. */
async function exitWithin(process: TestProcess, ms: number): Promise<void> {
  let timer: ReturnType<typeof platform.setTimer> | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = platform.setTimer(() => resolve(true), ms);
  });
  const exited = process.exited.then(() => false, () => false);
  if (await Promise.race([exited, late])) process.kill("SIGKILL");
  platform.clearTimer(timer!);
}

test({
  name:
    "examples/chat: a post on n1's page shows on n2's page, and back, in Chromium; random bodies get 400",
  ignore: testRuntime !== "deno",
  fn: async () => {
    if (!await chromiumReady("the chat browser test")) return;
    const browser = await launchChromium();
    const { command, args } = sameRuntime(
      new URL("../../examples/chat/main.ts", import.meta.url),
    );
    const launcher = spawnTestProcess(command, [...args, "--keep"]);
    let exited = false;
    void launcher.exited.then(() => exited = true, () => exited = true);
    try {
      // The launcher prints the pages once its cluster is up and its script passed.
      const deadline = platform.now() + 40_000;
      let pages: Record<string, string> | undefined;
      while (pages === undefined) {
        const match = /^CHAT-PAGES (\{.*\})$/m.exec(launcher.output());
        if (match !== null) pages = JSON.parse(match[1]);
        else {
          assert.ok(!exited, `the launcher ended early:\n${launcher.output()}`);
          assert.ok(
            platform.now() < deadline,
            `no pages after 40 s:\n${launcher.output()}`,
          );
          await sleep(100);
        }
      }
      const { n1, n2, n3 } = pages!;

      // Bodies from outside: random JSON (and random text) is refused with 400 and a reason,
      // or, when it happens to be a valid post (to a fuzz stream), stored (201); never anything
      // else, and the node keeps serving (the pages below). Random stream names start with "_",
      // so none is valid: a random valid name ("a", once in CI, or "lobby") would take a valid
      // post too.
      const body = fc.oneof(
        fc.json(),
        fc.string(),
        fc.record({
          stream: fc.oneof(
            fc.string().map((s) => `_${s}`),
            fc.constantFrom("fuzz", "fuzz-2"),
          ),
          from: fc.oneof(fc.string(), fc.jsonValue()),
          text: fc.oneof(fc.string(), fc.jsonValue()),
          connection: fc.string(),
        }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
      );
      await fc.assert(
        fc.asyncProperty(
          body,
          fc.constantFrom("/chat/post", "/chat/join"),
          async (text, path) => {
            const response = await fetch(`${n3}${path}`, {
              method: "POST",
              body: text,
            });
            const answer = await response.json();
            if (response.status === 201) {
              assert.equal(path, "/chat/post");
              // Only the fuzz streams can take a valid post (lobby's count stays put below).
              assert.match(answer.stream, /^fuzz(-2)?$/);
              return;
            }
            assert.equal(response.status, 400, JSON.stringify(answer));
            assert.equal(answer.code, "CHAT_BAD_INPUT");
          },
        ),
        { numRuns: 60 },
      );
      // Two browser contexts: two people, each with their own storage.
      const amy = await (await browser.newContext()).newPage();
      const ben = await (await browser.newContext()).newPage();
      await amy.goto(`${n1}/?name=amy&streams=lobby`);
      await ben.goto(`${n2}/?name=ben&streams=lobby`);
      for (const page of [amy, ben]) {
        await page.waitForSelector('#status[data-state="live"]', {
          timeout: 5000,
        });
        // The join's history: the launcher's script posted three messages to lobby.
        await page.waitForSelector(
          'section[data-stream="lobby"] li[data-seq="3"]',
          { timeout: 5000 },
        );
      }
      assert.equal(await amy.locator("#node").textContent(), "n1");
      assert.equal(await ben.locator("#node").textContent(), "n2");

      await amy.fill("#text", "hello from a browser on n1");
      await amy.click("#post button");
      const seen = ben.locator(
        'section[data-stream="lobby"] li[data-from="amy"]',
      );
      await seen.waitFor({ timeout: 5000 });
      assert.equal(
        await seen.locator(".text").textContent(),
        "hello from a browser on n1",
      );
      assert.equal(await seen.getAttribute("data-seq"), "4");

      await ben.fill("#text", "and back from n2");
      await ben.click("#post button");
      const back = amy.locator(
        'section[data-stream="lobby"] li[data-from="ben"]',
      );
      await back.waitFor({ timeout: 5000 });
      assert.equal(
        await back.locator(".text").textContent(),
        "and back from n2",
      );
    } finally {
      await browser.close();
      launcher.kill("SIGTERM"); // the launcher stops its nodes, then exits
      // Waited for whether the test passed or not: a test that ended first left the launcher
      // to die writing its nodes' output to a closed pipe, and the nodes running.
      await exitWithin(launcher, 60_000);
    }
    const exit = await launcher.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, launcher.output());
    assert.match(launcher.output(), /7\. every check held/);
  },
});
