package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/cardseg/subaccounts/internal/pan"
	"github.com/cardseg/subaccounts/internal/routing"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// MaxBodyBytes caps every request body.
const MaxBodyBytes = 1 << 20

// decode reads a JSON body into dst strictly: the media type must be JSON, the body at
// most 1 MiB, object keys must match dst's fields exactly (no unknown fields, no case
// folding), no key may repeat, no value may be null, no card security field may appear
// at any depth, nesting stops at MaxDepth, and nothing may follow the value (see
// checkJSON). On failure it has answered the request and returns false.
func decode(c *gin.Context, dst any) bool {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		abortProblem(c, probMediaType, "Send the body as application/json.")
		return false
	}
	body, ok := readBody(c)
	if !ok {
		return false
	}
	if fe := decodeBytes(body, dst); fe != nil {
		fail(c, subaccounts.Invalid(*fe))
		return false
	}
	return true
}

// readBody reads the request's body, at most MaxBodyBytes. On failure it has answered
// the request and returns false.
func readBody(c *gin.Context) ([]byte, bool) {
	body, err := readAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes), c.Request.ContentLength)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			abortProblem(c, probTooLarge, fmt.Sprintf("The body must be at most %d bytes.", MaxBodyBytes))
			return nil, false
		}
		bodyReadFailed(c, err)
		return nil, false
	}
	return body, true
}

// readAll is io.ReadAll starting from a buffer of the declared length (+1 for the read
// that sees EOF) when there is a sane one: a 30 kB batch read from io.ReadAll's 512 bytes
// was copied through eight growing buffers. The declared length only sizes the buffer;
// the body read is what counts, and MaxBytesReader caps it.
func readAll(r io.Reader, declared int64) ([]byte, error) {
	if declared <= 0 || declared > MaxBodyBytes {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, declared+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // more than declared: grow as io.ReadAll would
		}
	}
}

// bodyReadFailed answers a body that could not be read. That is the client's side of the
// exchange, never a server error: a body too slow to arrive (the server's ReadTimeout) is
// 408 and a warning, since many of them may be an attack on the connection pool; malformed
// framing or a connection cut mid-body is 400 and an info line. The error text is
// net/http's own and holds no body bytes.
func bodyReadFailed(c *gin.Context, err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		logger(c).Warn("request body too slow to arrive", "error", err.Error())
		abortProblem(c, probRequestTimeout, "The body did not arrive in time.")
		return
	}
	logger(c).Info("request body could not be read", "error", err.Error())
	abortProblem(c, probValidation, "The body could not be read: its framing is malformed or the connection was cut.")
}

// decodeBytes reads body into dst as strictly as decode does, and reports what is wrong
// with it. Batch handlers use it for each item, so that one malformed item gets its own
// error rather than failing the batch. The hot bodies are fastBodies, read in one scan
// (see decodeFast); the others are checked, then read by encoding/json.
func decodeBytes(body []byte, dst any) *subaccounts.FieldError {
	if fb, ok := dst.(fastBody); ok {
		return decodeFast(body, fb)
	}
	return decodeGeneric(body, dst)
}

// decodeGeneric is decodeBytes through reflection: checkJSON, then encoding/json. It is
// also what the fast decoder is tested against.
func decodeGeneric(body []byte, dst any) *subaccounts.FieldError {
	if fe := checkJSON(body, reflect.TypeOf(dst).Elem()); fe != nil {
		return fe
	}
	if err := json.Unmarshal(body, dst); err != nil {
		fe := subaccounts.FieldError{Pointer: "", Detail: "malformed JSON"}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			fe = subaccounts.FieldError{Pointer: typeErrorPointer(te.Field), Detail: "must be " + jsonKind(te.Type)}
		}
		return &fe
	}
	return nil
}

// typeErrorPointer turns the dotted field path of a json.UnmarshalTypeError into a JSON
// pointer ("" is the whole value).
func typeErrorPointer(field string) string {
	if field == "" {
		return ""
	}
	if pan.ContainsCardNumber(field) {
		// A metadata key that may be a card number is not echoed: the pointer stops at
		// the top-level member.
		field, _, _ = strings.Cut(field, ".")
	}
	return "/" + strings.ReplaceAll(field, ".", "/")
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Slice:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of another type"
}

