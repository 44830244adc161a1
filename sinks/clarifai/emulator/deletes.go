package emulator

// Asynchronous DeleteInputs (Options.DeleteDelay). An input asked to be
// deleted gets a deleteAt time and joins app.deleting, kept sorted by it.
// Like processing, deletion needs no timers: every call on the app first
// carries out the deletions due by its time (Server.intercept), and so do
// the inspection methods. Until then the input is there as before.

// scheduleDelete asks for the input id to be deleted at `at`, and reports
// whether it exists. An input asked twice keeps the earlier time. The
// caller holds the lock.
func (a *app) scheduleDelete(id string, at int64) bool {
	r := a.inputs[id]
	if r == nil {
		return false
	}
	if r.deleteAt != 0 {
		return true
	}
	r.deleteAt = at
	a.queueDelete(r)
	return true
}

// queueDelete puts r, whose deleteAt is set, in app.deleting. The caller
// holds the lock (or owns a, while loading).
func (a *app) queueDelete(r *inputRec) {
	i := len(a.deleting)
	// With a steady clock and delay, deletions arrive in order and this
	// loop does not run.
	for i > 0 && a.deleting[i-1].deleteAt > r.deleteAt {
		i--
	}
	a.deleting = append(a.deleting, nil)
	copy(a.deleting[i+1:], a.deleting[i:])
	a.deleting[i] = r
	a.nDeleting.Store(int64(len(a.deleting)))
}

// reapDeletes carries out the deletions of app a due by now.
func (s *Server) reapDeletes(a *app, now int64) {
	a.lock()
	n := a.reap(now)
	a.unlock()
	if n > 0 {
		s.dirty.Store(true)
	}
}

// reap deletes the inputs whose deleteAt has come and returns how many. The
// caller holds the lock.
func (a *app) reap(now int64) int {
	done := 0
	for done < len(a.deleting) && a.deleting[done].deleteAt <= now {
		r := a.deleting[done]
		if a.inputs[r.id] == r { // not deleted some other way meanwhile
			a.deleteInput(r.id, now)
		}
		done++
	}
	if done > 0 {
		a.deleting = append(a.deleting[:0], a.deleting[done:]...)
		a.nDeleting.Store(int64(len(a.deleting)))
	}
	return done
}

// pendingDeletes returns the ids of the inputs asked to be deleted and not
// gone yet, by deletion time. The caller holds the lock.
func (a *app) pendingDeletes() []string {
	out := make([]string, 0, len(a.deleting))
	for _, r := range a.deleting {
		if a.inputs[r.id] == r {
			out = append(out, r.id)
		}
	}
	return out
}
