package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
)

// The command table names each command as the command itself does.
func TestCommandTable(t *testing.T) {
	env := &Env{Getenv: func(string) string { return "" }}
	full := newRootCmd(env)
	var built []string
	for _, c := range full.Commands() {
		built = append(built, c.Name())
	}
	for _, c := range commands() {
		cmd := c.new(env)
		want := strings.Fields(c.names)
		if got := append([]string{cmd.Name()}, cmd.Aliases...); !slices.Equal(got, want) {
			t.Errorf("table names %q, the command says %q", want, got)
		}
		if !slices.Contains(built, cmd.Name()) {
			t.Errorf("the whole tree has no %q", cmd.Name())
		}
	}
	if n := len(commands()); len(built) != n+1 { // + completion (help is added at Execute)
		t.Errorf("the whole tree has %d commands %q, the table %d (+ completion)", len(built), built, n)
	}
}

func TestCommandIndex(t *testing.T) {
	index := func(name string) int {
		for i, c := range commands() {
			if strings.Fields(c.names)[0] == name {
				return i
			}
		}
		t.Fatalf("no command %q", name)
		return -1
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"command", []string{"verify", "reg/app@sha256:ab"}, index("verify")},
		{"after root flags", []string{"--debug", "-v", "verify"}, index("verify")},
		{"after combined and valued root flags", []string{"-dv", "--verbose=false", "sign"}, index("sign")},
		{"alias", []string{"cp", "a", "b"}, index("copy")},
		{"group", []string{"cert", "ls"}, index("certificate")},
		{"no arguments", nil, -1},
		{"only flags", []string{"--help"}, -1},
		{"help", []string{"help", "verify"}, -1},
		{"completion", []string{"completion", "bash"}, -1},
		{"shell completion request", []string{"__complete", "ver"}, -1},
		{"unknown command", []string{"verfy"}, -1},
		{"after --", []string{"--", "verify"}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := commandIndex(commands(), tc.args); got != tc.want {
				t.Errorf("commandIndex(%q) = %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}

// A command line run on the tree built for it prints and exits exactly as
// on the whole tree.
func TestLazyTreeBehavesAsWholeTree(t *testing.T) {
	cfg := t.TempDir()
	run := func(args []string, whole bool) (string, string, int) {
		var stdout, stderr bytes.Buffer
		env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
			if k == "SIGNET_CONFIG" {
				return cfg
			}
			return ""
		}}
		root := newRootCmdFor(env, args)
		if whole {
			root = newRootCmd(env)
		}
		root.SetArgs(args)
		code := exitOK
		if err := root.ExecuteContext(context.Background()); err != nil {
			reportError(env.Stderr, err)
			code = exitCode(err)
		}
		return stdout.String(), stderr.String(), code
	}
	for _, args := range [][]string{
		{"version"},
		{"-d", "version", "-o", "json"},
		{"verify", "--help"},
		{"verify"},
		{"verify", "--no-such-flag", "x"},
		{"cert", "ls", "--help"},
		{"cert", "lss"},
		{"policy"},
		{"blob", "verify", "--help"},
		{"cp", "--help"},
		{"key", "ls"},
		{"version", "extra"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			lo, le, lc := run(args, false)
			wo, we, wc := run(args, true)
			if lo != wo || le != we || lc != wc {
				t.Errorf("built for the command line: exit %d\n%s%s\nwhole tree: exit %d\n%s%s", lc, lo, le, wc, wo, we)
			}
		})
	}
}
