package build

import (
	"strings"
	"testing"
)

func TestParseNamesTheLineOfWhatItRefuses(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"FROM unbox/busybox\nRUN true\nFROBNICATE now\n", "Dockerfile:3: unknown instruction: FROBNICATE"},
		{"FROM unbox/busybox\nONBUILD RUN true\n", "Dockerfile:2: the ONBUILD instruction is not supported"},
		{"FROM unbox/busybox\n\nRUN --network=host true\n", "Dockerfile:3: RUN --network is not supported"},
		{"FROM unbox/busybox\nCOPY --link a /b\n", "Dockerfile:2: COPY --link is not supported"},
		{"RUN true\n", "Dockerfile:1: no build stage in current context"},
		{"# just a comment\n", "Dockerfile:1: file with no instructions"},
		{"FROM unbox/busybox\nENV\n", "Dockerfile:2: ENV requires at least one argument"},
	} {
		_, err := Parse("Dockerfile", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v; want an error with %q", tc.src, err, tc.want)
		}
	}
}

func TestParseStages(t *testing.T) {
	df, err := Parse("Dockerfile", []byte("ARG BASE=unbox/busybox\nFROM $BASE AS first\nRUN echo one > /one\n"+
		"FROM scratch\nCOPY --from=first /one /one\nCMD [\"/one\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(df.Stages) != 2 || df.Stages[0].Name != "first" || df.Stages[1].BaseName != "scratch" || len(df.MetaArgs) != 1 {
		t.Fatalf("Parse = %d stages (%+v), %d meta args; want 2 stages, first and scratch, 1 meta arg", len(df.Stages), df.Stages, len(df.MetaArgs))
	}
}
