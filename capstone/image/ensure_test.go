//go:build linux

package image_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

func TestParsePullPolicy(t *testing.T) {
	for in, want := range map[string]image.PullPolicy{
		"": image.PullMissing, "missing": image.PullMissing, "IfMissing": image.PullMissing, "ifnotpresent": image.PullMissing,
		"always": image.PullAlways, "true": image.PullAlways, "Always": image.PullAlways,
		"never": image.PullNever, "false": image.PullNever, "newer": image.PullNewer, "ifnewer": image.PullNewer,
	} {
		if got, err := image.ParsePullPolicy(in); got != want || err != nil {
			t.Errorf("ParsePullPolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := image.ParsePullPolicy("sometimes"); err == nil || !strings.Contains(err.Error(), "invalid pull option: 'sometimes'") {
		t.Errorf("ParsePullPolicy(sometimes) = %v; want invalid pull option", err)
	}
}

// TestPrivEnsure: Store.Ensure pulls exactly when the policy says, with
// a pull that stands in for the registry's (it imports the image under
// the name asked for), and gives back what the pull stored.
func TestPrivEnsure(t *testing.T) {
	kittest.Privileged(t, kit.NeedRoot)
	ctx := context.Background()
	s := open(t)
	const ref = "registry.test/app:1"
	var calls []bool // each pull's missing
	fail := false
	o := func(p image.PullPolicy) image.EnsureOptions {
		calls = nil
		return image.EnsureOptions{Policy: p, Pull: func(_ context.Context, r string, missing bool) error {
			calls = append(calls, missing)
			if fail {
				return errors.New("registry.test: no answer")
			}
			_, err := s.Import(bytes.NewReader(tarOf(t, map[string]string{"pulled": "yes\n"})), image.ImportOptions{Ref: r})
			return err
		}}
	}

	if _, err := s.Ensure(ctx, ref, o(image.PullNever)); !errors.Is(err, image.ErrNotFound) || len(calls) != 0 {
		t.Errorf("Ensure(never) of a missing image = %v, %d pulls; want ErrNotFound, none", err, len(calls))
	}
	fail = true
	if _, err := s.Ensure(ctx, ref, o(image.PullNewer)); err == nil || len(calls) != 1 {
		t.Errorf("Ensure(newer) of a missing image, the pull failing = %v, %d pulls; want the pull's error", err, len(calls))
	}
	fail = false
	img, err := s.Ensure(ctx, ref, o(image.PullMissing))
	if err != nil || len(calls) != 1 || !calls[0] || !strings.Contains(strings.Join(img.Names, " "), ref) {
		t.Fatalf("Ensure(missing) of a missing image = %v, %v, pulls %v; want one pull, told it is missing, and the image", img.Names, err, calls)
	}
	if got, err := s.Ensure(ctx, ref, o(image.PullMissing)); err != nil || len(calls) != 0 || got.ID != img.ID {
		t.Errorf("Ensure(missing) of an image here = %v, %d pulls; want it, no pull", err, len(calls))
	}
	if _, err := s.Ensure(ctx, ref, o(image.PullAlways)); err != nil || len(calls) != 1 || calls[0] {
		t.Errorf("Ensure(always) of an image here = %v, pulls %v; want one pull, told it is here", err, calls)
	}
	fail = true
	if _, err := s.Ensure(ctx, ref, o(image.PullAlways)); err == nil {
		t.Errorf("Ensure(always), the pull failing = nil; want the pull's error")
	}
	if got, err := s.Ensure(ctx, ref, o(image.PullNewer)); err != nil || len(calls) != 1 || got.Names == nil {
		t.Errorf("Ensure(newer) of an image here, the pull failing = %v, %d pulls; want the local image", err, len(calls))
	}
	fail = false

	// A local image of another platform is missing for that platform.
	other := o(image.PullNever)
	other.Platform = &v1.Platform{OS: "linux", Architecture: "s390x"}
	if _, err := s.Ensure(ctx, ref, other); !errors.Is(err, image.ErrNotFound) || !strings.Contains(err.Error(), "does not match the specified platform: wanted linux/s390x") {
		t.Errorf("Ensure(never, linux/s390x) of this machine's image = %v; want the platform's mismatch", err)
	}
	other.Policy = image.PullMissing
	if s.Ensure(ctx, ref, other); len(calls) != 1 || !calls[0] {
		t.Errorf("Ensure(missing, linux/s390x) of this machine's image: pulls %v; want one, told it is missing", calls)
	}

	// An ID is never pulled: no registry holds it by that name.
	if _, err := s.Ensure(ctx, strings.Repeat("ab", 32), o(image.PullAlways)); !errors.Is(err, image.ErrNotFound) || len(calls) != 0 {
		t.Errorf("Ensure(always) of a missing ID = %v, %d pulls; want ErrNotFound, none", err, len(calls))
	}
}