// MaxDepth caps how deeply arrays and objects may nest in a body. The deepest body of the
// API nests four levels; 32 leaves room while keeping the check's stack small.
const MaxDepth = 32

// maxMapKeys caps the members of an object read into a Go map. Every map of a body is
// metadata, which holds at most subaccounts.MaxMetadataKeys keys: refusing more here
// keeps duplicate detection small whatever the body.
const maxMapKeys = subaccounts.MaxMetadataKeys

// maxArrayItems caps the elements of an array read into a Go slice, at the longest any
// body may hold (a batch of messages): a Go value is several times the size of its JSON,
// so a million empty objects would cost far more memory than their 1 MiB body.
const maxArrayItems = routing.MaxMessageBatch

// rawMessageType marks a batch item: the body check looks only at its syntax, depth, nulls
// and card fields, and the item gets its own strict check (and its own error) later.
var rawMessageType = reflect.TypeFor[json.RawMessage]()

// checkJSON scans body once, tracking the Go type each value lands in, and reports the
// first syntax error, unknown or case-mismatched key, duplicate key, forbidden card field
// (at any depth), null, nesting beyond MaxDepth or trailing data, with its JSON pointer.
// Its time and memory are linear in the body's size whatever its shape: it reads the
// bytes in place, keeps the path as a stack of offsets, and builds a pointer only for the
// error it reports.
func checkJSON(body []byte, t reflect.Type) *subaccounts.FieldError {
	w := walker{b: body}
	if fe := w.value(t); fe != nil {
		return fe
	}
	if w.skipSpace(); w.i < len(w.b) {
		return &subaccounts.FieldError{Pointer: "", Detail: "unexpected data after the JSON value"}
	}
	return nil
}

// walker is one run of the body check: a JSON scanner (RFC 8259, as strict as
// encoding/json) over b.
type walker struct {
	b []byte
	i int
	// path holds the keys and indexes leading to the value being read.
	path []segment
}

// segment is one step of a JSON pointer: an array index when index ≥ 0, else the object
// key whose quoted form is b[start:end]. mapKey marks the key of a map member, which
// encoding/json leaves out of a type error's field path (the fast decoder follows it).
type segment struct {
	start, end, index int
	mapKey            bool
}

// pointerOf renders path as a JSON pointer (RFC 6901).
func (w *walker) pointerOf(path []segment) string {
	var b strings.Builder
	for _, s := range path {
		b.WriteByte('/')
		if s.index >= 0 {
			b.WriteString(strconv.Itoa(s.index))
		} else {
			_, _ = pointerEscaper.WriteString(&b, unquote(w.b[s.start:s.end]))
		}
	}
	return b.String()
}

// fail reports detail at the current path.
func (w *walker) fail(detail string) *subaccounts.FieldError { return w.failAt(w.path, detail) }

// failAt reports detail at path. A key that holds what may be a card number is never
// echoed: the error names the object holding it instead.
func (w *walker) failAt(path []segment, detail string) *subaccounts.FieldError {
	for i, s := range path {
		if s.index < 0 && pan.ContainsCardNumber(unquote(w.b[s.start:s.end])) {
			return &subaccounts.FieldError{Pointer: w.pointerOf(path[:i]), Detail: "member names must not contain a card number"}
		}
	}
	return &subaccounts.FieldError{Pointer: w.pointerOf(path), Detail: detail}
}

// failParent reports detail at the array or object being read rather than its member.
func (w *walker) failParent(detail string) *subaccounts.FieldError {
	return w.failAt(w.path[:len(w.path)-1], detail)
}

func (w *walker) syntaxError() *subaccounts.FieldError {
	if w.i >= len(w.b) {
		return &subaccounts.FieldError{Pointer: "", Detail: "the body is empty or ends early"}
	}
	return &subaccounts.FieldError{Pointer: "", Detail: fmt.Sprintf("malformed JSON near byte %d", w.i)}
}

