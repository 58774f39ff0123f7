package redisdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// enqueueOnceLua queues a delivery's jobs and records its once-key in one
// round trip, or does nothing when the key is recorded. The jobs go in
// before the key: if an XADD fails the script stops and nothing is
// recorded, so the sender's retry gets through.
//
// KEYS: jobs stream, once-key. ARGV: ttl (ms), then each job's JSON.
// Returns 1 when the jobs were queued, 0 for a replay.
const enqueueOnceLua = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], '*', 'job', ARGV[i])
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
return 1
`

// enqueueOnceScript is built once; a redis.Script holds only its source
// and hash and is safe for concurrent use.
var enqueueOnceScript = redis.NewScript(enqueueOnceLua)

// EnqueueOnce queues jobs unless key was recorded (by Once or an earlier
// EnqueueOnce) within its time to live, and records key for ttl, in one
// atomic round trip. It reports whether the jobs were queued; false means
// a replay of a delivery already queued.
func (s *Store) EnqueueOnce(ctx context.Context, key string, ttl time.Duration, jobs []oncall.Job) (bool, error) {
	if key == "" {
		return false, errors.New("enqueue once: key is required")
	}
	if ttl < time.Millisecond {
		return false, fmt.Errorf("enqueue once %s: ttl %v is below a millisecond", key, ttl)
	}
	args := make([]any, 0, len(jobs)+1)
	args = append(args, ttl.Milliseconds())
	for _, job := range jobs {
		if job.ID == "" {
			job.ID = newID()
		}
		if job.EnqueuedAt.IsZero() {
			job.EnqueuedAt = s.now()
		}
		buf := s.bufs.get()
		defer s.bufs.put(buf)
		data, err := appendJob(*buf, &job)
		if err != nil {
			return false, fmt.Errorf("enqueue job %s: %w", job.ID, err)
		}
		*buf = data
		args = append(args, data)
	}
	n, err := enqueueOnceScript.Run(ctx, s.rdb, []string{s.k.jobs, s.k.once + key}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("enqueue once %s: %w", key, err)
	}
	return n == 1, nil
}
