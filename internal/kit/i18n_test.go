package kit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

func TestParsePO(t *testing.T) {
	po := `# a comment
msgid ""
msgstr ""
"Language: zh_CN\n"

msgid "hostname %s (unchanged)"
msgstr "主机名 %s（未变）"

#, fuzzy
msgid ""
"two\n"
"lines"
msgstr ""
"两\n"
"行"

msgid "not yet"
msgstr ""
`
	c, err := ParsePO(po)
	if err != nil {
		t.Fatal(err)
	}
	want := Catalog{"hostname %s (unchanged)": "主机名 %s（未变）", "two\nlines": "两\n行"}
	if len(c) != len(want) {
		t.Errorf("ParsePO = %q; want %q", c, want)
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("ParsePO[%q] = %q; want %q", k, c[k], v)
		}
	}
	for _, bad := range []string{`msgstr "x"`, `msgid "a"` + "\nbogus", `msgid "unterminated`} {
		if _, err := ParsePO(bad); err == nil {
			t.Errorf("ParsePO(%q) = nil error; want one", bad)
		}
	}
	// What FormatPO writes, ParsePO reads (once translated).
	keys := []string{"a %d b", "x\ny\n"}
	text := strings.ReplaceAll(FormatPO(keys), `msgstr ""`, `msgstr "T"`)
	back, err := ParsePO(text)
	if err != nil || back["a %d b"] != "T" || back["x\ny\n"] != "T" {
		t.Errorf("ParsePO(FormatPO(%q)) = %q, %v", keys, back, err)
	}
}

func TestSameVerbs(t *testing.T) {
	for _, c := range []struct {
		key, tr string
		ok      bool
	}{
		{"%s  hostname %s", "%s  主机名 %s", true},
		{"%d of %d periods", "%[2]d 个周期中的 %[1]d 个", true},
		{"%d MiB", "%d MiB", true},
		{"%d MiB", "%s MiB", false},
		{"%s and %s", "%s", false},
		{"%#x key", "键 %#x", true},
		{"%#x key", "键 %x", false},
		{"100%% sure %s", "%s 百分之百", true},
	} {
		if err := SameVerbs(c.key, c.tr); (err == nil) != c.ok {
			t.Errorf("SameVerbs(%q, %q) = %v; want ok %v", c.key, c.tr, err, c.ok)
		}
	}
}

func TestHasWords(t *testing.T) {
	for s, want := range map[string]bool{
		"%s": false, "%s  %s": false, "%d: %d": false, "%-10s %s": false, "(%s)": false,
		"%d MiB": true, "hostname %s": true, "主机 %s": true, "%#x key": true,
	} {
		if got := hasWords(s); got != want {
			t.Errorf("hasWords(%q) = %v; want %v", s, got, want)
		}
	}
}

// fakeEnv is a lookup function over key, value pairs, for the functions
// that read the environment through one.
func fakeEnv(kv ...string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1], true
			}
		}
		return "", false
	}
}

func TestLanguageFromEnv(t *testing.T) {
	env := fakeEnv
	for _, c := range []struct {
		env  []string
		want string
	}{
		{nil, English},
		{[]string{"LANG", "zh_CN.UTF-8"}, Chinese},
		{[]string{"LANG", "zh_TW.UTF-8"}, Chinese},
		{[]string{"LANG", "en_US.UTF-8"}, English},
		{[]string{"LANG", "de_DE.UTF-8"}, English},
		{[]string{"LANG", "zh_CN.UTF-8", "LC_ALL", "C"}, English},
		{[]string{"LANG", "en_US.UTF-8", "LC_MESSAGES", "zh_CN.UTF-8"}, Chinese},
		{[]string{"LANG", "zh_CN.UTF-8", "LC_ALL", ""}, Chinese},
		{[]string{"LANG", "en_US.UTF-8", "LANGUAGE", "fr:zh_CN:en"}, Chinese},
		{[]string{"LANGUAGE", "zh_CN"}, English}, // no locale: gettext ignores LANGUAGE
	} {
		if got := LanguageFromEnv(env(c.env...)); got != c.want {
			t.Errorf("LanguageFromEnv(%q) = %s; want %s", c.env, got, c.want)
		}
	}
}