func (w *walker) skipSpace() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, 0 at the end.
func (w *walker) peek() byte {
	if w.skipSpace(); w.i < len(w.b) {
		return w.b[w.i]
	}
	return 0
}

// value checks the next value, which lands in a value of type t (nil: nowhere useful, as
// an object sent for a string field, which the decoder refuses afterwards).
func (w *walker) value(t reflect.Type) *subaccounts.FieldError {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch c := w.peek(); c {
	case '{', '[':
		if len(w.path) >= MaxDepth {
			return w.fail(fmt.Sprintf("nests deeper than %d levels", MaxDepth))
		}
		w.i++
		if c == '{' {
			return w.object(t)
		}
		return w.array(t)
	case '"':
		if !w.str() {
			return w.syntaxError()
		}
	case 'n':
		if !w.literal("null") {
			return w.syntaxError()
		}
		// null is refused rather than read as "absent": one meaning per body, and the
		// spec declares no field nullable (nor batch items, so a null item refuses the
		// batch).
		return w.fail("must not be null; omit the field instead")
	case 't':
		if !w.literal("true") {
			return w.syntaxError()
		}
	case 'f':
		if !w.literal("false") {
			return w.syntaxError()
		}
	default:
		if !w.number() {
			return w.syntaxError()
		}
	}
	return nil
}

// object checks the members of an object after its opening brace.
func (w *walker) object(t reflect.Type) *subaccounts.FieldError {
	var keys keySet
	w.path = append(w.path, segment{index: -1})
	defer func() { w.path = w.path[:len(w.path)-1] }()
	if w.peek() == '}' {
		w.i++
		return nil
	}
	for {
		if w.peek() != '"' {
			return w.syntaxError()
		}
		start := w.i
		if !w.str() {
			return w.syntaxError()
		}
		seg := &w.path[len(w.path)-1]
		seg.start, seg.end = start, w.i
		next, fe := w.member(t, &keys, w.b[start:w.i])
		if fe != nil {
			return fe
		}
		if w.peek() != ':' {
			return w.syntaxError()
		}
		w.i++
		if fe := w.value(next); fe != nil {
			return fe
		}
		switch w.peek() {
		case ',':
			w.i++
		case '}':
			w.i++
			return nil
		default:
			return w.syntaxError()
		}
	}
}

// member checks one key (quoted, as sent) of an object landing in t and returns the type
// its value lands in.
func (w *walker) member(t reflect.Type, keys *keySet, quoted []byte) (reflect.Type, *subaccounts.FieldError) {
	key, fe := w.key(quoted)
	if fe != nil {
		return nil, fe
	}
	if t == nil || t == rawMessageType {
		return t, nil
	}
	switch t.Kind() {
	case reflect.Struct:
		i, ok := fieldIndexByJSONName(t, key)
		if !ok {
			return nil, w.fail("unknown field")
		}
		if !keys.addField(i) {
			return nil, w.fail("duplicate key")
		}
		return t.Field(i).Type, nil
	case reflect.Map:
		if keys.n == maxMapKeys {
			return nil, w.failParent(fmt.Sprintf("must hold at most %d keys", maxMapKeys))
		}
		if !keys.addKey(string(key)) {
			return nil, w.fail("duplicate key")
		}
		return t.Elem(), nil
	}
	return nil, nil
}

// key returns an object key (quoted, as sent) unescaped, and refuses a card security
// field.
func (w *walker) key(quoted []byte) ([]byte, *subaccounts.FieldError) {
	key := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(key, '\\') >= 0 {
		// Rare: only an escaped key costs an allocation.
		key = []byte(unquote(quoted))
	}
	if subaccounts.ForbiddenCardField(string(key)) {
		// Named apart from other unknown fields, at any depth (metadata keys too): a
		// client sending one has a data-handling bug worth seeing, and the value is
		// never read.
		return nil, w.fail("must never be sent: card security codes, track data and PINs are not accepted")
	}
	return key, nil
}

