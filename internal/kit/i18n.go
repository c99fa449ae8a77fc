package kit

import (
	"bufio"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Translation works as gettext does: the English text a lesson narrates is
// the key, and a catalog per language maps it to the translation. Nothing in
// a lesson changes to be translated: s.Say("…"), s.Note("…"), s.Inside("…"),
// a Step's Title and Explain, a table's header are looked up as they are
// given. What is a key:
//
//   - a format string with letters outside its verbs ("hostname %s
//     (unchanged)"), narrated by any method; the translation gets the same
//     arguments, so it must have the same verbs (it may reorder them with
//     explicit indexes, %[2]s);
//   - the argument of "%s" in prose (Title, Step, Say, Note, Warn): lessons
//     narrate a paragraph held in a variable that way;
//   - a command (Cmd) only if it has a comment (`#`): the command itself is
//     what a person types in any language, and the translation must keep it;
//   - each header cell of a table; other cells are data, which a lesson
//     translates with [Narrator.T] where they are words;
//   - what [Narrator.T] is given: a fragment the lesson builds text from.
//
// Evidence stays as the kernel and the tools print it: file contents, error
// messages of system calls, command output.
//
// A catalog is a gettext PO file, msgid (the English) and msgstr (the
// translation) for each key, which a lesson embeds and names in
// [Lesson.Catalogs]. A key with no translation is printed in English and
// noted, so that a test running the lesson in that language (kittest's
// RunIn) fails and lists what is missing.

// Catalog maps English keys to their translation in one language.
type Catalog map[string]string

// ParsePO reads a catalog in gettext's PO format: msgid and msgstr, each a
// C-quoted string that may continue on the lines after it. Comments (#) and
// the header (the entry whose msgid is empty) are skipped, as are entries
// whose msgstr is empty, which gettext means as "not translated yet".
func ParsePO(text string) (Catalog, error) {
	c := Catalog{}
	var id, str *strings.Builder
	var cur *strings.Builder
	haveID := false
	flush := func() {
		if haveID && id.Len() > 0 && str != nil && str.Len() > 0 {
			c[id.String()] = str.String()
		}
		id, str, cur, haveID = nil, nil, nil, false
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "msgid "):
			flush()
			id, haveID = &strings.Builder{}, true
			cur = id
			line = strings.TrimPrefix(line, "msgid ")
		case strings.HasPrefix(line, "msgstr "):
			if !haveID || str != nil {
				return nil, fmt.Errorf("PO line %d: msgstr without its msgid", n)
			}
			str = &strings.Builder{}
			cur = str
			line = strings.TrimPrefix(line, "msgstr ")
		case strings.HasPrefix(line, `"`):
			if cur == nil {
				return nil, fmt.Errorf("PO line %d: a string outside msgid or msgstr", n)
			}
		default:
			return nil, fmt.Errorf("PO line %d: want msgid, msgstr or a quoted string: %q", n, line)
		}
		s, err := strconv.Unquote(strings.TrimSpace(line))
		if err != nil {
			return nil, fmt.Errorf("PO line %d: %s: %w", n, line, err)
		}
		cur.WriteString(s)
	}
	flush()
	return c, sc.Err()
}

// FormatPO writes entries for keys as a PO file would hold them, with an
// empty msgstr for a translator to fill in: what a test prints for the keys
// a lesson is missing.
func FormatPO(keys []string) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString("msgid " + poQuote(k) + "\nmsgstr \"\"\n\n")
	}
	return b.String()
}

// poQuote quotes s as PO does, a line per line of s.
func poQuote(s string) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) == 1 {
		return strconv.Quote(s)
	}
	var b strings.Builder
	b.WriteString(`""`)
	for _, l := range lines {
		if l != "" {
			b.WriteString("\n" + strconv.Quote(l))
		}
	}
	return b.String()
}

// verb is one formatting directive of a format string: which argument it
// takes (0-based) and how it prints it ("s", "5d", "#x").
type verb struct {
	Arg  int
	Spec string
}

