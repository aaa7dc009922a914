//! A hand-written lexer and precedence-climbing parser for DAX expressions.
//! Precedence follows DAX: `||` < `&&` < NOT < comparisons and IN < `&` < `+ -` < `* /` < `^` < unary `-`.
//!
//! Measures come from files anyone may edit, so the parser bounds what it accepts: text up to
//! [`MAX_TEXT`] bytes and syntax trees up to [`MAX_DEPTH`] levels (brackets, calls and operator chains alike), so
//! neither the parser nor the recursive binder and planner after it can run out of stack.

use super::ast::{BinaryOp, CmpOp, Define, Evaluate, Expr, Query, UnaryOp};

/// The longest measure text accepted, in bytes.
pub const MAX_TEXT: usize = 64 * 1024;
/// The deepest syntax tree accepted: far beyond hand-written measures (the bundled ones reach 9).
pub const MAX_DEPTH: usize = 100;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub at: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Number(f64),
    Text(String),
    Ident(String),
    /// `'Quoted Table'`
    QuotedIdent(String),
    /// `[Name]`
    Bracket(String),
    Sym(&'static str),
    End,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn tokens(src: &'a str) -> Result<Vec<(Tok, usize)>, ParseError> {
        let mut lx = Lexer { src, pos: 0 };
        let mut out = Vec::new();
        loop {
            lx.skip_trivia();
            let at = lx.pos;
            let tok = lx.next()?;
            let end = tok == Tok::End;
            out.push((tok, at));
            if end {
                return Ok(out);
            }
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn skip_trivia(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("--") || trimmed.starts_with("//") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else if let Some(body) = trimmed.strip_prefix("/*") {
                self.pos += 2 + body.find("*/").map(|i| i + 2).unwrap_or(body.len());
            } else {
                return;
            }
        }
    }

    fn next(&mut self) -> Result<Tok, ParseError> {
        let rest = self.rest();
        let Some(c) = rest.chars().next() else { return Ok(Tok::End) };
        let at = self.pos;
        if c.is_ascii_digit() || (c == '.' && rest[1..].starts_with(|d: char| d.is_ascii_digit())) {
            let len = rest.find(|ch: char| !(ch.is_ascii_digit() || ch == '.')).unwrap_or(rest.len());
            let text = &rest[..len];
            self.pos += len;
            return text.parse().map(Tok::Number).map_err(|_| ParseError { at, message: format!("`{text}` is not a number") });
        }
        if c == '"' {
            // DAX doubles a quote inside a string: "say ""hi""".
            let mut value = String::new();
            let mut i = 1;
            let bytes = rest.as_bytes();
            loop {
                match bytes.get(i) {
                    None => return Err(ParseError { at, message: "unterminated string: a closing `\"` was expected".into() }),
                    Some(b'"') if bytes.get(i + 1) == Some(&b'"') => {
                        value.push('"');
                        i += 2;
                    }
                    Some(b'"') => break,
                    Some(_) => {
                        let ch = rest[i..].chars().next().unwrap_or('\0');
                        value.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            self.pos += i + 1;
            return Ok(Tok::Text(value));
        }
        if c == '[' || c == '\'' {
            let close = if c == '[' { ']' } else { '\'' };
            let Some(end) = rest[1..].find(close) else {
                return Err(ParseError { at, message: format!("unterminated name: a closing `{close}` was expected") });
            };
            let name = rest[1..1 + end].trim().to_string();
            self.pos += end + 2;
            return Ok(if c == '[' { Tok::Bracket(name) } else { Tok::QuotedIdent(name) });
        }
        if c.is_alphabetic() || c == '_' {
            let len = rest.find(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '.')).unwrap_or(rest.len());
            self.pos += len;
            return Ok(Tok::Ident(rest[..len].to_string()));
        }
        for sym in ["&&", "||", "<=", ">=", "<>", "==", "(", ")", "{", "}", ",", "+", "-", "*", "/", "^", "&", "=", "<", ">"] {
            if rest.starts_with(sym) {
                self.pos += sym.len();
                return Ok(Tok::Sym(sym));
            }
        }
        Err(ParseError { at, message: format!("unexpected character `{c}`") })
    }
}

/// Parses one DAX expression (a measure's definition).
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    if src.len() > MAX_TEXT {
        return Err(ParseError { at: MAX_TEXT, message: format!("the expression is longer than {} KiB", MAX_TEXT / 1024) });
    }
    let tokens = Lexer::tokens(src)?;
    let mut p = Parser { tokens, i: 0, depth: 0 };
    let expr = p.expr()?;
    match p.peek() {
        Tok::End => Ok(expr),
        other => Err(p.error(format!("unexpected {} after the end of the expression", describe(other)))),
    }
}

/// Does the text start (after comments) with `DEFINE` or `EVALUATE`: a DAX query rather than SQL?
pub fn is_query(src: &str) -> bool {
    let mut lx = Lexer { src, pos: 0 };
    lx.skip_trivia();
    let word: String = lx.rest().chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    word.eq_ignore_ascii_case("DEFINE") || word.eq_ignore_ascii_case("EVALUATE")
}

/// Parses a DAX query: `[DEFINE (MEASURE T[m] = e | VAR v = e)+] (EVALUATE t [ORDER BY e [ASC|DESC], ...
/// [START AT v, ...]])+`. Keywords are case-insensitive; the limits of [`parse`] apply to the whole text.
pub fn parse_query(src: &str) -> Result<Query, ParseError> {
    if src.len() > MAX_TEXT {
        return Err(ParseError { at: MAX_TEXT, message: format!("the query is longer than {} KiB", MAX_TEXT / 1024) });
    }
    let tokens = Lexer::tokens(src)?;
    let mut p = Parser { tokens, i: 0, depth: 0 };
    let mut defines = Vec::new();
    if p.keyword("DEFINE") {
        p.bump();
        loop {
            let at = p.at();
            if p.keyword("MEASURE") {
                p.bump();
                let table_at = p.at();
                let table = match p.bump() {
                    Tok::Ident(t) | Tok::QuotedIdent(t) => t,
                    other => {
                        return Err(ParseError {
                            at: table_at,
                            message: format!("expected `Table[Measure]` after MEASURE, found {}", describe(&other)),
                        });
                    }
                };
                let name = match p.bump() {
                    Tok::Bracket(n) => n,
                    other => {
                        return Err(ParseError { at: p.at(), message: format!("expected `[Measure]` after `{table}`, found {}", describe(&other)) });
                    }
                };
                p.expect("=")?;
                let expr = p.expr()?;
                defines.push(Define::Measure { table, name, expr, at });
            } else if p.keyword("VAR") {
                p.bump();
                let name_at = p.at();
                let name = match p.bump() {
                    Tok::Ident(n) => n,
                    other => {
                        return Err(ParseError { at: name_at, message: format!("expected a variable name after VAR, found {}", describe(&other)) });
                    }
                };
                p.expect("=")?;
                let expr = p.binary(0)?;
                defines.push(Define::Var { name, expr, at: name_at });
            } else if p.keyword("COLUMN") || p.keyword("TABLE") {
                return Err(p.error("DEFINE COLUMN and DEFINE TABLE are not supported; use DEFINE VAR for a table, or ADDCOLUMNS".into()));
            } else {
                break;
            }
        }
        if defines.is_empty() {
            return Err(p.error(format!("expected MEASURE or VAR after DEFINE, found {}", describe(p.peek()))));
        }
    }
    let mut evaluates = Vec::new();
    while p.keyword("EVALUATE") {
        let at = p.at();
        p.bump();
        let table = p.expr()?;
        let mut order_by = Vec::new();
        let mut start_at = Vec::new();
        if p.keyword("ORDER") {
            p.bump();
            if !p.keyword("BY") {
                return Err(p.error(format!("expected BY after ORDER, found {}", describe(p.peek()))));
            }
            p.bump();
            loop {
                let e = p.expr()?;
                let descending = if p.keyword("DESC") {
                    p.bump();
                    true
                } else {
                    if p.keyword("ASC") {
                        p.bump();
                    }
                    false
                };
                order_by.push((e, descending));
                if !p.eat(",") {
                    break;
                }
            }
            if p.keyword("START") {
                p.bump();
                if !p.keyword("AT") {
                    return Err(p.error(format!("expected AT after START, found {}", describe(p.peek()))));
                }
                p.bump();
                loop {
                    start_at.push(p.expr()?);
                    if !p.eat(",") {
                        break;
                    }
                }
                if start_at.len() > order_by.len() {
                    return Err(p.error(format!("START AT has {} values for {} ORDER BY expressions", start_at.len(), order_by.len())));
                }
            }
        }
        evaluates.push(Evaluate { table, order_by, start_at, at });
    }
    if evaluates.is_empty() {
        return Err(p.error(format!("expected EVALUATE, found {}", describe(p.peek()))));
    }
    match p.peek() {
        Tok::End => Ok(Query { defines, evaluates }),
        other => Err(p.error(format!("unexpected {} after the end of the query (expected EVALUATE, ORDER BY or START AT)", describe(other)))),
    }
}

struct Parser {
    tokens: Vec<(Tok, usize)>,
    i: usize,
    /// Nesting of the tree being built, counted as the parser descends and along operator chains.
    depth: usize,
}

/// How deep a parsed tree is (iterative: the tree may be deep).
fn depth_of(e: &Expr) -> usize {
    let mut max = 0;
    let mut stack = vec![(e, 1usize)];
    while let Some((e, d)) = stack.pop() {
        max = max.max(d);
        match e {
            Expr::Unary { expr, .. } => stack.push((expr, d + 1)),
            Expr::Binary { left, right, .. } => {
                stack.push((left, d + 1));
                stack.push((right, d + 1));
            }
            Expr::Call { args, .. } => stack.extend(args.iter().flatten().map(|a| (a, d + 1))),
            Expr::Let { vars, body } => {
                stack.extend(vars.iter().map(|v| (&v.1, d + 1)));
                stack.push((body, d + 1));
            }
            Expr::Table { rows, .. } => stack.extend(rows.iter().flatten().map(|a| (a, d + 1))),
            _ => {}
        }
    }
    max
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Number(n) => format!("number `{n}`"),
        Tok::Text(s) => format!("string \"{s}\""),
        Tok::Ident(s) => format!("`{s}`"),
        Tok::QuotedIdent(s) => format!("`'{s}'`"),
        Tok::Bracket(s) => format!("`[{s}]`"),
        Tok::Sym(s) => format!("`{s}`"),
        Tok::End => "end of expression".into(),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.i.min(self.tokens.len() - 1)].0
    }
    fn at(&self) -> usize {
        self.tokens[self.i.min(self.tokens.len() - 1)].1
    }
    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.tokens.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn error(&self, message: String) -> ParseError {
        ParseError { at: self.at(), message }
    }
    fn eat(&mut self, sym: &str) -> bool {
        if matches!(self.peek(), Tok::Sym(s) if *s == sym) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn expect(&mut self, sym: &str) -> Result<(), ParseError> {
        if self.eat(sym) { Ok(()) } else { Err(self.error(format!("expected `{sym}`, found {}", describe(self.peek())))) }
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("the expression is nested more than {MAX_DEPTH} levels deep")));
        }
        let e = if self.keyword("VAR") { self.let_block() } else { self.binary(0) };
        self.depth -= 1;
        let e = e?;
        if self.depth == 0 && depth_of(&e) > MAX_DEPTH {
            return Err(ParseError {
                at: e.at(),
                message: format!("the expression is nested more than {MAX_DEPTH} levels deep (a chain of operators counts one level per operator)"),
            });
        }
        Ok(e)
    }

    fn let_block(&mut self) -> Result<Expr, ParseError> {
        let mut vars = Vec::new();
        while self.keyword("VAR") {
            self.bump();
            let at = self.at();
            let name = match self.bump() {
                Tok::Ident(n) => n,
                other => return Err(ParseError { at, message: format!("expected a variable name after VAR, found {}", describe(&other)) }),
            };
            self.expect("=")?;
            let value = self.binary(0)?;
            vars.push((name, value, at));
        }
        if !self.keyword("RETURN") {
            return Err(self.error(format!("expected VAR or RETURN, found {}", describe(self.peek()))));
        }
        self.bump();
        let body = self.expr()?;
        Ok(Expr::Let { vars, body: Box::new(body) })
    }

    fn binary_op(&self) -> Option<(BinaryOp, u8)> {
        if self.keyword("IN") {
            return Some((BinaryOp::In, 3));
        }
        let Tok::Sym(s) = self.peek() else { return None };
        Some(match *s {
            "||" => (BinaryOp::Or, 1),
            "&&" => (BinaryOp::And, 2),
            "=" => (BinaryOp::Compare(CmpOp::Eq), 3),
            "==" => (BinaryOp::Compare(CmpOp::StrictEq), 3),
            "<>" => (BinaryOp::Compare(CmpOp::NotEq), 3),
            "<" => (BinaryOp::Compare(CmpOp::Lt), 3),
            "<=" => (BinaryOp::Compare(CmpOp::LtEq), 3),
            ">" => (BinaryOp::Compare(CmpOp::Gt), 3),
            ">=" => (BinaryOp::Compare(CmpOp::GtEq), 3),
            "&" => (BinaryOp::Concat, 4),
            "+" => (BinaryOp::Add, 5),
            "-" => (BinaryOp::Sub, 5),
            "*" => (BinaryOp::Mul, 6),
            "/" => (BinaryOp::Div, 6),
            "^" => (BinaryOp::Pow, 7),
            _ => return None,
        })
    }

    fn binary(&mut self, min_prec: u8) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        let mut chain = 0;
        while let Some((op, prec)) = self.binary_op() {
            if prec <= min_prec {
                break;
            }
            chain += 1;
            if self.depth + chain > MAX_DEPTH {
                return Err(self.error(format!(
                    "the expression is nested more than {MAX_DEPTH} levels deep (a chain of operators counts one level per operator)"
                )));
            }
            let at = self.at();
            self.bump();
            let right = self.binary(prec)?;
            left = Expr::Binary { op, left: Box::new(left), right: Box::new(right), at };
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("the expression is nested more than {MAX_DEPTH} levels deep")));
        }
        let e = self.unary_inner();
        self.depth -= 1;
        e
    }

    fn unary_inner(&mut self) -> Result<Expr, ParseError> {
        let at = self.at();
        if self.eat("-") {
            let expr = self.unary()?;
            return Ok(Expr::Unary { op: UnaryOp::Neg, expr: Box::new(expr), at });
        }
        if self.eat("+") {
            return self.unary();
        }
        if self.keyword("NOT") && !matches!(self.tokens.get(self.i + 1), Some((Tok::Sym("("), _))) {
            self.bump();
            // DAX's NOT binds looser than comparisons: NOT [A] > 1 is NOT ([A] > 1).
            let expr = self.binary(2)?;
            return Ok(Expr::Unary { op: UnaryOp::Not, expr: Box::new(expr), at });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let at = self.at();
        match self.bump() {
            Tok::Number(n) => Ok(Expr::Number(n)),
            Tok::Text(s) => Ok(Expr::Text(s)),
            Tok::Bracket(name) => Ok(Expr::Measure { name, at }),
            Tok::QuotedIdent(table) => self.column_after(table, at),
            Tok::Ident(name) => {
                if self.eat("(") {
                    let args = self.arguments()?;
                    Ok(Expr::Call { name: name.to_ascii_uppercase(), args, at })
                } else if matches!(self.peek(), Tok::Bracket(_)) {
                    self.column_after(name, at)
                } else {
                    Ok(Expr::Name { name, at })
                }
            }
            Tok::Sym("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Sym("{") => {
                let mut rows = Vec::new();
                if !self.eat("}") {
                    loop {
                        let row = if self.eat("(") {
                            let mut values = vec![self.expr()?];
                            while self.eat(",") {
                                values.push(self.expr()?);
                            }
                            self.expect(")")?;
                            values
                        } else {
                            vec![self.expr()?]
                        };
                        rows.push(row);
                        if self.eat(",") {
                            continue;
                        }
                        self.expect("}")?;
                        break;
                    }
                }
                Ok(Expr::Table { rows, at })
            }
            other => Err(ParseError { at, message: format!("expected an expression, found {}", describe(&other)) }),
        }
    }

    fn column_after(&mut self, table: String, at: usize) -> Result<Expr, ParseError> {
        match self.bump() {
            Tok::Bracket(column) => Ok(Expr::Column { table, column, at }),
            other => Err(ParseError { at: self.at(), message: format!("expected `[Column]` after table `{table}`, found {}", describe(&other)) }),
        }
    }

    fn arguments(&mut self) -> Result<Vec<Option<Expr>>, ParseError> {
        let mut args = Vec::new();
        if self.eat(")") {
            return Ok(args);
        }
        loop {
            if matches!(self.peek(), Tok::Sym(",") | Tok::Sym(")")) {
                args.push(None);
            } else {
                args.push(Some(self.expr()?));
            }
            if self.eat(",") {
                continue;
            }
            self.expect(")")?;
            return Ok(args);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_calls() {
        let e = parse("DIVIDE([A] - [B], [B], 0)").unwrap();
        let Expr::Call { name, args, .. } = e else { panic!("not a call") };
        assert_eq!(name, "DIVIDE");
        assert_eq!(args.len(), 3);
        assert!(matches!(args[0], Some(Expr::Binary { op: BinaryOp::Sub, .. })));
        let e = parse("1 - 2 * 3 < 4 && TRUE()").unwrap();
        let Expr::Binary { op: BinaryOp::And, left, .. } = e else { panic!("&& binds loosest") };
        assert!(matches!(*left, Expr::Binary { op: BinaryOp::Compare(CmpOp::Lt), .. }));
    }

    #[test]
    fn columns_vars_and_omitted_arguments() {
        let e = parse("VAR x = SUM('Fait Ventes'[Montant]) RETURN RANKX(ALL(T[c]), x, , DESC, DENSE)").unwrap();
        let Expr::Let { vars, body } = e else { panic!("not a VAR block") };
        assert_eq!(vars[0].0, "x");
        assert!(matches!(&vars[0].1, Expr::Call { args, .. } if matches!(&args[0], Some(Expr::Column { table, .. }) if table == "Fait Ventes")));
        let Expr::Call { args, .. } = *body else { panic!() };
        assert_eq!(args[2], None);
        assert!(matches!(&args[3], Some(Expr::Name { name, .. }) if name == "DESC"));
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        let err = parse("SUM(Fait_Ventes[Montant_TTC]").unwrap_err();
        assert_eq!(err.at, 28);
        assert!(err.message.contains("expected `)`"), "{}", err.message);
        let err = parse("[A] +* 2").unwrap_err();
        assert_eq!(err.at, 5);
        let err = parse("\"open").unwrap_err();
        assert!(err.message.contains("unterminated string"));
        assert_eq!(parse("\"a \"\"b\"\"\"").unwrap(), Expr::Text("a \"b\"".into()));
    }

    #[test]
    fn in_and_table_constructors() {
        let e = parse("Dim_Canal[Nom_Canal] IN { \"Web\", \"Mobile\" } && NOT [A] > 1").unwrap();
        let Expr::Binary { op: BinaryOp::And, left, .. } = e else { panic!("&& binds loosest") };
        let Expr::Binary { op: BinaryOp::In, right, .. } = *left else { panic!("IN") };
        assert!(matches!(*right, Expr::Table { ref rows, .. } if rows.len() == 2));
    }

    #[test]
    fn deep_or_long_input_is_an_error_not_a_crash() {
        // 30,000 brackets (100,000 are refused by the size limit first): once a stack overflow.
        let deep = format!("{}1{}", "(".repeat(30_000), ")".repeat(30_000));
        let e = parse(&deep).unwrap_err().message;
        assert!(e.contains("nested more than"), "{e}");
        let deep = format!("{}1{}", "ABS(".repeat(5_000), ")".repeat(5_000));
        assert!(parse(&deep).unwrap_err().message.contains("nested more than"));
        let chain = vec!["[A]"; 2_000].join(" + ");
        assert!(parse(&chain).unwrap_err().message.contains("nested more than"));
        assert!(parse(&vec!["[A]"; 90].join(" + ")).is_ok());
        let long = format!("\"{}\"", "x".repeat(MAX_TEXT));
        assert!(parse(&long).unwrap_err().message.contains("longer than"));
    }
}
