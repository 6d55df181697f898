package httpapi

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// fastBody is a request body that fills itself while the strict check reads it (see
// decodeFast), instead of being read a second time by encoding/json through reflection.
// The hot bodies (a transaction message, a batch of them, a card enrolment) are
// fastBodies: a profile of batch ingest spent about half the request's CPU checking each
// body and decoding it again.
type fastBody interface {
	// member returns the field named exactly key (no case folding): its index, for
	// duplicate detection, and a pointer to it (**string, **int64, **int, **bool,
	// *map[string]string, *messageItems) or, for a member object, the fastBody its value
	// fills. ok is false when the body has no such field.
	member(key []byte) (field int, dst any, ok bool)
}

// decodeFast is decodeGeneric for a fastBody, in one scan: it reports what decodeGeneric
// would (the check's first error, else the first value of the wrong type, which
// encoding/json reports only once the whole body has passed the check) and fills dst as
// encoding/json would. Its time and memory stay linear in the body's size: it is the same
// walker, filling fields as it goes.
func decodeFast(body []byte, dst fastBody) *subaccounts.FieldError {
	w := fastWalker{walker: walker{b: body}}
	if fe := w.value(dst); fe != nil {
		return fe
	}
	if w.skipSpace(); w.i < len(w.b) {
		return &subaccounts.FieldError{Pointer: "", Detail: "unexpected data after the JSON value"}
	}
	return w.typeErr
}

// fastWalker is one run of decodeFast.
type fastWalker struct {
	walker
	fastScope
}

// fastScope is the state of the body being filled: the request's, or a batch item's.
type fastScope struct {
	// base is where the body being filled starts in path: a batch item's own errors
	// point into the item, as when it was decoded on its own.
	base int
	// inItem is set while a batch item is filled. Its own check errors (an unknown or
	// repeated key) are then its result, not the request's: itemErr keeps the first,
	// and dead makes the rest of the item only checked, as the batch's check reads it.
	inItem  bool
	dead    bool
	itemErr *subaccounts.FieldError
	// typeErr is the first value of the wrong type in the body (or item) being filled.
	typeErr *subaccounts.FieldError
}

// value reads the next value into dst; nil dst (or a dead item) only checks it.
func (w *fastWalker) value(dst any) *subaccounts.FieldError {
	if dst == nil || w.dead {
		return w.walker.value(nil)
	}
	switch c := w.peek(); c {
	case '{', '[':
		if len(w.path) >= MaxDepth {
			return w.fail(fmt.Sprintf("nests deeper than %d levels", MaxDepth))
		}
		switch d := dst.(type) {
		case fastBody:
			if c == '{' {
				w.i++
				return w.object(d)
			}
		case *map[string]string:
			if c == '{' {
				w.i++
				return w.stringMap(d)
			}
		case *messageItems:
			if c == '[' {
				w.i++
				return w.items(d)
			}
		}
	case '"':
		if d, ok := dst.(**string); ok {
			start := w.i
			if !w.str() {
				return w.syntaxError()
			}
			s := stringValue(w.b[start:w.i])
			*d = &s
			return nil
		}
	case 't', 'f':
		if d, ok := dst.(**bool); ok {
			v, lit := c == 't', "false"
			if v {
				lit = "true"
			}
			if !w.literal(lit) {
				return w.syntaxError()
			}
			*d = &v
			return nil
		}
	case 'n':
		return w.walker.value(nil) // refused, as null is everywhere
	default:
		switch dst.(type) {
		case **int64, **int:
			start := w.i
			if !w.number() {
				return w.syntaxError()
			}
			w.integer(dst, w.b[start:w.i])
			return nil
		}
	}
	// A value of another type than dst's is checked as any other (its nulls, card
	// fields, nesting and syntax) and refused once the check has passed.
	w.typeError(dst)
	return w.walker.value(nil)
}

// integer stores a number read for an integer field, as encoding/json does: a fraction,
// an exponent or a value beyond the field's range is a type error.
func (w *fastWalker) integer(dst any, lit []byte) {
	n, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil {
		w.typeError(dst)
		return
	}
	switch d := dst.(type) {
	case **int64:
		*d = &n
	case **int:
		if int64(int(n)) != n {
			w.typeError(dst)
			return
		}
		v := int(n)
		*d = &v
	}
}

// object reads the members of an object after its opening brace into o.
func (w *fastWalker) object(o fastBody) *subaccounts.FieldError {
	var keys keySet
	w.path = append(w.path, segment{index: -1})
	defer func() { w.path = w.path[:len(w.path)-1] }()
	if w.peek() == '}' {
		w.i++
		return nil
	}
	for {
		key, fe := w.memberKey()
		if fe != nil {
			return fe
		}
		var dst any
		if !w.dead {
			i, d, ok := o.member(key)
			switch {
			case !ok:
				fe = w.bodyFail(w.path, "unknown field")
			case !keys.addField(i):
				fe = w.bodyFail(w.path, "duplicate key")
			default:
				dst = d
			}
			if fe != nil {
				return fe
			}
		}
		if fe := w.memberValue(dst); fe != nil {
			return fe
		}
		if done, fe := w.objectNext(); done || fe != nil {
			return fe
		}
	}
}