// array checks the elements of an array after its opening bracket.
func (w *walker) array(t reflect.Type) *subaccounts.FieldError {
	elem, capped := t, false
	if t != rawMessageType {
		elem = nil
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem, capped = t.Elem(), true
		}
	}
	w.path = append(w.path, segment{})
	defer func() { w.path = w.path[:len(w.path)-1] }()
	if w.peek() == ']' {
		w.i++
		return nil
	}
	for i := 0; ; i++ {
		if capped && i == maxArrayItems {
			return w.failParent(fmt.Sprintf("must hold at most %d items", maxArrayItems))
		}
		w.path[len(w.path)-1].index = i
		if fe := w.value(elem); fe != nil {
			return fe
		}
		switch w.peek() {
		case ',':
			w.i++
		case ']':
			w.i++
			return nil
		default:
			return w.syntaxError()
		}
	}
}

// str scans a string starting at its opening quote, as strictly as encoding/json: no
// control characters, only JSON's escapes.
func (w *walker) str() bool {
	w.i++
	for w.i < len(w.b) {
		c := w.b[w.i]
		switch {
		case c == '"':
			w.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			w.i++
			if w.i >= len(w.b) {
				return false
			}
			switch w.b[w.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				w.i++
			case 'u':
				if w.i+5 > len(w.b) {
					return false
				}
				for _, h := range w.b[w.i+1 : w.i+5] {
					if !isHex(h) {
						return false
					}
				}
				w.i += 5
			default:
				return false
			}
		default:
			w.i++
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (w *walker) literal(lit string) bool {
	if !bytes.HasPrefix(w.b[w.i:], []byte(lit)) {
		return false
	}
	w.i += len(lit)
	return true
}

// number scans a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (w *walker) number() bool {
	if w.i < len(w.b) && w.b[w.i] == '-' {
		w.i++
	}
	switch {
	case w.i < len(w.b) && w.b[w.i] == '0':
		w.i++
	case w.digits() == 0:
		return false
	}
	if w.i < len(w.b) && w.b[w.i] == '.' {
		w.i++
		if w.digits() == 0 {
			return false
		}
	}
	if w.i < len(w.b) && (w.b[w.i] == 'e' || w.b[w.i] == 'E') {
		w.i++
		if w.i < len(w.b) && (w.b[w.i] == '+' || w.b[w.i] == '-') {
			w.i++
		}
		if w.digits() == 0 {
			return false
		}
	}
	return true
}

func (w *walker) digits() int {
	start := w.i
	for w.i < len(w.b) && w.b[w.i] >= '0' && w.b[w.i] <= '9' {
		w.i++
	}
	return w.i - start
}

// unquote decodes a JSON string that str accepted.
func unquote(quoted []byte) string {
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return string(quoted)
	}
	return s
}

// keySet detects a repeated key of one object: struct fields by index in a bit set,
// map keys (at most maxMapKeys) in a small map made only when a second key arrives.
type keySet struct {
	fields uint64
	n      int
	first  string
	rest   map[string]struct{}
}

// addField records field i and reports false when it was already there.
func (s *keySet) addField(i int) bool {
	if i >= 64 {
		return true // no body type has that many fields; the decoder still sees the value
	}
	if s.fields&(1<<i) != 0 {
		return false
	}
	s.fields |= 1 << i
	return true
}

// addKey records a map key and reports false when it was already there.
func (s *keySet) addKey(key string) bool {
	switch {
	case s.n == 0:
		s.first, s.n = key, 1
		return true
	case key == s.first:
		return false
	}
	if s.rest == nil {
		s.rest = make(map[string]struct{}, 4)
	}
	if _, ok := s.rest[key]; ok {
		return false
	}
	s.rest[key] = struct{}{}
	s.n++
	return true
}

// pointerEscaper escapes an object key for a JSON pointer (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// fieldIndexByJSONName finds the field of struct t named name by its json tag, exactly
// (encoding/json would also accept another case; this API does not).
func fieldIndexByJSONName(t reflect.Type, name []byte) (int, bool) {
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag == string(name) && tag != "-" {
			return i, true
		}
	}
	return 0, false
}
