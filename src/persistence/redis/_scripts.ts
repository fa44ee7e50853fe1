// The Lua scripts of the Redis provider. Each runs atomically on the server, so checks and
// writes of one persistence id cannot interleave with another client's.
//
// Sequence numbers travel as decimal strings. Numbers computed in Lua are written back with
// string.format('%.0f', n), which is exact for every safe integer (Lua's own tostring keeps
// only 14 digits).
import { LuaScript } from "./_client.ts";

/**
 * Appends for one or more persistence ids, each checked and applied on its own, in order (two
 * appends of one id in a batch behave as if sent one after the other).
 *
 * KEYS: events and meta of each append, in pairs. ARGV: per append, its expected last
 * sequence number, its record count, then its encoded records. Returns one entry per append:
 * 0 when appended, the actual last sequence number (a string) on a conflict, or `!` and the
 * error when Redis refused a command (e.g. WRONGTYPE), in which case nothing of that append
 * was written.
 *
 * `last` is checked and moved in one HINCRBY, taken back on a conflict (no other client can
 * see the step in between; a `last` of 0 is removed again, so a refused append leaves no key).
 * `first` is set when RPUSH says the list was empty. RPUSH goes in chunks because Lua's
 * unpack() takes at most about 8000 values. Sequence numbers stay below 2^53, where Lua
 * numbers are exact.
 */
export const APPEND_BATCH: LuaScript = new LuaScript(`
local function undo(meta, count, last)
  if last == count then
    redis.call('HDEL', meta, 'last')
  else
    redis.call('HINCRBY', meta, 'last', -count)
  end
end
local out = {}
local a = 1
for k = 1, #KEYS, 2 do
  local expected = tonumber(ARGV[a])
  local count = tonumber(ARGV[a + 1])
  local from = a + 2
  a = from + count
  local last = redis.pcall('HINCRBY', KEYS[k + 1], 'last', count)
  if type(last) == 'table' then
    out[#out + 1] = '!' .. last.err
  elseif last - count ~= expected then
    undo(KEYS[k + 1], count, last)
    out[#out + 1] = string.format('%.0f', last - count)
  else
    local length
    for i = 1, count, 1000 do
      length = redis.pcall('RPUSH', KEYS[k], unpack(ARGV, from + i - 1, from + math.min(i + 999, count) - 1))
      if type(length) == 'table' then break end
    end
    if type(length) == 'table' then
      undo(KEYS[k + 1], count, last)
      out[#out + 1] = '!' .. length.err
    else
      if length == count then
        redis.call('HSET', KEYS[k + 1], 'first', string.format('%.0f', expected + 1))
      end
      out[#out + 1] = 0
    end
  end
end
return out
`);

/**
 * KEYS: events, meta. ARGV: from, to (both inclusive, to at most 2^53 - 1), max count.
 * Returns nil for an id never appended to, else { first, records }: the records are those with
 * max(from, first) ≤ sequence number ≤ min(to, last), at most `count` of them.
 */
export const READ: LuaScript = new LuaScript(`
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
export const DELETE_TO: LuaScript = new LuaScript(`
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
export const SAVE_SNAPSHOT: LuaScript = new LuaScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return 1
`);