// stringMap reads an object into a map of strings (metadata), as the check and
// encoding/json do: at most maxMapKeys keys, none repeated, every value a string.
func (w *fastWalker) stringMap(m *map[string]string) *subaccounts.FieldError {
	if *m == nil {
		*m = make(map[string]string)
	}
	var keys keySet
	w.path = append(w.path, segment{index: -1, mapKey: true})
	defer func() { w.path = w.path[:len(w.path)-1] }()
	if w.peek() == '}' {
		w.i++
		return nil
	}
	for {
		seg := len(w.path) - 1
		key, fe := w.memberKey()
		if fe != nil {
			return fe
		}
		if !w.dead {
			switch {
			case keys.n == maxMapKeys:
				fe = w.bodyFail(w.path[:seg], fmt.Sprintf("must hold at most %d keys", maxMapKeys))
			case !keys.addKey(string(key)):
				fe = w.bodyFail(w.path, "duplicate key")
			}
			if fe != nil {
				return fe
			}
		}
		var value *string
		if fe := w.memberValue(&value); fe != nil {
			return fe
		}
		if value != nil && !w.dead {
			// encoding/json's form of the key: invalid UTF-8 replaced, as in values.
			(*m)[stringValue(w.b[w.path[seg].start:w.path[seg].end])] = *value
		}
		if done, fe := w.objectNext(); done || fe != nil {
			return fe
		}
	}
}

// messageItems are the messages of a batch, each filled with its own result.
type messageItems []messageItem

// messageItem is one message of a batch as sent, or err: what made it unreadable, with a
// pointer into the item.
type messageItem struct {
	body messageBody
	err  *subaccounts.FieldError
}

// items reads the elements of a batch's array after its opening bracket. The array and
// the items' syntax, nulls, card fields and nesting are the request's (an error there
// refuses the whole batch); an item's own shape and types are its own result.
func (w *fastWalker) items(d *messageItems) *subaccounts.FieldError {
	w.path = append(w.path, segment{})
	defer func() { w.path = w.path[:len(w.path)-1] }()
	if w.peek() == ']' {
		w.i++
		return nil
	}
	for i := 0; ; i++ {
		if i == maxArrayItems {
			return w.failParent(fmt.Sprintf("must hold at most %d items", maxArrayItems))
		}
		w.path[len(w.path)-1].index = i
		*d = append(*d, messageItem{})
		if fe := w.item(&(*d)[i]); fe != nil {
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

// item fills one batch item.
func (w *fastWalker) item(it *messageItem) *subaccounts.FieldError {
	outer := w.fastScope
	w.fastScope = fastScope{base: len(w.path), inItem: true}
	fe := w.value(&it.body)
	it.err = w.itemErr
	if it.err == nil {
		it.err = w.typeErr
	}
	w.fastScope = outer
	return fe
}

// memberKey reads an object key and the colon after it, leaving the key on the path.
func (w *fastWalker) memberKey() ([]byte, *subaccounts.FieldError) {
	if w.peek() != '"' {
		return nil, w.syntaxError()
	}
	start := w.i
	if !w.str() {
		return nil, w.syntaxError()
	}
	seg := &w.path[len(w.path)-1]
	seg.start, seg.end = start, w.i
	return w.key(w.b[start:w.i])
}

// memberValue reads the colon and the value of a member.
func (w *fastWalker) memberValue(dst any) *subaccounts.FieldError {
	if w.peek() != ':' {
		return w.syntaxError()
	}
	w.i++
	return w.value(dst)
}

// objectNext reads what follows a member: a comma, or the closing brace (done).
func (w *fastWalker) objectNext() (done bool, fe *subaccounts.FieldError) {
	switch w.peek() {
	case ',':
		w.i++
		return false, nil
	case '}':
		w.i++
		return true, nil
	}
	return true, w.syntaxError()
}

// bodyFail reports a failure of the body's own check at path: it ends the decode, except
// in a batch item, whose error it becomes while the scan goes on.
func (w *fastWalker) bodyFail(path []segment, detail string) *subaccounts.FieldError {
	fe := w.failAt(path[w.base:], detail)
	if !w.inItem {
		return fe
	}
	if w.itemErr == nil {
		w.itemErr = fe
	}
	w.dead = true
	return nil
}

// typeError keeps the first value of the wrong type, in encoding/json's terms: its
// pointer names the struct fields leading to it (not array indexes, not map keys) and
// its detail the type expected.
func (w *fastWalker) typeError(dst any) {
	if w.typeErr != nil {
		return
	}
	var fields []string
	for _, s := range w.path[w.base:] {
		if s.index < 0 && !s.mapKey {
			fields = append(fields, unquote(w.b[s.start:s.end]))
		}
	}
	w.typeErr = &subaccounts.FieldError{Pointer: typeErrorPointer(strings.Join(fields, ".")), Detail: "must be " + fastKind(dst)}
}

// fastKind names what a fastBody field holds, as jsonKind does for a reflected type.
func fastKind(dst any) string {
	switch dst.(type) {
	case **string, *string:
		return "a string"
	case **bool:
		return "a boolean"
	case **int64, **int:
		return "an integer"
	case *messageItems:
		return "an array"
	}
	return "an object"
}

// stringValue decodes a JSON string that str accepted, without a copy through
// encoding/json when it holds no escape and is valid UTF-8 (encoding/json replaces
// invalid UTF-8 with U+FFFD, and so does unquote).
func stringValue(quoted []byte) string {
	s := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return string(s)
	}
	return unquote(quoted)
}
