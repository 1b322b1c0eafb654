package tokenengine

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// tokenColumns are the columns of system.tokens, in the real server's order.
var tokenColumns = []string{"token_id", "name", "hash", "created_at", "description", "created_by_token_id", "updated_at", "updated_by_token_id", "expiry", "permissions"}

// errOnlyTokens is the answer to any SQL this engine does not serve.
var errOnlyTokens = errors.New("this token engine only serves SELECT queries on system.tokens in database _internal, e.g. SELECT * FROM system.tokens WHERE name = 'x'")

// tokenQuery is a parsed SELECT on system.tokens.
type tokenQuery struct {
	columns []string
	filters []filter
	orderBy string
	desc    bool
	limit   int // -1 means no limit
}

// filter is one `column op literal` condition; conditions are joined by AND.
type filter struct {
	column string
	op     string // "=", "!=", "like", "not like", "is null", "is not null"
	value  string
}

// maxLiteralBytes bounds string literals so LIKE matching stays cheap.
const maxLiteralBytes = 1024

// sqlToken is a lexical token of the tiny SQL subset.
type sqlToken struct {
	kind byte // 'i' identifier/keyword, 's' string literal, 'n' number, 'p' punctuation
	text string
}

// lexSQL splits q into tokens; string literals use ” for a quote, as in SQL.
func lexSQL(q string) ([]sqlToken, error) {
	var out []sqlToken
	rs := []rune(q)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(rs) {
					return nil, errors.New("unterminated string literal in SQL")
				}
				if rs[i] == '\'' {
					if i+1 < len(rs) && rs[i+1] == '\'' {
						b.WriteRune('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteRune(rs[i])
				i++
			}
			out = append(out, sqlToken{'s', b.String()})
		case c == '"':
			j := i + 1
			for j < len(rs) && rs[j] != '"' {
				j++
			}
			if j >= len(rs) {
				return nil, errors.New("unterminated quoted identifier in SQL")
			}
			out = append(out, sqlToken{'q', string(rs[i+1 : j])})
			i = j + 1
		case unicode.IsLetter(c) || c == '_':
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_') {
				j++
			}
			out = append(out, sqlToken{'i', strings.ToLower(string(rs[i:j]))})
			i = j
		case unicode.IsDigit(c):
			j := i
			for j < len(rs) && unicode.IsDigit(rs[j]) {
				j++
			}
			out = append(out, sqlToken{'n', string(rs[i:j])})
			i = j
		case c == '!' || c == '<':
			if i+1 < len(rs) && ((c == '!' && rs[i+1] == '=') || (c == '<' && rs[i+1] == '>')) {
				out = append(out, sqlToken{'p', "!="})
				i += 2
				continue
			}
			return nil, fmt.Errorf("unsupported operator at character %d of the SQL", i+1)
		case strings.ContainsRune("*,.=;", c):
			out = append(out, sqlToken{'p', string(c)})
			i++
		default:
			return nil, fmt.Errorf("unexpected character at character %d of the SQL", i+1)
		}
	}
	return out, nil
}

// sqlParser walks the tokens of one query.
type sqlParser struct {
	toks []sqlToken
	pos  int
}

func (p *sqlParser) peek() sqlToken {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return sqlToken{}
}

func (p *sqlParser) next() sqlToken { t := p.peek(); p.pos++; return t }

func (p *sqlParser) keyword(k string) bool {
	if t := p.peek(); t.kind == 'i' && t.text == k {
		p.pos++
		return true
	}
	return false
}

func (p *sqlParser) punct(s string) bool {
	if t := p.peek(); t.kind == 'p' && t.text == s {
		p.pos++
		return true
	}
	return false
}

// ident reads an identifier, bare (case-folded) or double-quoted (exact).
func (p *sqlParser) ident() (string, bool) {
	t := p.peek()
	if t.kind == 'i' || t.kind == 'q' {
		p.pos++
		return t.text, true
	}
	return "", false
}

func (p *sqlParser) column() (string, error) {
	c, ok := p.ident()
	if !ok {
		return "", errors.New("expected a column name in SQL")
	}
	if !slices.Contains(tokenColumns, c) {
		return "", fmt.Errorf("system.tokens has no such column (columns: %s)", strings.Join(tokenColumns, ", "))
	}
	return c, nil
}

