package manifest_test

import (
	"encoding/csv"
	"io"
)

// csvReader returns an encoding/csv reader set as the source sets its own.
func csvReader(r io.Reader) *csv.Reader {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	return cr
}
