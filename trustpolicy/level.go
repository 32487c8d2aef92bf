package trustpolicy

import (
	"fmt"
	"slices"
	"sort"
)

// ValidationType names one validation of the verification pipeline; the
// values are the keys of signatureVerification.override.
type ValidationType string

// The five validations of §5.4, in pipeline order.
const (
	Integrity          ValidationType = "integrity"
	Authenticity       ValidationType = "authenticity"
	AuthenticTimestamp ValidationType = "authenticTimestamp"
	Expiry             ValidationType = "expiry"
	Revocation         ValidationType = "revocation"
)

// ValidationTypes lists the validations in pipeline order. Treat it as
// read-only.
var ValidationTypes = []ValidationType{Integrity, Authenticity, AuthenticTimestamp, Expiry, Revocation}

// Action is what a failed validation leads to.
type Action string

// Actions of §5.4.
const (
	// ActionEnforce: a failure is critical and fails the signature.
	ActionEnforce Action = "enforce"
	// ActionLog: a failure is recorded and evaluation continues.
	ActionLog Action = "log"
	// ActionSkip: the validation is not performed.
	ActionSkip Action = "skip"
)

// Verification levels (TP-8).
const (
	LevelStrict     = "strict"
	LevelPermissive = "permissive"
	LevelAudit      = "audit"
	LevelSkip       = "skip"
)

// Values of signatureVerification.verifyTimestamp (TP-8, TSV-4). The empty
// string means TimestampAlways.
const (
	TimestampAlways          = "always"
	TimestampAfterCertExpiry = "afterCertExpiry"
)

// levels is the LVL table: the action of each validation per level, in
// ValidationTypes order. It is only read.
var levels = map[string][5]Action{
	LevelStrict:     {ActionEnforce, ActionEnforce, ActionEnforce, ActionEnforce, ActionEnforce},
	LevelPermissive: {ActionEnforce, ActionEnforce, ActionLog, ActionLog, ActionLog},
	LevelAudit:      {ActionEnforce, ActionLog, ActionLog, ActionLog, ActionLog},
	LevelSkip:       {ActionSkip, ActionSkip, ActionSkip, ActionSkip, ActionSkip},
}

// overridable lists, per validation type, the actions an override may set
// (LVL-2). Integrity is absent: it cannot be overridden.
var overridable = map[ValidationType][]Action{
	Authenticity:       {ActionEnforce, ActionLog},
	AuthenticTimestamp: {ActionEnforce, ActionLog},
	Expiry:             {ActionEnforce, ActionLog},
	Revocation:         {ActionEnforce, ActionLog, ActionSkip},
}

// SignatureVerification is a statement's signatureVerification member.
type SignatureVerification struct {
	// Level is strict, permissive, audit or skip.
	Level string `json:"level"`
	// Override replaces the level's action for the named validations
	// (custom level, LVL-2). Not allowed with level skip.
	Override map[ValidationType]Action `json:"override,omitempty"`
	// VerifyTimestamp is always or afterCertExpiry; "" means always.
	VerifyTimestamp string `json:"verifyTimestamp,omitempty"`
}

// actions applies the LVL table and the overrides. An unknown level gets
// the strict column and an override that LVL-2 forbids is ignored, so an
// unvalidated statement never becomes more lenient than its text allows.
func (sv SignatureVerification) actions() map[ValidationType]Action {
	col, ok := levels[sv.Level]
	if !ok {
		col = levels[LevelStrict]
	}
	out := make(map[ValidationType]Action, len(ValidationTypes))
	for i, t := range ValidationTypes {
		out[t] = col[i]
	}
	if sv.Level == LevelSkip {
		return out
	}
	for t, a := range sv.Override {
		if slices.Contains(overridable[t], a) {
			out[t] = a
		}
	}
	return out
}

// validate checks TP-8 and LVL-2, reporting each problem through add.
func (sv SignatureVerification) validate(add func(field, msg string)) {
	const field = "signatureVerification"
	switch {
	case sv.Level == "":
		add(field+".level", "level is missing; use strict, permissive, audit or skip")
	case !isLevel(sv.Level):
		add(field+".level", fmt.Sprintf("level %q is not supported; use strict, permissive, audit or skip", sv.Level))
	}
	switch sv.VerifyTimestamp {
	case "", TimestampAlways, TimestampAfterCertExpiry:
	default:
		add(field+".verifyTimestamp", fmt.Sprintf("value %q is not supported; use %s or %s", sv.VerifyTimestamp, TimestampAlways, TimestampAfterCertExpiry))
	}
	if len(sv.Override) == 0 {
		return
	}
	if sv.Level == LevelSkip {
		add(field+".override", "level skip cannot be customized with an override")
		return
	}
	keys := make([]string, 0, len(sv.Override))
	for t := range sv.Override {
		keys = append(keys, string(t))
	}
	sort.Strings(keys) // deterministic error order
	for _, k := range keys {
		t := ValidationType(k)
		a := sv.Override[t]
		allowed, known := overridable[t]
		switch {
		case t == Integrity:
			add(field+".override", "integrity validation cannot be overridden")
		case !known:
			add(field+".override", fmt.Sprintf("validation type %q is not supported; use authenticity, authenticTimestamp, expiry or revocation", k))
		case slices.Contains(allowed, a):
		case a == ActionSkip:
			add(field+".override", fmt.Sprintf("%s validation cannot be skipped; only revocation can", k))
		default:
			add(field+".override", fmt.Sprintf("action %q for %s is not supported; use %s", a, k, joinActions(allowed)))
		}
	}
}

func joinActions(as []Action) string {
	s := ""
	for i, a := range as {
		switch {
		case i == 0:
		case i == len(as)-1:
			s += " or "
		default:
			s += ", "
		}
		s += string(a)
	}
	return s
}

func isLevel(l string) bool {
	_, ok := levels[l]
	return ok
}