// parseTokenQuery accepts
//
//	SELECT * | col[, col…] FROM system.tokens
//	  [WHERE col = 'v' | col != 'v' | col [NOT] LIKE 'p' | col IS [NOT] NULL [AND …]]
//	  [ORDER BY col [ASC|DESC]] [LIMIT n] [;]
//
// which covers what clients run against system.tokens; anything else is errOnlyTokens or a
// message naming the problem.
func parseTokenQuery(q string) (*tokenQuery, error) {
	toks, err := lexSQL(q)
	if err != nil {
		return nil, err
	}
	p := &sqlParser{toks: toks}
	out := &tokenQuery{limit: -1}
	if !p.keyword("select") {
		return nil, errOnlyTokens
	}
	if p.punct("*") {
		out.columns = tokenColumns
	} else {
		for {
			c, err := p.column()
			if err != nil {
				return nil, err
			}
			out.columns = append(out.columns, c)
			if !p.punct(",") {
				break
			}
		}
	}
	if !p.keyword("from") {
		return nil, errOnlyTokens
	}
	schema, ok1 := p.ident()
	dot := p.punct(".")
	table, ok2 := p.ident()
	if !ok1 || !dot || !ok2 || schema != "system" || table != "tokens" {
		return nil, errOnlyTokens
	}
	if p.keyword("where") {
		for {
			f, err := p.condition()
			if err != nil {
				return nil, err
			}
			out.filters = append(out.filters, f)
			if !p.keyword("and") {
				break
			}
		}
	}
	if p.keyword("order") {
		if !p.keyword("by") {
			return nil, errors.New("expected BY after ORDER in SQL")
		}
		if out.orderBy, err = p.column(); err != nil {
			return nil, err
		}
		if p.keyword("desc") {
			out.desc = true
		} else {
			p.keyword("asc")
		}
	}
	if p.keyword("limit") {
		t := p.next()
		n, err := strconv.Atoi(t.text)
		if t.kind != 'n' || err != nil || n < 0 {
			return nil, errors.New("LIMIT needs a non-negative integer in SQL")
		}
		out.limit = n
	}
	p.punct(";")
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unsupported SQL after the query's %d tokens; %s", p.pos, errOnlyTokens)
	}
	return out, nil
}

func (p *sqlParser) condition() (filter, error) {
	c, err := p.column()
	if err != nil {
		return filter{}, err
	}
	f := filter{column: c}
	switch {
	case p.punct("="):
		f.op = "="
	case p.punct("!="):
		f.op = "!="
	case p.keyword("like"):
		f.op = "like"
	case p.keyword("not"):
		if !p.keyword("like") {
			return filter{}, errors.New("expected LIKE after NOT in SQL")
		}
		f.op = "not like"
	case p.keyword("is"):
		f.op = "is null"
		if p.keyword("not") {
			f.op = "is not null"
		}
		if !p.keyword("null") {
			return filter{}, errors.New("expected NULL after IS in SQL")
		}
		return f, nil
	default:
		return filter{}, fmt.Errorf("unsupported condition on %s; use =, !=, LIKE, NOT LIKE or IS [NOT] NULL", c)
	}
	t := p.next()
	switch {
	case t.kind == 's' && len(t.text) > maxLiteralBytes:
		return filter{}, fmt.Errorf("string literal is longer than %d bytes", maxLiteralBytes)
	case t.kind == 's':
		f.value = t.text
	case t.kind == 'n' && (f.op == "=" || f.op == "!="):
		f.value = t.text
	default:
		return filter{}, fmt.Errorf("expected a quoted string after %s %s in SQL", c, strings.ToUpper(f.op))
	}
	return f, nil
}

// likeElem is one element of a compiled LIKE pattern: a run ('%'), one character ('_') or a
// literal rune.
type likeElem struct {
	kind byte // '%', '_' or 'l'
	r    rune
}

// likeMatch implements SQL LIKE: % is any run, _ one character, backslash escapes the next one.
// It is the greedy wildcard match with backtracking to the last %: memory is the compiled
// pattern (no table of pattern × value positions, no recursion), time at most
// len(pattern) × len(value) steps.
func likeMatch(pattern, s string) bool {
	pr := []rune(pattern)
	elems := make([]likeElem, 0, len(pr))
	for i := 0; i < len(pr); i++ {
		switch {
		case pr[i] == '%':
			if n := len(elems); n > 0 && elems[n-1].kind == '%' {
				continue // %% is %
			}
			elems = append(elems, likeElem{kind: '%'})
		case pr[i] == '_':
			elems = append(elems, likeElem{kind: '_'})
		case pr[i] == '\\' && i+1 < len(pr):
			i++
			elems = append(elems, likeElem{kind: 'l', r: pr[i]})
		default:
			elems = append(elems, likeElem{kind: 'l', r: pr[i]})
		}
	}
	sr := []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(sr) {
		switch {
		case pi < len(elems) && elems[pi].kind == '%':
			star, mark = pi, si
			pi++
		case pi < len(elems) && (elems[pi].kind == '_' || elems[pi].r == sr[si]):
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(elems) && elems[pi].kind == '%' {
		pi++
	}
	return pi == len(elems)
}
