package trustpolicy

import (
	"maps"
	"slices"
	"testing"
)

func actionsOf(a, b, c, d, e Action) map[ValidationType]Action {
	return map[ValidationType]Action{Integrity: a, Authenticity: b, AuthenticTimestamp: c, Expiry: d, Revocation: e}
}

// TestActions pins the LVL table and override application (LVL-1..LVL-3).
func TestActions(t *testing.T) {
	E, L, S := ActionEnforce, ActionLog, ActionSkip
	tests := []struct {
		name string
		sv   SignatureVerification
		want map[ValidationType]Action
	}{
		{"strict", SignatureVerification{Level: LevelStrict}, actionsOf(E, E, E, E, E)},
		{"permissive", SignatureVerification{Level: LevelPermissive}, actionsOf(E, E, L, L, L)},
		{"audit", SignatureVerification{Level: LevelAudit}, actionsOf(E, L, L, L, L)},
		{"skip", SignatureVerification{Level: LevelSkip}, actionsOf(S, S, S, S, S)},
		{"strict with expiry log", SignatureVerification{Level: LevelStrict, Override: map[ValidationType]Action{Expiry: L}}, actionsOf(E, E, E, L, E)},
		{"strict with revocation skip", SignatureVerification{Level: LevelStrict, Override: map[ValidationType]Action{Revocation: S}}, actionsOf(E, E, E, E, S)},
		{"audit with authenticity enforce", SignatureVerification{Level: LevelAudit, Override: map[ValidationType]Action{Authenticity: E, AuthenticTimestamp: E}}, actionsOf(E, E, E, L, L)},
		{"permissive with revocation enforce", SignatureVerification{Level: LevelPermissive, Override: map[ValidationType]Action{Revocation: E}}, actionsOf(E, E, L, L, E)},
		// Unvalidated statements never get more lenient than their text.
		{"skip ignores overrides", SignatureVerification{Level: LevelSkip, Override: map[ValidationType]Action{Revocation: E}}, actionsOf(S, S, S, S, S)},
		{"integrity override ignored", SignatureVerification{Level: LevelAudit, Override: map[ValidationType]Action{Integrity: L}}, actionsOf(E, L, L, L, L)},
		{"expiry skip ignored", SignatureVerification{Level: LevelStrict, Override: map[ValidationType]Action{Expiry: S}}, actionsOf(E, E, E, E, E)},
		{"unknown level is strict", SignatureVerification{Level: "lenient"}, actionsOf(E, E, E, E, E)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Statement{SignatureVerification: tc.sv}
			got := s.Actions()
			if !maps.Equal(got, tc.want) {
				t.Errorf("Actions() = %v, want %v", got, tc.want)
			}
			got[Integrity] = ActionSkip
			if s.Actions()[Integrity] == ActionSkip && tc.sv.Level != LevelSkip {
				t.Error("Actions() shares its map between calls")
			}
			if s.IsSkip() != (tc.sv.Level == LevelSkip) {
				t.Errorf("IsSkip() = %v", s.IsSkip())
			}
		})
	}
}

func TestValidationTypesOrder(t *testing.T) {
	want := []ValidationType{"integrity", "authenticity", "authenticTimestamp", "expiry", "revocation"}
	if !slices.Equal(ValidationTypes, want) {
		t.Errorf("ValidationTypes = %v, want %v", ValidationTypes, want)
	}
}

// TestVerifyTimestampAlways covers TSV-4's setting: "" and "always" mean
// always; only afterCertExpiry relaxes it.
func TestVerifyTimestampAlways(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  bool
	}{
		{"unset", "", true},
		{"always", TimestampAlways, true},
		{"afterCertExpiry", TimestampAfterCertExpiry, false},
		{"invalid value fails safe", "never", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Statement{SignatureVerification: SignatureVerification{Level: LevelStrict, VerifyTimestamp: tc.value}}
			if got := s.VerifyTimestampAlways(); got != tc.want {
				t.Errorf("VerifyTimestampAlways() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestStoresOfType covers TS-8: de-duplicated, in order, by type.
func TestStoresOfType(t *testing.T) {
	s := &Statement{TrustStores: []string{"ca:b", "tsa:t1", "ca:a", "ca:b", "signingAuthority:sa", "bogus", "ca:", "tsa:t1", "CA:c", "ca:a"}}
	tests := []struct {
		typ  string
		want []string
	}{
		{StoreCA, []string{"b", "a"}},
		{StoreTSA, []string{"t1"}},
		{StoreSigningAuthority, []string{"sa"}},
		{"x509", nil},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			if got := s.StoresOfType(tc.typ); !slices.Equal(got, tc.want) {
				t.Errorf("StoresOfType(%q) = %q, want %q", tc.typ, got, tc.want)
			}
		})
	}
}
