package metadata

import (
	"sync"
	"time"
)

// The start-up phases, in order, named as HDFS's StartupProgress names them.
const (
	PhaseLoadingFsImage   = "LoadingFsImage"
	PhaseLoadingEdits     = "LoadingEdits"
	PhaseSavingCheckpoint = "SavingCheckpoint"
	PhaseSafeMode         = "SafeMode"
)

var phaseDescs = map[string]string{
	PhaseLoadingFsImage:   "Loading fsimage",
	PhaseLoadingEdits:     "Loading edits",
	PhaseSavingCheckpoint: "Saving checkpoint",
	PhaseSafeMode:         "Safe mode",
}

var phaseSteps = map[string]string{
	PhaseLoadingFsImage:   "Inodes",
	PhaseLoadingEdits:     "Edits",
	PhaseSavingCheckpoint: "Inodes",
	PhaseSafeMode:         "AwaitingReportedBlocks",
}

// Progress records start-up progress for /startupProgress.
type Progress struct {
	mu     sync.Mutex
	start  time.Time
	phases []*phase
	now    func() time.Time
}

type phase struct {
	name         string
	status       string // PENDING, RUNNING, COMPLETE
	begin, end   time.Time
	count, total int64
}

func newProgress() *Progress {
	p := &Progress{start: time.Now(), now: time.Now}
	for _, n := range []string{PhaseLoadingFsImage, PhaseLoadingEdits, PhaseSavingCheckpoint, PhaseSafeMode} {
		p.phases = append(p.phases, &phase{name: n, status: "PENDING"})
	}
	return p
}

func (p *Progress) find(name string) *phase {
	for _, ph := range p.phases {
		if ph.name == name {
			return ph
		}
	}
	panic("unknown phase " + name)
}

// Begin marks a phase running with its expected total.
func (p *Progress) Begin(name string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ph := p.find(name)
	ph.status, ph.begin, ph.total = "RUNNING", p.now(), total
}

// Set records the count done so far (and the total when it becomes known).
func (p *Progress) Set(name string, count, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ph := p.find(name)
	ph.count, ph.total = count, total
}

// Running reports whether a phase has begun and not ended.
func (p *Progress) Running(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.find(name).status == "RUNNING"
}

// End marks a phase complete.
func (p *Progress) End(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ph := p.find(name)
	if ph.status == "PENDING" {
		ph.begin = p.now()
	}
	ph.status, ph.end = "COMPLETE", p.now()
	if ph.count < ph.total {
		ph.count = ph.total
	}
}

// StartupProgressView is the JSON of /startupProgress, shaped like HDFS's
// StartupProgressServlet.
type StartupProgressView struct {
	ElapsedTime     int64       `json:"elapsedTime" example:"1520"`
	PercentComplete float64     `json:"percentComplete" example:"1"`
	Phases          []PhaseView `json:"phases"`
}

// PhaseView is one phase of start-up.
type PhaseView struct {
	Name            string     `json:"name" example:"LoadingFsImage"`
	Desc            string     `json:"desc" example:"Loading fsimage"`
	Status          string     `json:"status" example:"COMPLETE" enums:"PENDING,RUNNING,COMPLETE"`
	PercentComplete float64    `json:"percentComplete" example:"1"`
	ElapsedTime     int64      `json:"elapsedTime" example:"812"`
	Steps           []StepView `json:"steps"`
}

// StepView is the one counted step of a phase.
type StepView struct {
	Name            string  `json:"name" example:"Inodes"`
	Count           int64   `json:"count" example:"1000000"`
	Total           int64   `json:"total" example:"1000000"`
	PercentComplete float64 `json:"percentComplete" example:"1"`
}

// View returns the current progress.
func (p *Progress) View() StartupProgressView {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	v := StartupProgressView{ElapsedTime: now.Sub(p.start).Milliseconds()}
	var sum float64
	for _, ph := range p.phases {
		pct := 0.0
		switch {
		case ph.status == "COMPLETE":
			pct = 1
		case ph.total > 0:
			pct = min(1, float64(ph.count)/float64(ph.total))
		}
		sum += pct
		var elapsed int64
		switch ph.status {
		case "RUNNING":
			elapsed = now.Sub(ph.begin).Milliseconds()
		case "COMPLETE":
			elapsed = ph.end.Sub(ph.begin).Milliseconds()
		}
		v.Phases = append(v.Phases, PhaseView{
			Name: ph.name, Desc: phaseDescs[ph.name], Status: ph.status, PercentComplete: pct, ElapsedTime: elapsed,
			Steps: []StepView{{Name: phaseSteps[ph.name], Count: ph.count, Total: ph.total, PercentComplete: pct}},
		})
	}
	v.PercentComplete = sum / float64(len(p.phases))
	return v
}
