package filter

import (
	"fmt"
	"strings"
)

// tokKind classifies a token of a pcap-filter expression.
type tokKind int

const (
	tokEOF     tokKind = iota
	tokWord            // keyword or name: letters, digits, '_', '.', and '-' between letters
	tokNum             // number or address: starts with a digit, or holds ':' (IPv6)
	tokOp              // punctuation: ( ) [ ] : & | + - * / % ^ << >> = == != < <= > >= ! && ||
	tokEscaped         // \name, as in "proto \tcp"
)

// token is one lexeme and where it starts in the expression.
type token struct {
	kind tokKind
	text string
	pos  int
}

func (t token) String() string {
	if t.kind == tokEOF {
		return "end of expression"
	}
	return fmt.Sprintf("%q", t.text)
}

// twoCharOps are the operators of two characters; they win over one-character ones.
var twoCharOps = []string{"<<", ">>", "==", "!=", "<=", ">=", "&&", "||"}

const oneCharOps = "()[]:&|+-*/%^=<>!"

// lex splits expr into tokens. Inside brackets ':' separates offset and size,
// outside it belongs to IPv6 addresses.
func lex(expr string) ([]token, error) {
	var toks []token
	depth := 0
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '\\':
			j := i + 1
			for j < len(expr) && isWordByte(expr[j]) {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("stray '\\' at offset %d", i)
			}
			toks = append(toks, token{tokEscaped, expr[i+1 : j], i})
			i = j
			continue
		case isAlpha(c) || isDigit(c) || (c == ':' && depth == 0):
			j := scanWord(expr, i, depth == 0)
			text := expr[i:j]
			kind := tokWord
			if isDigit(c) || strings.Contains(text, ":") {
				kind = tokNum
			}
			toks = append(toks, token{kind, text, i})
			i = j
			continue
		}
		op := ""
		for _, two := range twoCharOps {
			if strings.HasPrefix(expr[i:], two) {
				op = two
				break
			}
		}
		if op == "" && strings.IndexByte(oneCharOps, c) >= 0 {
			op = string(c)
		}
		if op == "" {
			return nil, fmt.Errorf("unexpected character %q at offset %d", c, i)
		}
		switch op {
		case "[":
			depth++
		case "]":
			depth--
		}
		toks = append(toks, token{tokOp, op, i})
		i += len(op)
	}
	return append(toks, token{tokEOF, "", len(expr)}), nil
}

// scanWord returns the end of the word starting at i. A '-' continues a word
// in a word that starts with a letter when a letter follows ("tcp-syn",
// "icmp6-echo"), so "len-14" is three
// tokens; ':' continues it only outside brackets (IPv6 addresses).
func scanWord(s string, i int, colons bool) int {
	j := i
	for j < len(s) {
		c := s[j]
		switch {
		case isWordByte(c):
			j++
		case c == ':' && colons:
			j++
		case c == '-' && isAlpha(s[i]) && (isAlpha(s[j-1]) || isDigit(s[j-1])) && j+1 < len(s) && isAlpha(s[j+1]):
			j++
		default:
			return j
		}
	}
	return j
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isWordByte(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '_' || c == '.'
}
