// The string rule both directions of the codec check: at most MAX_STRING_BYTES of UTF-8.
import { MAX_STRING_BYTES } from "./messages.ts";

/** UTF-8 length of a string, as TextEncoder would write it. */
export function utf8Length(value: string): number {
  let length = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (
      (c & 0xfc00) === 0xd800 && i + 1 < value.length &&
      (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

/** Whether a string takes more than MAX_STRING_BYTES of UTF-8. */
export function overLimit(value: string): boolean {
  // A UTF-16 unit takes at most 3 UTF-8 bytes: short strings need no count.
  return value.length * 3 > MAX_STRING_BYTES &&
    utf8Length(value) > MAX_STRING_BYTES;
}

/** Whether a string holds a surrogate (paired or not). */
export function hasSurrogate(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    if ((value.charCodeAt(i) & 0xf800) === 0xd800) return true;
  }
  return false;
}
