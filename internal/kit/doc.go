// Package kit is the plumbing every unbox lesson shares, so that a lesson's own
// lines are about its kernel mechanism and nothing else.
//
// A lesson is a [Lesson]: a title, what it needs from the host ([Need]) and a
// list of numbered [Step]s. [Main] and [Run] turn it into a program with the
// workshop flags (--list, --step N, --only N, --pause, --shell, --lang),
// check the needs before any step runs ([Preflight]) and narrate each step
// through a [Session]:
//
//	Step 2/8 · UTS namespace
//	  A UTS namespace has its own hostname ...
//
//	  $ unshare --uts sh -c 'hostname unbox-01; hostname'
//	  inside │ hostname: unbox-01
//	  host   │ hostname: vm (unchanged)
//
// The kit is lesson UX only. The mechanisms a lesson narrates live in
// concept packages it calls, which the capstone runs too and which never
// print: internal/reexec (running code in new namespaces), internal/procfs,
// internal/mount, internal/rootfs and the others under internal/. [Main]
// runs a re-exec'd child's stage (reexec.Init) before anything else; a
// [Need] may call a mechanism package's probe.
//
// # Languages
//
// A lesson narrates in English or in Chinese: --lang zh, UNBOX_LANG=zh, or a
// Chinese locale (LANG=zh_CN.UTF-8), read as the user set it even through
// sudo. Translation is gettext's: the English a lesson passes to Say, Note,
// Inside, a Step's Title and Explain... is the key, and the lesson's catalog
// (a PO file it embeds, [Lesson.Catalogs]) holds the translation. Nothing in
// a lesson's code changes; i18n.go says exactly what is a key. Lines are
// kept within [Columns] terminal columns, a CJK character counting two.
//
// A lesson's tests keep the languages in step: kittest's RunIn runs the
// lesson in Chinese and fails on any line without a translation (listing
// them as PO entries to paste), and the recording of that run, told again
// in English ([Recorder.English]), must be the English golden file: the
// same steps, the same commands and the same evidence in both.
//
// Adopting it in a lesson (05 and 07 were written before it; this is all
// they need, and nothing in their steps changes):
//
//   - Add a test that runs the lesson in Chinese next to the English one.
//     Its first run fails and prints every missing key as a PO entry:
//
//     out, rec := kittest.RunIn(t, run, "zh", "05-volumes")
//     kittest.SameAs(t, golden, kittest.Normalize(rec.English(), rules...), "the zh run in English")
//     kittest.CheckTranscript(t, "testdata/transcript.zh.golden", "README.zh-CN.md",
//     kittest.Normalize(out, zhRules...))
//
//   - Put the entries in zh.po next to main.go, translated, and embed it:
//     //go:embed zh.po, then Catalogs: map[string]string{"zh": zhPO} in the
//     Lesson. Text the lesson builds from pieces (a table cell, "(empty)")
//     goes through s.T("...") so that it is a key too; pass what T returns
//     straight to the narrator, not glued to other text.
//
//   - Write README.zh-CN.md with a transcript block of the zh golden, and
//     call kittest.CheckCatalog(t, zhPO) and kittest.CheckGoldenColumns(t)
//     from pure tests.
//
// # Exercises
//
// A lesson's [Exercise]s are stubs the learner fills in (marked
// TODO(exercise N)), each with a check that runs the learner's code and
// looks at what the kernel did: `go run -exec sudo ./lessons/02-cgroups
// check 2` says PASS or FAIL, with a hint. The reference solutions sit
// behind the build tag "solution", and kittest.CheckExercises proves every
// check fails on the stub and passes on the solution.
//
// Adding exercises to a lesson: the stubs in exercises.go, each returning
// kit.TODO(n) and marked TODO(exercise N); the checks in check.go, in
// [Lesson.Exercises]; the answers in solution.go (//go:build solution) with
// stub build tags on exercises.go (//go:build !solution); then, in the
// tests,
//
//	func TestExerciseFiles(t *testing.T) { kittest.CheckExerciseFiles(t, lesson()) }
//	func TestPrivExercises(t *testing.T) { kittest.CheckExercises(t, lesson()) }
//
// and CI runs the second with -tags solution too. A check reads the kernel
// (a /proc file, a cgroup file, a mount, a link), never the learner's code.
// What it says when the exercise does not pass is a [Errorf], whose format
// is a msgid of the lesson's catalog, so that `--lang zh check 2` says it
// in Chinese; CheckExerciseFiles finds every one in check.go.
//
// The test side of the kit lives in package kittest.
package kit
