package kittest

import (
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/unboxlab/unbox/internal/kit"
)

// EnglishLeft lists the English that translated still prints although cat
// translates it: each piece of a key's text (between its verbs, line by
// line) of two words or more that the English run printed and the
// translated run printed too, unless some translation keeps it as it is (a
// command, a flag). A line the lesson glued together from a translated
// fragment, wrote through Writer or formatted before narrating shows up
// here, where [kit.Recorder.Missing] cannot see it: the key was found, or
// never looked up.
func EnglishLeft(cat kit.Catalog, english, translated string) []string {
	var kept strings.Builder
	for _, v := range cat {
		kept.WriteString(v + "\n")
	}
	var left []string
	for k := range cat {
		for _, piece := range verbs.Split(k, -1) {
			for _, p := range strings.Split(piece, "\n") {
				p = strings.TrimSpace(p)
				if !isProse(p) || slices.Contains(left, p) || strings.Contains(kept.String(), p) {
					continue
				}
				if strings.Contains(english, p) && strings.Contains(translated, p) {
					left = append(left, p)
				}
			}
		}
	}
	slices.Sort(left)
	return left
}

// verbs matches a format's verbs, as fmt writes them.
var verbs = regexp.MustCompile(`%(?:\[\d+\])?[-+# 0]*[\d.]*[a-zA-Z%]`)

// isProse reports whether s has two words of letters at least: words to
// read, not a name or a number alone.
func isProse(s string) bool {
	words := 0
	for _, f := range strings.Fields(s) {
		letters := 0
		for _, r := range f {
			if unicode.IsLetter(r) {
				letters++
			}
		}
		if letters >= 2 {
			words++
		}
	}
	return words >= 2
}