// parseVerbs lists the verbs of a Go format string in order, with the
// argument each takes, as fmt counts them (explicit indexes included).
func parseVerbs(format string) ([]verb, error) {
	var out []verb
	arg := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		if i >= len(format) {
			return nil, fmt.Errorf("%q ends with %%", format)
		}
		if format[i] == '%' {
			continue
		}
		start := i
		for i < len(format) && strings.IndexByte("+-# 0", format[i]) >= 0 {
			i++
		}
		flags := format[start:i]
		if i < len(format) && format[i] == '[' {
			end := strings.IndexByte(format[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("%q: unclosed argument index", format)
			}
			n, err := strconv.Atoi(format[i+1 : i+end])
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%q: bad argument index %s", format, format[i:i+end+1])
			}
			arg = n - 1
			i += end + 1
		}
		ws := i
		for i < len(format) && (format[i] >= '0' && format[i] <= '9' || format[i] == '.') {
			i++
		}
		if i < len(format) && format[i] == '*' {
			return nil, fmt.Errorf("%q: * widths are not supported in narration", format)
		}
		if i >= len(format) {
			return nil, fmt.Errorf("%q: verb missing", format)
		}
		out = append(out, verb{Arg: arg, Spec: flags + format[ws:i] + string(format[i])})
		arg++
	}
	return out, nil
}

// SameVerbs reports whether a translation takes the same arguments, each
// with the same verb, as its English key, in whatever order: a translation
// that drops, adds or reformats an argument would print something else.
func SameVerbs(key, translation string) error {
	kv, err := parseVerbs(key)
	if err != nil {
		return err
	}
	tv, err := parseVerbs(translation)
	if err != nil {
		return err
	}
	norm := func(vs []verb) []string {
		var out []string
		for _, v := range vs {
			out = append(out, fmt.Sprintf("%d:%s", v.Arg, v.Spec))
		}
		sort.Strings(out)
		return out
	}
	k, t := norm(kv), norm(tv)
	if strings.Join(k, " ") != strings.Join(t, " ") {
		return fmt.Errorf("the translation's verbs %v are not the key's %v", t, k)
	}
	return nil
}

// hasWords reports whether a format has letters outside its verbs: text to
// translate, not only arguments to print.
func hasWords(format string) bool {
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c == '%' {
			i++
			for i < len(format) && !isVerbLetter(format[i]) && format[i] != '%' {
				i++
			}
			continue
		}
		if c >= 0x80 {
			r := []rune(format[i:])[0]
			if unicode.IsLetter(r) {
				return true
			}
			i += len(string(r)) - 1
			continue
		}
		if unicode.IsLetter(rune(c)) {
			return true
		}
	}
	return false
}

func isVerbLetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// Languages the kit knows how to choose. English is the key language and
// needs no catalog.
const (
	English = "en"
	Chinese = "zh"
)

// normalLang maps a --lang value or a locale ("zh_CN.UTF-8", "zh-TW",
// "en_US", "C") to a language this kit knows, or "" for one it does not.
func normalLang(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "":
		return ""
	case strings.HasPrefix(s, "zh"):
		return Chinese
	case strings.HasPrefix(s, "en"), s == "c", s == "posix", strings.HasPrefix(s, "c."):
		return English
	}
	return ""
}

// LanguageFromEnv picks the narration language from the locale variables as
// gettext does: the locale is the first of LC_ALL, LC_MESSAGES and LANG that
// is set (an empty one counts as unset); under a locale other than C,
// LANGUAGE, a list such as "zh_CN:en", comes first. English when nothing
// says otherwise, or the language is one this kit does not know. The
// variables are read as the user set them, through sudo too ([userLocale]).
func LanguageFromEnv(lookup func(string) (string, bool)) string {
	base := ""
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v, ok := lookup(k); ok && v != "" {
			base = v
			break
		}
	}
	if b := strings.ToLower(base); b == "" || b == "c" || b == "posix" || strings.HasPrefix(b, "c.") {
		return English
	}
	if v, ok := lookup("LANGUAGE"); ok && v != "" {
		for _, l := range strings.Split(v, ":") {
			if lang := normalLang(l); lang != "" {
				return lang
			}
		}
	}
	if lang := normalLang(base); lang != "" {
		return lang
	}
	return English
}
