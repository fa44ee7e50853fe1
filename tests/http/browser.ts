// Debian's headless Chromium for the browser tests (the dashboard, the chat example), driven by
// playwright-core: where it is, whether it is there, and how it is launched.
import { type Browser, chromium } from "playwright-core";
import { spawnTestProcess } from "../../src/platform/test_process.ts";
import { platform } from "../../src/platform/mod.ts";
import { ON_CI } from "./support.ts";

/** The Chromium binary (`CHROMIUM_PATH`, default Debian's). */
export const CHROMIUM: string = platform.env("CHROMIUM_PATH") ??
  "/usr/bin/chromium";

/**
 * Whether Chromium is there. When it is not: on CI that is a failure (throws); elsewhere a loud
 * notice says `what` is skipped, and the test should return.
 *
 * @param what The test that needs it, for the notice.
 */
export async function chromiumReady(what: string): Promise<boolean> {
  const probe = spawnTestProcess("sh", ["-c", `test -x "$1"`, "sh", CHROMIUM]);
  if (await probe.exited.then((exit) => exit.code === 0, () => false)) {
    return true;
  }
  if (ON_CI) {
    throw new Error(
      `Chromium is missing on CI at ${CHROMIUM} (apt-get install -y chromium)`,
    );
  }
  console.warn(
    `\n*** SKIPPED ${what}: no Chromium at ${CHROMIUM} (apt-get install -y chromium) ***\n`,
  );
  return false;
}

/** Launches headless Chromium as the browser tests use it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}
