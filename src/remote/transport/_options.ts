// Defaults and checks of FrameConnectionOptions, shared by FrameConnection and the endpoints
// (which check them before opening a socket).
import { type Clock, systemClock } from "../../timer/mod.ts";
import { FRAME_HEADER_BYTES, MAX_FRAME_LENGTH } from "./_frame_parser.ts";

const MIB = 1024 * 1024;

/** The options a FrameConnection is made with (see `FrameConnectionOptions` for each meaning). */
export interface FrameConnectionSettings {
  readonly maxFrameBytes: number;
  readonly highWaterBytes: number;
  readonly lowWaterBytes: number;
  readonly maxBufferedBytes: number;
  readonly stallTimeoutMs: number;
  readonly maxWriteBytes: number;
  readonly clock: Clock;
}

/** What the options of a FrameConnection may say; all optional. */
export interface FrameConnectionOptionsInput {
  readonly maxFrameBytes?: number;
  readonly highWaterBytes?: number;
  readonly lowWaterBytes?: number;
  readonly maxBufferedBytes?: number;
  readonly stallTimeoutMs?: number;
  readonly maxWriteBytes?: number;
  readonly clock?: Clock;
}

function checkInteger(
  name: string,
  value: number,
  min: number,
  max: number,
): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot create FrameConnection: ${name} must be an integer from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}

/** Fills in the defaults and checks the ranges; throws RangeError for a bad value. */
export function resolveOptions(
  options: FrameConnectionOptionsInput,
): FrameConnectionSettings {
  const highWaterBytes = checkInteger(
    "highWaterBytes",
    options.highWaterBytes ?? 4 * MIB,
    0,
    Number.MAX_SAFE_INTEGER,
  );
  return {
    maxFrameBytes: checkInteger(
      "maxFrameBytes",
      options.maxFrameBytes ?? 8 * MIB,
      0,
      MAX_FRAME_LENGTH,
    ),
    highWaterBytes,
    lowWaterBytes: checkInteger(
      "lowWaterBytes",
      options.lowWaterBytes ?? Math.min(1 * MIB, highWaterBytes),
      0,
      highWaterBytes,
    ),
    maxBufferedBytes: checkInteger(
      "maxBufferedBytes",
      options.maxBufferedBytes ?? 64 * MIB,
      FRAME_HEADER_BYTES,
      Number.MAX_SAFE_INTEGER,
    ),
    stallTimeoutMs: checkInteger(
      "stallTimeoutMs",
      options.stallTimeoutMs ?? 30_000,
      1,
      2 ** 31 - 1,
    ),
    maxWriteBytes: checkInteger(
      "maxWriteBytes",
      options.maxWriteBytes ?? 1 * MIB,
      1,
      2 ** 31 - 1,
    ),
    clock: options.clock ?? systemClock,
  };
}
