package redact

// keywordMatcher finds many lowercase keywords in one pass over a text
// (Aho-Corasick, as a table-driven automaton over the bytes that occur
// in keywords). It is how rules are pre-filtered: a rule whose keywords
// are all absent is never run. It is read-only once built and safe for
// concurrent use.
type keywordMatcher struct {
	class  [256]uint8 // byte to column; 0 is every byte no keyword has
	ncls   int
	next   []int32   // next[state*ncls+class]
	out    [][]int32 // keyword ids that end in each state
	hasOut []bool
}

func newKeywordMatcher(words []string) *keywordMatcher {
	m := &keywordMatcher{ncls: 1}
	for _, w := range words {
		for i := 0; i < len(w); i++ {
			if m.class[w[i]] == 0 {
				m.class[w[i]] = uint8(m.ncls)
				m.ncls++
			}
		}
	}
	newState := func() int32 {
		for range m.ncls {
			m.next = append(m.next, -1)
		}
		m.out = append(m.out, nil)
		return int32(len(m.out) - 1)
	}
	newState() // the root
	for id, w := range words {
		s := int32(0)
		for i := 0; i < len(w); i++ {
			k := int(s)*m.ncls + int(m.class[w[i]])
			if m.next[k] < 0 {
				n := newState()
				m.next[k] = n
			}
			s = m.next[k]
		}
		m.out[s] = append(m.out[s], int32(id))
	}
	// Breadth first: a state's failure link is the longest proper suffix
	// of its path that is a path too; missing transitions follow it.
	fail := make([]int32, len(m.out))
	queue := []int32{}
	for c := range m.ncls {
		if n := m.next[c]; n > 0 {
			fail[n] = 0
			queue = append(queue, n)
		} else {
			m.next[c] = 0
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		m.out[s] = append(m.out[s], m.out[fail[s]]...)
		for c := range m.ncls {
			k := int(s)*m.ncls + c
			if n := m.next[k]; n >= 0 {
				fail[n] = m.next[int(fail[s])*m.ncls+c]
				queue = append(queue, n)
			} else {
				m.next[k] = m.next[int(fail[s])*m.ncls+c]
			}
		}
	}
	m.hasOut = make([]bool, len(m.out))
	for s, o := range m.out {
		m.hasOut[s] = len(o) > 0
	}
	return m
}

// scan calls hit with each keyword id found in lower and the offset just
// past it.
func (m *keywordMatcher) scan(lower string, hit func(id int32, end int)) {
	s := int32(0)
	ncls := int32(m.ncls)
	for i := 0; i < len(lower); i++ {
		s = m.next[s*ncls+int32(m.class[lower[i]])]
		if m.hasOut[s] {
			for _, id := range m.out[s] {
				hit(id, i+1)
			}
		}
	}
}
