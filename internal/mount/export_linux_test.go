package mount

import "slices"

// SharingMountNamespace lets the tests ask who shares the caller's mount
// namespace without pivoting anything.
var SharingMountNamespace = sharingMountNamespace

// UnmountInOrderMade undoes m the wrong way round, first mount first, each
// by its path alone: the mistake the reverse-order test must catch.
func (m *Mounted) UnmountInOrderMade() error {
	slices.Reverse(m.done)
	for i := range m.done {
		m.done[i].id = 0
	}
	return m.Unmount()
}