// testCatalog is a lesson's catalog for the tests below.
var testCatalog = Catalog{
	"Step %d/%d · %s":       "步骤 %d/%d · %s",
	"inside":                "容器内",
	"host":                  "宿主机",
	"One":                   "一",
	"Explained.":            "解释。",
	"hostname %s":           "主机名 %s",
	"Seven of %d.":          "%d 个中的七个。",
	"name":                  "名称",
	"(empty)":               "（空）",
	"ls %s    # list it":    "ls %s    # 列出",
	"A paragraph\nof text.": "一段\n文字。",
}

func zhNarrator(w io.Writer, rec *Recorder) *Narrator {
	n := NewNarrator(w, false)
	n.setLanguage(Chinese, testCatalog)
	rec.attach(n)
	return n
}

func TestNarratorTranslates(t *testing.T) {
	var b bytes.Buffer
	rec := &Recorder{}
	n := zhNarrator(&b, rec)
	n.Step(1, 2, "One", "Explained.")
	n.Cmd("ls %s    # list it", "/tmp")
	n.Cmd("cat %s", "/etc/hostname") // no comment: not a key
	n.Inside("hostname %s", "unbox")
	n.Host("%s", "data is not a key")
	n.Note("Seven of %d.", 8)
	n.Say("%s", "A paragraph\nof text.")
	n.Table([]string{"name", ""}, [][]string{{"a", n.T("(empty)")}})
	n.Say("an untranslated line")
	want := "\n步骤 1/2 · 一\n  解释。\n\n  $ ls /tmp    # 列出\n\n  $ cat /etc/hostname\n" +
		"  容器内 │ 主机名 unbox\n  宿主机 │ data is not a key\n\n  → 8 个中的七个。\n  一段\n  文字。\n" +
		"  名称\n  ------------\n  a     （空）\n  an untranslated line\n"
	if b.String() != want {
		t.Errorf("narration =\n%s\nwant\n%s", b.String(), want)
	}
	if got := rec.Missing(); !slices.Equal(got, []string{"an untranslated line"}) {
		t.Errorf("Missing() = %q; want the one line without a translation", got)
	}
	// The same events in English: the run as it would be without --lang.
	wantEN := "\nStep 1/2 · One\n  Explained.\n\n  $ ls /tmp    # list it\n\n  $ cat /etc/hostname\n" +
		"  inside │ hostname unbox\n  host   │ data is not a key\n\n  → Seven of 8.\n  A paragraph\n  of text.\n" +
		"  name\n  -------------\n  a     (empty)\n  an untranslated line\n"
	if got := rec.English(); got != wantEN {
		t.Errorf("English() =\n%s\nwant\n%s", got, wantEN)
	}
}

func TestWidthCountsWideCharacters(t *testing.T) {
	for s, want := range map[string]int{"abc": 3, "容器": 4, "inside │ x": 10, "→ 注": 4} {
		if got := Width(s); got != want {
			t.Errorf("Width(%q) = %d; want %d", s, got, want)
		}
	}
	// A table of wide characters lines up by columns, not by runes.
	got := RenderTable([]string{"名称", "x"}, [][]string{{"容器内", "1"}, {"a", "2"}})
	want := "名称    x\n---------\n容器内  1\na       2"
	if got != want {
		t.Errorf("RenderTable =\n%s\nwant\n%s", got, want)
	}
}

