package manifest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// errRecordTooLarge is returned by recordGuard once a record runs past the
// limit.
var errRecordTooLarge = errors.New("record too large")

// recordGuard bounds the bytes encoding/csv can pull in for one record.
// encoding/csv grows its buffers to hold a whole record, so without it a
// quote that is never closed would load the rest of the file into memory.
type recordGuard struct {
	r     io.Reader
	read  int64 // bytes handed to the csv reader so far
	start int64 // input offset where the current record starts
	limit int64
}

func (g *recordGuard) Read(p []byte) (int, error) {
	if g.read-g.start > g.limit {
		return 0, errRecordTooLarge
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	return n, err
}

// recordReader reads CSV records and numbers them as a spreadsheet shows
// them.
//
// Row numbers count the header as row 1 and each record as one row, so a
// quoted field that spans several lines does not shift the rows after it.
// Blank lines, which encoding/csv skips, count as rows too, since a
// spreadsheet shows them as empty rows. So a row number is the spreadsheet
// row, and equals the line number in a text editor as long as no earlier
// field spans lines. Messages about a malformed record also give the line
// and column encoding/csv reports.
type recordReader struct {
	csv   *csv.Reader
	guard *recordGuard
	// row and end are the row number and the last physical line of the
	// previous record.
	row, end int
	limit    int
}

// newRecordReader returns a reader over r, which may start with a UTF-8 BOM.
func newRecordReader(r io.Reader, maxRecord int) *recordReader {
	br := bufio.NewReader(r)
	// The BOM that Excel writes would otherwise become part of the first
	// column name. Peek errors are left to the csv reader to report.
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\uFEFF")) {
		_, _ = br.Discard(3)
	}
	g := &recordGuard{r: br, limit: int64(maxRecord)}
	cr := csv.NewReader(g)
	cr.FieldsPerRecord = 0 // the header sets the number of fields
	cr.ReuseRecord = true  // one record slice for the whole file
	cr.LazyQuotes = false  // a stray quote is a row error, not data
	// Tolerates `a, "b"`, which would otherwise be a bare-quote error;
	// values are trimmed anyway.
	cr.TrimLeadingSpace = true
	return &recordReader{csv: cr, guard: g, limit: maxRecord}
}

// rowError is a record encoding/csv could not read; Stream sends it as a
// failed item. field is the index of the field it concerns, or -1.
type rowError struct {
	field int
	msg   string
}

func (e *rowError) Error() string { return e.msg }

// next returns the next record and its row number. The record is only valid
// until the next call. err is io.EOF at the end, a *rowError for a record
// that is malformed but after which reading goes on (encoding/csv resumes at
// the next line), or another error that ends the read.
func (r *recordReader) next() (rec []string, row int, err error) {
	rec, err = r.csv.Read()
	if err == io.EOF {
		return nil, 0, io.EOF
	}
	var pe *csv.ParseError
	switch {
	case err == nil, errors.As(err, &pe) && errors.Is(err, csv.ErrFieldCount):
		// The record itself is well formed, so FieldPos is valid for
		// all its fields.
		start, _ := r.csv.FieldPos(0)
		last := len(rec) - 1
		endLine, _ := r.csv.FieldPos(last)
		// Each line break inside a quoted field is one '\n' in the
		// value (encoding/csv turns \r\n into \n).
		endLine += strings.Count(rec[last], "\n")
		row = r.advance(start, endLine)
		if err != nil {
			return rec, row, &rowError{field: -1, msg: fmt.Sprintf("want %d fields as in the header, got %d", r.csv.FieldsPerRecord, len(rec))}
		}
		return rec, row, nil
	case pe != nil:
		// Read returns the fields before the bad one, so the bad
		// field's index is len(rec).
		row = r.advance(pe.StartLine, pe.Line)
		return rec, row, &rowError{field: len(rec), msg: describeParseError(pe)}
	case errors.Is(err, errRecordTooLarge):
		return nil, r.row + 1, fmt.Errorf("row %d: a record is longer than %d bytes (is a quote never closed?); stopped reading", r.row+1, r.limit)
	default:
		return nil, r.row + 1, fmt.Errorf("row %d: %w", r.row+1, err)
	}
}

// advance records that a record spans lines start to end and returns its
// row number.
func (r *recordReader) advance(start, end int) int {
	// Every line between the previous record and this one was blank.
	r.row += max(start-r.end, 1)
	r.end = max(end, start)
	// The next record starts after the bytes consumed so far, which is
	// where the guard starts counting.
	r.guard.start = r.csv.InputOffset()
	return r.row
}

// describeParseError turns a csv.ParseError into "want …, got …" form.
func describeParseError(pe *csv.ParseError) string {
	at := fmt.Sprintf("line %d, column %d", pe.Line, pe.Column)
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Sprintf(`want a field without quotes, or quoted whole with inner quotes doubled (""), got a bare " at %s`, at)
	case errors.Is(pe.Err, csv.ErrQuote) && pe.Line > pe.StartLine:
		return fmt.Sprintf(`want a quoted field closed by " and then a comma or the end of the line, got a quoted field that runs from line %d to %s (is a closing quote missing?)`, pe.StartLine, at)
	case errors.Is(pe.Err, csv.ErrQuote):
		return fmt.Sprintf(`want a quoted field closed by " and then a comma or the end of the line, got a stray " or text after the closing quote at %s`, at)
	default:
		return fmt.Sprintf("malformed CSV at %s: %v", at, pe.Err)
	}
}
