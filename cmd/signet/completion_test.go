package main

import (
	"slices"
	"strings"
	"testing"
)

// TestCompletionScripts: `signet completion SHELL` prints a script for
// signet (docs/cli.md).
func TestCompletionScripts(t *testing.T) {
	tests := []struct {
		shell string
		want  string // a line only that shell's script has
	}{
		{shell: "bash", want: "complete -o default -F __start_signet signet"},
		{shell: "zsh", want: "#compdef signet"},
		{shell: "fish", want: "complete -c signet"},
		{shell: "powershell", want: "Register-ArgumentCompleter"},
	}
	c := newCLI(t)
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			r := c.must("completion", tt.shell)
			if !strings.Contains(r.stdout, tt.want) || !strings.Contains(r.stdout, "signet") {
				t.Errorf("completion %s lacks %q:\n%.400s", tt.shell, tt.want, r.stdout)
			}
		})
	}
	checkFailure(t, c.run("completion", "tcsh"), exitUsage, `unknown command "tcsh"`, "*")
}

// complete runs cobra's hidden __complete command and returns the offered
// values (without descriptions) and the directive line.
func (c *cli) complete(args ...string) ([]string, string) {
	c.t.Helper()
	r := c.must(append([]string{"__complete"}, args...)...)
	var values []string
	directive := ""
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if strings.HasPrefix(l, ":") {
			directive = l
			continue
		}
		v, _, _ := strings.Cut(l, "\t")
		values = append(values, v)
	}
	return values, directive
}

// TestCompletionValues: flag values complete (docs/cli.md): formats, trust
// store types, levels, output formats, and key names from signingkeys.json.
func TestCompletionValues(t *testing.T) {
	c := newCLI(t)
	c.addChainKey("alpha", "ec-256")
	c.addChainKey("beta", "ec-256")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "blob sign --signature-format", args: []string{"blob", "sign", "--signature-format", ""}, want: []string{"jws", "cose"}},
		{name: "sign --signature-format", args: []string{"sign", "--signature-format", ""}, want: []string{"jws", "cose"}},
		{name: "sign --signature-manifest", args: []string{"sign", "--signature-manifest", ""}, want: []string{"image", "artifact"}},
		{name: "cert add --type", args: []string{"cert", "add", "--type", ""}, want: []string{"ca", "signingAuthority", "tsa", "publickey"}},
		{name: "policy init --level", args: []string{"policy", "init", "--level", ""}, want: []string{"strict", "permissive", "audit", "skip"}},
		{name: "blob policy init --level", args: []string{"blob", "policy", "init", "--level", ""}, want: []string{"strict", "permissive", "audit", "skip"}},
		{name: "blob verify -o", args: []string{"blob", "verify", "-o", ""}, want: []string{"text", "json"}},
		{name: "cert generate-test --key-type", args: []string{"cert", "generate-test", "--key-type", ""}, want: []string{"rsa-2048", "rsa-3072", "rsa-4096", "ec-256", "ec-384", "ec-521"}},
		{name: "blob sign --key", args: []string{"blob", "sign", "--key", ""}, want: []string{"alpha", "beta"}},
		{name: "sign -k with a prefix", args: []string{"sign", "-k", "b"}, want: []string{"beta"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, directive := c.complete(tt.args...)
			// The shell filters by prefix; cobra's fixed lists may not.
			var matching []string
			prefix := tt.args[len(tt.args)-1]
			for _, v := range got {
				if strings.HasPrefix(v, prefix) {
					matching = append(matching, v)
				}
			}
			if !slices.Equal(matching, tt.want) {
				t.Errorf("completions %v, want %v", got, tt.want)
			}
			// ShellCompDirectiveNoFileComp (4): values, not file names.
			if directive != ":4" {
				t.Errorf("directive %q, want :4 (no file completion)", directive)
			}
		})
	}
}
