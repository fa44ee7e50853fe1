// The Lua scripts of the Redis provider. Each runs atomically on the server, so checks and
// writes of one persistence id cannot interleave with another client's.
//
// Sequence numbers travel as decimal strings. Numbers computed in Lua are written back with
// string.format('%.0f', n), which is exact for every safe integer (Lua's own tostring keeps
// only 14 digits).
import { LuaScript } from "./_client.ts";

/** Bytes before the records of an append in APPEND_BATCH's ARGV[1]. */
export const APPEND_HEADER = 16;
/** Bytes before each record there (its length). */
export const RECORD_PREFIX = 4;

/**
 * Appends for one or more persistence ids, each checked and applied on its own, in order (two
 * appends of one id in a batch behave as if sent one after the other).
 *
 * KEYS: events and meta of each append, in pairs. ARGV[1]: the appends, back to back, each as
 * u32 expected last sequence number (high 21 bits), u32 (low 32 bits), u32 record count, u32
 * byte length of what follows, then per record a u32 length and the encoded record (all
 * big-endian). One binary argument costs the client and Redis less than an argument per
 * record. Returns 0 when every append was appended (the usual case: no table to build, send
 * and decode), else one entry per append: 0 when appended, the actual last sequence number (a
 * string) on a conflict, or `!` and the error when Redis refused a command (e.g. WRONGTYPE),
 * in which case nothing of that append was written.
 *
 * `last` is checked and moved in one HINCRBY, taken back on a conflict (no other client can
 * see the step in between; a `last` of 0 is removed again, so a refused append leaves no key).
 * `first` is set when RPUSH says the list was empty. RPUSH goes in chunks because Lua's
 * unpack() takes at most about 8000 values. Sequence numbers stay below 2^53, where Lua
 * numbers are exact.
 */
export const APPEND_BATCH: LuaScript = await LuaScript.load(`
local pcall, sub, unpack_bytes = redis.pcall, string.sub, struct.unpack
local function undo(meta, count, last)
  if last == count then
    redis.call('HDEL', meta, 'last')
  else
    redis.call('HINCRBY', meta, 'last', -count)
  end
end
local blob = ARGV[1]
local out = {}
local n = 0
local p = 1
local failed = false
for k = 1, #KEYS, 2 do
  local high, low, count, size, at = unpack_bytes('>I4I4I4I4', blob, p)
  local expected = high * 4294967296 + low
  p = at + size
  n = n + 1
  -- A number argument would be formatted with printf in Redis; a string is passed as it is.
  local last = pcall('HINCRBY', KEYS[k + 1], 'last', count == 1 and '1' or tostring(count))
  if type(last) == 'table' then
    out[n] = '!' .. last.err
    failed = true
  elseif last - count ~= expected then
    undo(KEYS[k + 1], count, last)
    out[n] = string.format('%.0f', last - count)
    failed = true
  else
    local length
    if count == 1 then
      length = pcall('RPUSH', KEYS[k], sub(blob, at + 4, p - 1))
    else
      for i = 1, count, 1000 do
        local records = {}
        for j = 1, math.min(1000, count - i + 1) do
          local bytes
          bytes, at = unpack_bytes('>I4', blob, at)
          records[j] = sub(blob, at, at + bytes - 1)
          at = at + bytes
        end
        length = pcall('RPUSH', KEYS[k], unpack(records))
        if type(length) == 'table' then break end
      end
    end
    if type(length) == 'table' then
      undo(KEYS[k + 1], count, last)
      out[n] = '!' .. length.err
      failed = true
    else
      if length == count then
        redis.call('HSET', KEYS[k + 1], 'first', string.format('%.0f', expected + 1))
      end
      out[n] = 0
    end
  end
end
if failed then return out end
return 0
`);

/**
 * KEYS: events, meta. ARGV: from, to (both inclusive, to at most 2^53 - 1), max count.
 * Returns nil for an id never appended to, else { first, records }: the records are those with
 * max(from, first) ≤ sequence number ≤ min(to, last), at most `count` of them.
 */
export const READ: LuaScript = await LuaScript.load(`
local meta = redis.call('HMGET', KEYS[2], 'first', 'last')
if not meta[1] then return false end
local first = tonumber(meta[1])
local from = math.max(tonumber(ARGV[1]), first)
local to = math.min(tonumber(ARGV[2]), tonumber(meta[2]), from + tonumber(ARGV[3]) - 1)
if from > to then return { meta[1], {} } end
return { meta[1], redis.call('LRANGE', KEYS[1], string.format('%.0f', from - first), string.format('%.0f', to - first)) }
`);

/**
 * KEYS: events, meta. ARGV: to (inclusive, at most 2^53 - 1). Trims the list and moves `first`;
 * `last` stays, so sequence numbers are never reused. Returns the number of events deleted.
 */
export const DELETE_TO: LuaScript = await LuaScript.load(`
local meta = redis.call('HMGET', KEYS[2], 'first', 'last')
if not meta[1] then return 0 end
local first = tonumber(meta[1])
local to = math.min(tonumber(ARGV[1]), tonumber(meta[2]))
if to < first then return 0 end
redis.call('LTRIM', KEYS[1], string.format('%.0f', to - first + 1), -1)
redis.call('HSET', KEYS[2], 'first', string.format('%.0f', to + 1))
return to - first + 1
`);

/** KEYS: snapshots. ARGV: sequence number, encoded record. Replaces a snapshot at that number. */
export const SAVE_SNAPSHOT: LuaScript = await LuaScript.load(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return 1
`);
