package formats

import "github.com/iocpipe/iocpipe/schemas"

// A Slab hands out the members and objects of row values from shared
// blocks, so that a row costs no allocation of its own. A zero Slab is
// ready to use; a Reader keeps one.
type Slab struct {
	members []schemas.Member
	objs    []schemas.Compound
}

// Object returns an Object Value of members, its Compound carved from the
// slab like the members.
func (s *Slab) Object(members []schemas.Member) schemas.Value {
	if len(s.objs) == cap(s.objs) {
		s.objs = make([]schemas.Compound, 0, 1024)
	}
	s.objs = append(s.objs, schemas.Compound{Members: members})
	return schemas.ObjectIn(&s.objs[len(s.objs)-1])
}

// Members returns room for n members, empty, carved from the slab.
func (s *Slab) Members(n int) []schemas.Member {
	if len(s.members)+n > cap(s.members) {
		s.members = make([]schemas.Member, 0, max(4096, n))
	}
	m := s.members[len(s.members) : len(s.members)+n : len(s.members)+n]
	s.members = s.members[:len(s.members)+n]
	return m[:0]
}