// TestRunInChinese runs a lesson in Chinese, by flag and by locale, and the
// check command with its verdicts and exit codes.
func TestRunInChinese(t *testing.T) {
	l := &Lesson{
		Name: "00-test", Title: "00 · test",
		Catalogs: map[string]string{Chinese: "msgid \"00 · test\"\nmsgstr \"00 · 测试\"\n\nmsgid \"One\"\nmsgstr \"一\"\n"},
		Steps:    []Step{{Title: "One", Run: func(s *Session) error { return nil }}},
		Exercises: []Exercise{
			{Title: "One", Stub: "x.go:F", Hint: "look", Check: func(s *Session) error { return TODO(1) }},
			{Title: "One", Stub: "x.go:G", Hint: "look", Check: func(s *Session) error { return nil }},
		},
	}
	run := func(ctx context.Context, args ...string) (string, error) {
		var out bytes.Buffer
		err := Run(ctx, l, append([]string{l.Name}, args...), nil, &out, io.Discard)
		return out.String(), err
	}
	out, err := run(context.Background(), "--lang", "zh")
	if err != nil || !strings.Contains(out, "unbox 课程 00 · 测试") || !strings.Contains(out, "步骤 1/1 · 一") {
		t.Errorf("--lang zh: %v\n%s", err, out)
	}
	if out, err = run(WithLanguage(context.Background(), Chinese)); err != nil || !strings.Contains(out, "步骤 1/1") {
		t.Errorf("in a Chinese context: %v\n%s", err, out)
	}
	if out, err = run(WithLanguage(context.Background(), Chinese), "--lang", "en"); err != nil || !strings.Contains(out, "Step 1/1 · One") {
		t.Errorf("--lang en wins over the context: %v\n%s", err, out)
	}
	if _, err := run(context.Background(), "--lang", "klingon"); err == nil {
		t.Error("--lang klingon: nil error; want one")
	}

	out, err = run(context.Background(), "check", "1")
	var failed *CheckFailedError
	if !errors.As(err, &failed) || failed.ExitCode() != 1 || !strings.Contains(out, "FAIL: exercise 1: not written yet") ||
		!strings.Contains(out, "hint: look") {
		t.Errorf("check 1 on a stub: %v\n%s", err, out)
	}
	if out, err = run(context.Background(), "check", "2"); err != nil || !strings.Contains(out, "PASS: exercise 2 works") {
		t.Errorf("check 2: %v\n%s", err, out)
	}
	if out, err = run(context.Background(), "--lang", "zh", "check", "2"); err != nil || !strings.Contains(out, "通过：练习 2") {
		t.Errorf("check 2 in Chinese: %v\n%s", err, out)
	}
	if _, err = run(context.Background(), "check", "3"); err == nil || !strings.Contains(err.Error(), "exercises 1 to 2") {
		t.Errorf("check 3: %v; want the range", err)
	}
	if out, err = run(context.Background(), "check"); err != nil || !strings.Contains(out, "x.go:G") {
		t.Errorf("check alone lists the exercises: %v\n%s", err, out)
	}
	if out, err = run(context.Background(), "--list"); err != nil || !strings.Contains(out, "check N") {
		t.Errorf("--list names the check command: %v\n%s", err, out)
	}
}

func TestKitCatalogIsComplete(t *testing.T) {
	c, err := ParsePO(kitZH)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c {
		if err := SameVerbs(k, v); err != nil {
			t.Errorf("kit zh.po %q: %v", k, err)
		}
	}
	for _, k := range []string{"Step %d/%d · %s", "unbox lesson %s", "inside", "host", "need", "found", "how to get it",
		"PASS: exercise %d works", "FAIL: exercise %d: %s", "hint: %s"} {
		if _, ok := c[k]; !ok {
			t.Errorf("kit zh.po lacks %q", k)
		}
	}
}

// A command folded with a backslash keeps the prompt on every line, as
// lessons' goldens (lesson 07's among them) have it.
func TestCmdFoldedKeepsThePrompt(t *testing.T) {
	var buf bytes.Buffer
	NewNarrator(&buf, false).Cmd("mount -t overlay overlay \\\n    merged")
	if want := "\n  $ mount -t overlay overlay \\\n  $     merged\n"; buf.String() != want {
		t.Errorf("Cmd printed %q; want %q", buf.String(), want)
	}
}

// A stub's TODO is the kit's to say, in the narration's language, whether
// the check returns it, wraps it or gets it back as text from a child; the
// English run prints the error as it is.
func TestCheckSaysTODOInChinese(t *testing.T) {
	errs := []error{
		TODO(1),
		fmt.Errorf("joinUTS: %w", TODO(2)),
		errors.New("ex-time child: " + TODO(3).Error()),
		errors.New("not a stub: 3 processes"),
	}
	l := failingChecks("", errs)
	for _, c := range []struct {
		n, lang, want string
	}{
		{"1", English, "FAIL: exercise 1: not written yet: the function still returns kit.TODO(1)\n"},
		{"2", English, "FAIL: exercise 2: joinUTS: not written yet: the function still returns kit.TODO(2)\n"},
		{"3", English, "FAIL: exercise 3: ex-time child: not written yet: the function still returns kit.TODO(3)\n"},
		{"1", Chinese, "未通过：练习 1：还没有写：函数仍然返回 kit.TODO(1)\n"},
		{"2", Chinese, "未通过：练习 2：joinUTS：还没有写：函数仍然返回 kit.TODO(2)\n"},
		{"3", Chinese, "未通过：练习 3：ex-time child：还没有写：函数仍然返回 kit.TODO(3)\n"},
		{"4", Chinese, "未通过：练习 4：not a stub: 3 processes\n"},
	} {
		checkSays(t, l, c.n, c.lang, c.want)
	}
}

