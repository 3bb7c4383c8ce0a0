// Package userimport reads the files `caddy auth user import` takes: JSON
// lines (one object a line, or one JSON array) or CSV with a header row,
// each record an account with the fields email, name, phone, groups and
// password_hash. It only reads: judging the fields is the account
// service's (flows.Accounts.PlanImport), so every record keeps the line it
// came from for the report.
package userimport

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Row is one account of the file, as written there.
type Row struct {
	Line         int // 1-based line of the file where the record starts
	Email        string
	Name         string
	Phone        string
	Groups       []string
	PasswordHash string
}

// Limits on a file, so a wrong file (a database dump, /dev/zero) fails
// fast instead of filling memory.
const (
	MaxFileSize = 64 << 20 // bytes
	MaxRows     = 100_000
	MaxLineLen  = 64 << 10 // bytes, one JSON line
)

// LineError is a record the file cannot be read at.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Errors is every line that could not be read, in file order.
type Errors []*LineError

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, le := range e {
		lines[i] = le.Error()
	}
	return strings.Join(lines, "\n")
}

// Format of a file.
const (
	FormatJSON = "json" // JSON lines, or one JSON array of objects
	FormatCSV  = "csv"
)

// Detect names the format of a file called name starting with head: by
// its extension (.jsonl, .ndjson, .json; .csv), else by its first
// character ("{" or "[": JSON, anything else CSV).
func Detect(name string, head []byte) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jsonl", ".ndjson", ".json":
		return FormatJSON
	case ".csv":
		return FormatCSV
	}
	head = bytes.TrimLeft(bytes.TrimPrefix(head, bom), " \t\r\n")
	if len(head) > 0 && (head[0] == '{' || head[0] == '[') {
		return FormatJSON
	}
	return FormatCSV
}

var bom = []byte("\xef\xbb\xbf")

// Parse reads every record of the file called name (the name only picks
// the format, see Detect). A record that cannot be read is an Errors
// entry naming its line; Parse reads on past it where the format allows,
// so one run reports every bad line.
func Parse(name string, r io.Reader) ([]Row, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("the file is larger than %d MiB", MaxFileSize>>20)
	}
	data = bytes.TrimPrefix(data, bom)
	var rows []Row
	if Detect(name, data) == FormatJSON {
		rows, err = parseJSON(data)
	} else {
		rows, err = parseCSV(data)
	}
	if err == nil && len(rows) > MaxRows {
		err = fmt.Errorf("%d records: at most %d per import", len(rows), MaxRows)
	}
	if err == nil && len(rows) == 0 {
		err = errors.New("the file holds no account")
	}
	return rows, err
}

// record is a JSON record; unknown fields are refused (a misspelt
// "password" must not import an account without its password).
type record struct {
	Email        string   `json:"email"`
	Name         string   `json:"name"`
	Phone        string   `json:"phone"`
	Groups       []string `json:"groups"`
	PasswordHash string   `json:"password_hash"`
}

func (rec record) row(line int) Row {
	return Row{Line: line, Email: rec.Email, Name: rec.Name, Phone: rec.Phone, Groups: rec.Groups, PasswordHash: rec.PasswordHash}
}

func decodeRecord(b []byte) (record, error) {
	var rec record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return rec, err
	}
	if dec.More() {
		return rec, errors.New("more than one JSON value")
	}
	return rec, nil
}

func parseJSON(data []byte) ([]Row, error) {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		return parseJSONArray(data)
	}
	var (
		rows []Row
		bad  Errors
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxLineLen)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		rec, err := decodeRecord(b)
		if err != nil {
			bad = append(bad, &LineError{line, fmt.Errorf("not a JSON object with email, name, phone, groups, password_hash: %w", err)})
			continue
		}
		rows = append(rows, rec.row(line))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the file: %w (a line may be longer than %d KiB)", err, MaxLineLen>>10)
	}
	if len(bad) > 0 {
		return rows, bad
	}
	return rows, nil
}

// parseJSONArray reads [ {...}, {...} ]; each record's line is where its
// object starts.
func parseJSONArray(data []byte) ([]Row, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var (
		rows []Row
		bad  Errors
	)
	for dec.More() {
		start := int(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return rows, append(bad, &LineError{lineAt(data, start), err})
		}
		line := lineAt(data, start)
		rec, err := decodeRecord(raw)
		if err != nil {
			bad = append(bad, &LineError{line, fmt.Errorf("not a JSON object with email, name, phone, groups, password_hash: %w", err)})
			continue
		}
		rows = append(rows, rec.row(line))
	}
	if _, err := dec.Token(); err != nil {
		return rows, append(bad, &LineError{lineAt(data, int(dec.InputOffset())), err})
	}
	if len(bad) > 0 {
		return rows, bad
	}
	return rows, nil
}

// lineAt is the line of the first character after off that is not
// white space or a comma (where the next value starts).
func lineAt(data []byte, off int) int {
	for off < len(data) && strings.IndexByte(" \t\r\n,", data[off]) >= 0 {
		off++
	}
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

// The CSV columns, named in the header row (any order, any case).
var columns = []string{"email", "name", "phone", "groups", "password_hash"}

// parseCSV reads a header row and records. Groups are one field split on
// ";" or "," (a field holding a comma must be quoted, as CSV has it):
// group names cannot hold either, so both separators mean the same.
func parseCSV(data []byte) ([]Row, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return nil, &LineError{1, fmt.Errorf("CSV header: %w", err)}
	}
	idx := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if !contains(columns, h) {
			return nil, &LineError{1, fmt.Errorf("unknown column %q (the columns are %s)", h, strings.Join(columns, ", "))}
		}
		if _, dup := idx[h]; dup {
			return nil, &LineError{1, fmt.Errorf("column %q twice", h)}
		}
		idx[h] = i
	}
	if _, ok := idx["email"]; !ok {
		return nil, &LineError{1, errors.New("no email column")}
	}
	var rows []Row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &LineError{pe.StartLine, pe.Err}
			}
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		get := func(col string) string {
			if i, ok := idx[col]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		rows = append(rows, Row{
			Line: line, Email: get("email"), Name: get("name"), Phone: get("phone"),
			Groups: splitGroups(get("groups")), PasswordHash: get("password_hash"),
		})
	}
}

func splitGroups(s string) []string {
	var out []string
	for _, g := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' }) {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
