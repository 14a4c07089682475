package learn

import (
	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/output"
)

// Problems (package diagnose) get a note each, once per kind per
// connection: the rule the problem shows broken and where it is written
// (Kind.Rule). Its key is "problem." and the kind's name.

// problem adds the note of a problem's kind, unless shown on this
// connection.
func (x *Explainer) problem(p *diagnose.Problem) {
	k := p.Kind
	if k == 0 || k >= 32 {
		return
	}
	bit := uint32(1) << k
	if !x.all && x.problems&bit != 0 {
		return
	}
	x.problems |= bit
	rule := k.Rule()
	if rule == "" {
		return
	}
	x.notes = append(x.notes, output.Note{Key: ProblemNoteKey(k), Stage: problemStage(k), Text: rule})
}

// ProblemNoteKey returns the key of the note of problems of kind k:
// "problem.auth-failed".
func ProblemNoteKey(k diagnose.Kind) string { return "problem." + k.String() }

// problemStage is the stage of the connection a kind of problem belongs to.
func problemStage(k diagnose.Kind) string {
	switch k {
	case diagnose.MechanismMismatch, diagnose.UnsupportedVersion, diagnose.AsServerConflict:
		return output.StageVersion
	case diagnose.AuthFailed:
		return output.StageSecurity
	case diagnose.SocketTypeMismatch, diagnose.DuplicateIdentity:
		return output.StageMetadata
	case diagnose.ConnectRefused, diagnose.ResetMidMessage, diagnose.HeartbeatTimeout:
		return output.StageTeardown
	}
	return output.StageMessages
}
