package kit

import _ "embed"

// The kit's own narration (step headers, labels, the needs table, the
// check command), translated. Lessons add theirs (Lesson.Catalogs).
//
//go:embed zh.po
var kitZH string

var kitCatalogs = map[string]string{Chinese: kitZH}
