package threatwinds

import "container/list"

// DefaultRemember is the number of entities, and apart the number of
// comments, a Client remembers as acknowledged when Config.Remember is
// zero. An entry costs about 150 bytes, so the default bounds each set
// near 10 MB.
const DefaultRemember = 1 << 16

// A memo is a map of at most size keys that forgets the least recently
// used key to make room for a new one. It is not safe for concurrent use;
// the Client guards its memos with its mutex.
type memo[K comparable, V any] struct {
	size int
	m    map[K]*list.Element
	l    list.List // of *memoEntry, most recently used first
}

type memoEntry[K comparable, V any] struct {
	k K
	v V
}

func newMemo[K comparable, V any](size int) *memo[K, V] {
	return &memo[K, V]{size: size, m: make(map[K]*list.Element)}
}

// get returns the value of k and marks it used.
func (m *memo[K, V]) get(k K) (V, bool) {
	e, ok := m.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	m.l.MoveToFront(e)
	return e.Value.(*memoEntry[K, V]).v, true
}

// put sets the value of k, forgetting the least recently used key when
// the memo is full.
func (m *memo[K, V]) put(k K, v V) {
	if e, ok := m.m[k]; ok {
		e.Value.(*memoEntry[K, V]).v = v
		m.l.MoveToFront(e)
		return
	}
	if m.l.Len() >= m.size {
		old := m.l.Back()
		delete(m.m, old.Value.(*memoEntry[K, V]).k)
		m.l.Remove(old)
	}
	m.m[k] = m.l.PushFront(&memoEntry[K, V]{k, v})
}

// del forgets k.
func (m *memo[K, V]) del(k K) {
	if e, ok := m.m[k]; ok {
		delete(m.m, k)
		m.l.Remove(e)
	}
}

// len returns the number of keys remembered.
func (m *memo[K, V]) len() int { return m.l.Len() }
