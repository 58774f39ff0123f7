package redisdb

// Lua scripts make each multi-step queue change atomic on the server, so
// replicas racing for the same job or dead letter cannot both win.

// claimLua is one Dequeue attempt: move due retries into the stream, take
// over one delivery idle for at least the reclaim time, else read one new
// entry without blocking.
//
// KEYS: jobs stream, delayed set. ARGV: group, consumer, now (ms), reclaim
// idle (ms), reclaim scan cursor, how many due retries to move.
// Returns {cursor} when nothing is ready, else {cursor, id, job, delivery
// count}.
const claimLua = `
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3], 'LIMIT', 0, tonumber(ARGV[6]))
for _, job in ipairs(due) do
  redis.call('XADD', KEYS[1], '*', 'job', job)
  redis.call('ZREM', KEYS[2], job)
end

local function field(values, name)
  for i = 1, #values, 2 do
    if values[i] == name then return values[i + 1] end
  end
  return ''
end

local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[4], ARGV[5], 'COUNT', 1)
local cursor = claimed[1]
local entry = claimed[2][1]
if entry then
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
  return {cursor, entry[1], field(entry[2], 'job'), pending[1][4]}
end

local fresh = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1, 'STREAMS', KEYS[1], '>')
if fresh then
  local e = fresh[1][2][1]
  return {cursor, e[1], field(e[2], 'job'), 1}
end
return {cursor}
`

// extendLua renews a delivery's lease by claiming it again for the
// consumer that holds it, which resets its idle time.
//
// KEYS: jobs stream. ARGV: group, entry id, consumer.
// Returns 0 if the entry is not pending or another consumer holds it.
const extendLua = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
`

// retryLua settles a delivery and schedules its job again.
//
// KEYS: jobs stream, delayed set. ARGV: group, entry id, due (ms), job.
// Returns 0 if the delivery was no longer pending.
const retryLua = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
`

// deadLetterLua settles a delivery and moves its job to the dead letters.
//
// KEYS: jobs stream, dead stream. ARGV: group, entry id, job.
// Returns 0 if the delivery was no longer pending.
const deadLetterLua = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], '*', 'job', ARGV[3])
return 1
`

// requeueLua moves a dead letter back into the jobs stream.
//
// KEYS: dead stream, jobs stream. ARGV: dead entry id, job.
// Returns 0 if the dead letter was already gone.
const requeueLua = `
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])
return 1
`

// createIncidentLua stores an incident and its index entries unless its
// key exists.
//
// KEYS: incident key, updated set, threads hash. ARGV: incident JSON,
// updated score, incident key, thread field (” for none).
// Returns {1} when created, else {0, existing JSON}.
const createIncidentLua = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  return {0, redis.call('GET', KEYS[1])}
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[4], ARGV[3]) end
return {1}
`
