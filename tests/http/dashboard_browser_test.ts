// The dashboard in a real browser: Debian's headless Chromium driven by playwright-core,
// against a three-node loopback cluster. An operator downs a node through the write endpoint
// and the page must show it within two seconds, without a reload. The test saves a screenshot
// to docs/dashboard.png (the README's Diagnostics section shows it).
//
// Skipped with a loud notice when Chromium is missing, except on CI, where that fails.
import assert from "node:assert/strict";
import { chromiumReady, launchChromium } from "./browser.ts";
import { test } from "../../src/platform/test_harness.ts";
import { platform } from "../../src/platform/mod.ts";
import { serveHttpApi } from "../../src/http/mod.ts";
import { LoopbackCluster, supervisor, TOKEN } from "./support.ts";

const SCREENSHOT = decodeURIComponent(
  new URL("../../docs/dashboard.png", import.meta.url).pathname,
);

test("The dashboard shows a downed node within two seconds, live, in Chromium", async () => {
  if (!await chromiumReady("the dashboard browser test")) return;
  await using lc = await LoopbackCluster.start(["n1", "n2", "n3"]);
  const sup = await lc.systems[0].spawn(supervisor, 4, { id: "orders" });
  await lc.systems[0].spawn(supervisor, 2, { id: "payments" });
  await using server = await serveHttpApi(lc.apis[0]);
  const base = `http://127.0.0.1:${server.addr.port}`;
  // Some traffic, so the rates show something.
  let sending = true;
  const traffic = (async () => {
    while (sending) {
      for (let i = 0; i < 50; i++) {
        lc.systems[0].lookup(`${sup.path}/w${i % 4}`)?.tell("work" as never);
      }
      await new Promise<void>((resolve) => platform.setTimer(resolve, 20));
    }
  })();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({
      viewport: { width: 1200, height: 420 },
    });
    await page.goto(`${base}/dashboard`);
    await page.waitForSelector('tr[data-node="n3"][data-status="up"]', {
      timeout: 5000,
    });
    await page.waitForSelector('#connection[data-state="live"]', {
      timeout: 2000,
    });
    assert.equal(await page.locator("#members tr").count(), 3);
    // The page's CSP forbids eval, so poll the text rather than use waitForFunction.
    const rateDeadline = platform.now() + 3000;
    while (Number(await page.locator("#messages-rate").textContent()) <= 0) {
      assert.ok(
        platform.now() < rateDeadline,
        "the message rate shows the traffic",
      );
      await new Promise<void>((resolve) => platform.setTimer(resolve, 50));
    }

    const downed = await fetch(`${base}/cluster/members/n3/down`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(downed.status, 202);
    await downed.body?.cancel();
    const at = platform.now();
    await page.waitForSelector(
      'tr[data-node="n3"][data-status="down"], tr[data-node="n3"][data-status="removed"]',
      { timeout: 2000 },
    );
    const shownAfterMs = platform.now() - at;
    assert.ok(shownAfterMs < 2000, `shown after ${shownAfterMs} ms`);
    assert.ok(
      await page.locator('#actors li[data-path="orders/w3"]').count() === 1,
      "the actor tree shows the workers",
    );
    await page.screenshot({ path: SCREENSHOT });
  } finally {
    sending = false;
    await traffic;
    await browser.close();
    await lc.apis[0].close();
  }
});