// A check's reason made with Errorf reads as fmt.Errorf's in English, and
// is said in the narration's language by the verdict: its arguments as they
// are, the errors it wraps said the same way (a stub's TODO too), and one
// wrapped by a plain fmt.Errorf translated in place. A reason with no
// translation is printed in English and recorded as missing.
func TestCheckReasonsInChinese(t *testing.T) {
	po := `msgid "the child is in %s, not %s"
msgstr "子进程在 %s 里，不在 %s 里"

msgid "reading %s: %w"
msgstr "读取 %s 失败：%w"

msgid "the child has %d threads"
msgstr "子进程有 %d 个线程"

msgid "applying your plan: %w"
msgstr "执行你的计划：%w"
`
	enoent := fmt.Errorf("open /x: %w", fs.ErrNotExist)
	errs := []error{
		Errorf("the child is in %s, not %s", "/a", "/b"),
		Errorf("reading %s: %w", "/x", enoent),
		fmt.Errorf("joinUTS: %w", Errorf("the child has %d threads", 3)),
		Errorf("applying your plan: %w", TODO(4)),
		Errorf("nobody translated %s", "this"),
	}
	if err := errs[1]; !errors.Is(err, fs.ErrNotExist) || err.Error() != fmt.Errorf("reading %s: %w", "/x", enoent).Error() {
		t.Errorf("Errorf(%q) = %v, errors.Is ErrNotExist %v; want fmt.Errorf's text, wrapping it",
			"reading %s: %w", err, errors.Is(err, fs.ErrNotExist))
	}
	l := failingChecks(po, errs)
	for _, c := range []struct {
		n, lang, want string
	}{
		{"1", English, "FAIL: exercise 1: the child is in /a, not /b\n"},
		{"2", English, "FAIL: exercise 2: reading /x: open /x: file does not exist\n"},
		{"3", English, "FAIL: exercise 3: joinUTS: the child has 3 threads\n"},
		{"4", English, "FAIL: exercise 4: applying your plan: not written yet: the function still returns kit.TODO(4)\n"},
		{"1", Chinese, "未通过：练习 1：子进程在 /a 里，不在 /b 里\n"},
		{"2", Chinese, "未通过：练习 2：读取 /x 失败：open /x: file does not exist\n"},
		{"3", Chinese, "未通过：练习 3：joinUTS: 子进程有 3 个线程\n"},
		{"4", Chinese, "未通过：练习 4：执行你的计划：还没有写：函数仍然返回 kit.TODO(4)\n"},
		{"5", Chinese, "未通过：练习 5：nobody translated this\n"},
	} {
		missing := checkSays(t, l, c.n, c.lang, c.want)
		if want := c.n == "5" && c.lang == Chinese; slices.Contains(missing, "nobody translated %s") != want {
			t.Errorf("check %s in %s: missing %q; want %q there: %v", c.n, c.lang, missing, "nobody translated %s", want)
		}
	}
}

// failingChecks is a lesson with an exercise per error, whose check
// returns it, and po its Chinese catalog.
func failingChecks(po string, errs []error) *Lesson {
	l := &Lesson{Name: "00-test", Title: "00 · test", Catalogs: map[string]string{Chinese: po}}
	for _, e := range errs {
		l.Exercises = append(l.Exercises, Exercise{Title: "One", Stub: "x.go:F", Hint: "look",
			Check: func(s *Session) error { return e }})
	}
	return l
}

// checkSays runs `check n` of l in lang, wants it to fail with a line
// want, and returns the keys it found no translation for.
func checkSays(t *testing.T, l *Lesson, n, lang, want string) []string {
	t.Helper()
	var out bytes.Buffer
	rec := &Recorder{}
	ctx := WithRecorder(WithLanguage(context.Background(), lang), rec)
	err := Run(ctx, l, []string{l.Name, "check", n}, nil, &out, io.Discard)
	if !strings.Contains(out.String(), want) || err == nil {
		t.Errorf("check %s in %s: %v\n%s\nwant a line %q", n, lang, err, out.String(), want)
	}
	return rec.Missing()
}
