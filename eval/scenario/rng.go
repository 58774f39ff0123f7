package scenario

import (
	"encoding/hex"
	"hash/fnv"
	"time"
)

// rng is a SplitMix64 generator. The package carries its own rather than
// using math/rand so that the value stream, and with it every generated
// file, stays byte-identical across Go releases and architectures: it only
// does integer arithmetic.
type rng struct{ state uint64 }

func newRNG(seed uint64) *rng { return &rng{state: seed} }

func (r *rng) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// fork derives an independent generator for one named part of a scenario,
// so adding draws to one part does not shift the values of another.
func (r *rng) fork(label string) *rng {
	h := fnv.New64a()
	h.Write([]byte(label))
	return newRNG(r.next() ^ h.Sum64())
}

// intn returns a value in [0, n); n <= 0 gives 0.
func (r *rng) intn(n int) int {
	if n <= 0 {
		return 0
	}
	return int(r.next() % uint64(n))
}

// between returns a value in [lo, hi].
func (r *rng) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.intn(hi-lo+1)
}

// percent reports true with probability p/100.
func (r *rng) percent(p int) bool { return r.intn(100) < p }

// millis returns a duration between lo and hi milliseconds, skewed towards
// lo the way service latencies are: the smaller of two uniform draws.
func (r *rng) millis(lo, hi int) time.Duration {
	a, b := r.between(lo, hi), r.between(lo, hi)
	return time.Duration(min(a, b)) * time.Millisecond
}

// hex returns n random bytes as lowercase hex.
func (r *rng) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.next())
	}
	return hex.EncodeToString(b)
}

// chars returns n characters drawn from alphabet.
func (r *rng) chars(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.intn(len(alphabet))]
	}
	return string(b)
}

// digits returns n decimal digits, the first one not zero.
func (r *rng) digits(n int) string {
	if n <= 0 {
		return ""
	}
	return r.chars(1, "123456789") + r.chars(n-1, "0123456789")
}

const (
	alnum    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	upperNum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	lowerNum = "abcdefghijklmnopqrstuvwxyz0123456789"
)

func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }

// sample returns k distinct elements of xs in random order (all of them
// when k >= len(xs)).
func sample[T any](r *rng, xs []T, k int) []T {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	for i := len(idx) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		idx[i], idx[j] = idx[j], idx[i]
	}
	k = min(k, len(xs))
	out := make([]T, k)
	for i := 0; i < k; i++ {
		out[i] = xs[idx[i]]
	}
	return out
}
