package inbox

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iocpipe/iocpipe/pipeline"
)

// maxReasons caps the distinct reasons kept for a file that keeps failing.
const maxReasons = 20

// giveUp notes a run over j that failed delivery (r) and reports whether
// j has been failing for GiveUpAfter: then r.Err says so, and the report
// lists every reason (j.reasons).
func (ib *Inbox) giveUp(j *job, r *pipeline.FileResult) bool {
	now := time.Now()
	if j.failing.IsZero() {
		j.failing = now
	}
	j.runs++
	var reasons []string
	if j.rej != nil {
		_, reasons = j.rej.rejectedRows()
	}
	for _, why := range reasons {
		if len(j.reasons) < maxReasons && !slices.Contains(j.reasons, why) {
			j.reasons = append(j.reasons, why)
		}
	}
	if now.Sub(j.failing) < ib.opts.GiveUpAfter {
		return false
	}
	r.Err = fmt.Sprintf("given up: delivery failed for %s (%d runs, give_up_after %s): %s; the rows acknowledged are recorded, so dropping the file in again sends only the others",
		now.Sub(j.failing).Round(time.Second), j.runs, ib.opts.GiveUpAfter, strings.Join(j.reasons, "; "))
	return true
}
