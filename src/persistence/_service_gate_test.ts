// What the provider tests of an external server share: run the tests when the server answers,
// skip them loudly when it does not, and fail them instead when CI is set (missing
// infrastructure on CI is a failure, not a skip). Also a free loopback port for the tests that
// start a server of their own.
import { platform } from "../platform/mod.ts";
import { test } from "../platform/test_harness.ts";

/** Whether the tests run on CI. */
export const ON_CI: boolean =
  ((value) =>
    value !== undefined && value !== "" && value !== "0" && value !== "false")(
      platform.env("CI"),
    );

/** The outcome of probing a server, for the tests that need it. */
export interface ServiceGate {
  /** Why its tests are skipped, or undefined when they run. */
  readonly skip: string | undefined;
  /** Registers a test that needs the server. */
  test(name: string, fn: () => Promise<void>): void;
}

/**
 * Probes a server once and says so loudly when it does not answer.
 *
 * @param service Its name in messages ("Redis", "PostgreSQL").
 * @param where Its address in messages.
 * @param hint What to do about it ("Start Redis or set REDIS_URL.").
 * @param probe Resolves with why it does not answer, or undefined when it does.
 */
export async function serviceGate(
  service: string,
  where: string,
  hint: string,
  probe: () => Promise<string | undefined>,
): Promise<ServiceGate> {
  const unreachable = await probe();
  if (unreachable !== undefined) {
    const notice = `${service} at ${where} does not answer (${unreachable}): `;
    if (ON_CI) {
      console.error(
        `\n!!! ${notice}the ${service} provider tests will FAIL (CI is set) !!!\n`,
      );
    } else {
      console.warn(
        `\n!!! ${notice}SKIPPING the ${service} provider tests. ${hint} !!!\n`,
      );
    }
  }
  const skip = unreachable !== undefined && !ON_CI
    ? `${service} not reachable at ${where}`
    : undefined;
  return {
    skip,
    test(name: string, fn: () => Promise<void>): void {
      test({
        name: skip === undefined ? name : `${name} (skipped: ${skip})`,
        ignore: skip !== undefined,
        fn,
      });
    },
  };
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const listener = await platform.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
