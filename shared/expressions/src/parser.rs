//! Recursive-descent parser with Spring's precedence (lowest first):
//! assignment-free expression (`?:` Elvis, `? :` ternary) → `or ||` → `and &&` → relational
//! (`== != < <= > >= matches instanceof between`, one per level) → `+ -` → `* / % div mod` →
//! `^` → unary (`+ - ! not`) → primary with its navigation steps.
//!
//! Features that could reach outside the sandbox are refused while parsing: assignment,
//! `++`/`--`, bean references (`@name`, `&name`) and array constructors.

use std::rc::Rc;

use crate::ast::*;
use crate::error::{ExpressionError, Result};
use crate::lexer::{Spanned, Symbol, Token, tokenize};
use crate::limits::{MAX_EXPRESSION_LENGTH, MAX_NESTING_DEPTH};

/// Parses the text of one expression (without `${}`).
pub fn parse(text: &str) -> Result<Expr> {
    if text.len() > MAX_EXPRESSION_LENGTH {
        return Err(ExpressionError::eval(format!(
            "EL1079E: Expression is too long: {} characters exceed the limit of {MAX_EXPRESSION_LENGTH}",
            text.len()
        )));
    }
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    if parser.tokens.is_empty() {
        return Err(ExpressionError::parse("Expression is empty"));
    }
    let expr = parser.expression()?;
    if let Some(extra) = parser.peek() {
        return Err(ExpressionError::parse(format!(
            "EL1041E: After parsing a valid expression, there is still more data in the expression: '{}'",
            describe(&extra.token)
        )));
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<Spanned>,
    pos: usize,
    depth: usize,
}

fn describe(token: &Token) -> String {
    match token {
        Token::Int(v) => v.to_string(),
        Token::Long(v) => format!("{v}L"),
        Token::Float(v) => format!("{v}f"),
        Token::Double(v) => v.to_string(),
        Token::Str(s) => format!("'{s}'"),
        Token::Identifier(s) => s.clone(),
        Token::Word(w) => (*w).to_string(),
        Token::Symbol(symbol) => symbol_text(*symbol).to_string(),
    }
}

fn symbol_text(symbol: Symbol) -> &'static str {
    use Symbol::*;
    match symbol {
        Dot => ".",
        SafeNavigation => "?.",
        Select => "?[",
        SelectFirst => "^[",
        SelectLast => "$[",
        Project => "![",
        Comma => ",",
        Colon => ":",
        Question => "?",
        Elvis => "?:",
        LeftParen => "(",
        RightParen => ")",
        LeftBracket => "[",
        RightBracket => "]",
        LeftBrace => "{",
        RightBrace => "}",
        Hash => "#",
        At => "@",
        Ampersand => "&",
        Plus => "+",
        Minus => "-",
        Star => "*",
        Slash => "/",
        Percent => "%",
        Caret => "^",
        Bang => "!",
        Equal => "==",
        NotEqual => "!=",
        Less => "<",
        LessEqual => "<=",
        Greater => ">",
        GreaterEqual => ">=",
        And => "&&",
        Or => "||",
        Assign => "=",
        Increment => "++",
        Decrement => "--",
        Pipe => "|",
    }
}

impl Parser {
    fn peek(&self) -> Option<&Spanned> {
        self.tokens.get(self.pos)
    }

    fn peek_token(&self) -> Option<&Token> {
        self.peek().map(|s| &s.token)
    }

    fn peek_symbol(&self, symbol: Symbol) -> bool {
        self.peek_token() == Some(&Token::Symbol(symbol))
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.peek_token(), Some(Token::Word(w)) if *w == word)
    }

    fn eat_symbol(&mut self, symbol: Symbol) -> bool {
        if self.peek_symbol(symbol) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_symbol(&mut self, symbol: Symbol) -> Result<()> {
        if self.eat_symbol(symbol) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{}'", symbol_text(symbol))))
        }
    }

    fn unexpected(&self, expected: &str) -> ExpressionError {
        match self.peek() {
            Some(found) => ExpressionError::parse(format!(
                "Unexpected token '{}' at position {}, expected {expected}",
                describe(&found.token),
                found.position
            )),
            None => ExpressionError::parse(format!(
                "Unexpectedly ran out of input, expected {expected}"
            )),
        }
    }

    /// Counts one level of nesting; every recursive entry point goes through here so the
    /// tree (and the evaluator's recursion over it) stays within `MAX_NESTING_DEPTH`.
    fn nested<T>(&mut self, parse: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.depth += 1;
        if self.depth > MAX_NESTING_DEPTH {
            return Err(ExpressionError::parse(format!(
                "Expression nests deeper than the limit of {MAX_NESTING_DEPTH} levels"
            )));
        }
        let result = parse(self);
        self.depth -= 1;
        result
    }

    fn expression(&mut self) -> Result<Expr> {
        self.nested(|p| p.expression_inner())
    }

    fn expression_inner(&mut self) -> Result<Expr> {
        let expr = self.logical_or()?;
        if self.peek_symbol(Symbol::Assign) {
            return Err(ExpressionError::parse(
                "Assignment ('=') is not supported in pipeline expressions",
            ));
        }
        if self.eat_symbol(Symbol::Elvis) {
            let fallback = self.expression()?;
            return Ok(Expr::Elvis {
                value: Box::new(expr),
                fallback: Box::new(fallback),
            });
        }
        if self.eat_symbol(Symbol::Question) {
            let when_true = self.expression()?;
            self.expect_symbol(Symbol::Colon)?;
            let when_false = self.expression()?;
            return Ok(Expr::Ternary {
                condition: Box::new(expr),
                when_true: Box::new(when_true),
                when_false: Box::new(when_false),
            });
        }
        Ok(expr)
    }

    fn logical_or(&mut self) -> Result<Expr> {
        let first = self.logical_and()?;
        let mut operands = vec![first];
        while self.eat_symbol(Symbol::Or) || self.eat_word("or") {
            operands.push(self.logical_and()?);
        }
        Ok(if operands.len() == 1 {
            operands.pop().expect("one operand")
        } else {
            Expr::Logical {
                op: LogicalOp::Or,
                operands,
            }
        })
    }

    fn logical_and(&mut self) -> Result<Expr> {
        let first = self.relational()?;
        let mut operands = vec![first];
        while self.eat_symbol(Symbol::And) || self.eat_word("and") {
            operands.push(self.relational()?);
        }
        Ok(if operands.len() == 1 {
            operands.pop().expect("one operand")
        } else {
            Expr::Logical {
                op: LogicalOp::And,
                operands,
            }
        })
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.peek_word(word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn relational_operator(&self) -> Option<BinaryOp> {
        Some(match self.peek_token()? {
            Token::Symbol(Symbol::Equal) | Token::Word("eq") => BinaryOp::Equal,
            Token::Symbol(Symbol::NotEqual) | Token::Word("ne") => BinaryOp::NotEqual,
            Token::Symbol(Symbol::Less) | Token::Word("lt") => BinaryOp::Less,
            Token::Symbol(Symbol::LessEqual) | Token::Word("le") => BinaryOp::LessEqual,
            Token::Symbol(Symbol::Greater) | Token::Word("gt") => BinaryOp::Greater,
            Token::Symbol(Symbol::GreaterEqual) | Token::Word("ge") => BinaryOp::GreaterEqual,
            Token::Word("matches") => BinaryOp::Matches,
            Token::Word("instanceof") => BinaryOp::InstanceOf,
            Token::Word("between") => BinaryOp::Between,
            _ => return None,
        })
    }

    fn relational(&mut self) -> Result<Expr> {
        let left = self.sum()?;
        let Some(op) = self.relational_operator() else {
            return Ok(left);
        };
        self.pos += 1;
        let right = self.sum()?;
        Ok(Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
        })
    }

    fn sum(&mut self) -> Result<Expr> {
        let first = self.product()?;
        let mut rest = Vec::new();
        loop {
            let op = if self.eat_symbol(Symbol::Plus) {
                ArithmeticOp::Add
            } else if self.eat_symbol(Symbol::Minus) {
                ArithmeticOp::Subtract
            } else {
                break;
            };
            rest.push((op, self.product()?));
        }
        Ok(fold(first, rest))
    }

    fn product(&mut self) -> Result<Expr> {
        let first = self.power()?;
        let mut rest = Vec::new();
        loop {
            let op = if self.eat_symbol(Symbol::Star) {
                ArithmeticOp::Multiply
            } else if self.eat_symbol(Symbol::Slash) || self.eat_word("div") {
                ArithmeticOp::Divide
            } else if self.eat_symbol(Symbol::Percent) || self.eat_word("mod") {
                ArithmeticOp::Modulus
            } else {
                break;
            };
            rest.push((op, self.power()?));
        }
        Ok(fold(first, rest))
    }

    fn power(&mut self) -> Result<Expr> {
        let base = self.unary()?;
        let expr = if self.eat_symbol(Symbol::Caret) {
            let exponent = self.unary()?;
            Expr::Binary {
                op: BinaryOp::Power,
                left: Box::new(base),
                right: Box::new(exponent),
            }
        } else {
            base
        };
        if self.peek_symbol(Symbol::Increment) || self.peek_symbol(Symbol::Decrement) {
            return Err(ExpressionError::parse(
                "Increment and decrement operators are not supported in pipeline expressions",
            ));
        }
        Ok(expr)
    }

    fn unary(&mut self) -> Result<Expr> {
        let op = if self.eat_symbol(Symbol::Bang) || self.eat_word("not") {
            UnaryOp::Not
        } else if self.eat_symbol(Symbol::Minus) {
            UnaryOp::Minus
        } else if self.eat_symbol(Symbol::Plus) {
            UnaryOp::Plus
        } else if self.peek_symbol(Symbol::Increment) || self.peek_symbol(Symbol::Decrement) {
            return Err(ExpressionError::parse(
                "Increment and decrement operators are not supported in pipeline expressions",
            ));
        } else {
            return self.primary();
        };
        let operand = self.nested(|p| p.unary())?;
        Ok(Expr::Unary {
            op,
            operand: Box::new(operand),
        })
    }

    fn primary(&mut self) -> Result<Expr> {
        let start = self.start_node()?;
        let mut steps = Vec::new();
        loop {
            if self.eat_symbol(Symbol::Dot) {
                steps.push(self.dotted_step(false)?);
            } else if self.eat_symbol(Symbol::SafeNavigation) {
                if self.eat_symbol(Symbol::LeftBracket) {
                    steps.push(self.index_step(true)?);
                } else {
                    steps.push(self.dotted_step(true)?);
                }
            } else if self.eat_symbol(Symbol::LeftBracket) {
                steps.push(self.index_step(false)?);
            } else {
                break;
            }
        }
        Ok(if steps.is_empty() {
            start
        } else {
            Expr::Navigate {
                target: Box::new(start),
                steps,
            }
        })
    }

    fn index_step(&mut self, null_safe: bool) -> Result<Step> {
        let index = self.expression()?;
        self.expect_symbol(Symbol::RightBracket)?;
        Ok(Step::Index { index, null_safe })
    }

    fn dotted_step(&mut self, null_safe: bool) -> Result<Step> {
        if let Some(kind) = self.eat_selection_start() {
            let condition = self.expression()?;
            self.expect_symbol(Symbol::RightBracket)?;
            return Ok(Step::Select {
                kind,
                condition,
                null_safe,
            });
        }
        if self.eat_symbol(Symbol::Project) {
            let expression = self.expression()?;
            self.expect_symbol(Symbol::RightBracket)?;
            return Ok(Step::Project {
                expression,
                null_safe,
            });
        }
        let name = match self.peek_token() {
            Some(Token::Identifier(name)) => name.clone(),
            // After a dot every word is a name (`trigger.type`, `x.and`).
            Some(Token::Word(word)) => (*word).to_string(),
            _ => return Err(self.unexpected("a property or method name after '.'")),
        };
        self.pos += 1;
        if self.peek_symbol(Symbol::LeftParen) {
            let args = self.arguments()?;
            Ok(Step::Method {
                name,
                args,
                null_safe,
            })
        } else {
            Ok(Step::Property { name, null_safe })
        }
    }

    fn eat_selection_start(&mut self) -> Option<SelectionKind> {
        let kind = match self.peek_token()? {
            Token::Symbol(Symbol::Select) => SelectionKind::All,
            Token::Symbol(Symbol::SelectFirst) => SelectionKind::First,
            Token::Symbol(Symbol::SelectLast) => SelectionKind::Last,
            _ => return None,
        };
        self.pos += 1;
        Some(kind)
    }

    /// `( [expr {, expr}] [,] )` — a trailing comma is accepted, as Spring does.
    fn arguments(&mut self) -> Result<Vec<Expr>> {
        self.expect_symbol(Symbol::LeftParen)?;
        let mut args = Vec::new();
        loop {
            if self.peek_symbol(Symbol::RightParen) {
                break;
            }
            args.push(self.expression()?);
            if !self.eat_symbol(Symbol::Comma) {
                break;
            }
        }
        self.expect_symbol(Symbol::RightParen)?;
        Ok(args)
    }

    fn start_node(&mut self) -> Result<Expr> {
        let Some(spanned) = self.peek().cloned() else {
            return Err(self.unexpected("an expression"));
        };
        match spanned.token {
            Token::Int(v) => self.literal(Literal::Int(v)),
            Token::Long(v) => self.literal(Literal::Long(v)),
            Token::Float(v) => self.literal(Literal::Float(v)),
            Token::Double(v) => self.literal(Literal::Double(v)),
            Token::Str(s) => self.literal(Literal::Str(Rc::from(s))),
            Token::Identifier(name) => self.identifier_node(name),
            Token::Symbol(Symbol::LeftParen) => {
                self.pos += 1;
                let inner = self.expression()?;
                self.expect_symbol(Symbol::RightParen)?;
                Ok(inner)
            }
            Token::Symbol(Symbol::Hash) => {
                self.pos += 1;
                let name = match self.peek_token() {
                    Some(Token::Identifier(name)) => name.clone(),
                    Some(Token::Word(word)) => (*word).to_string(),
                    _ => return Err(self.unexpected("a function or variable name after '#'")),
                };
                self.pos += 1;
                if self.peek_symbol(Symbol::LeftParen) {
                    let args = self.arguments()?;
                    Ok(Expr::FunctionCall { name, args })
                } else {
                    Ok(Expr::Variable(name))
                }
            }
            Token::Symbol(Symbol::LeftBrace) => self.nested(|p| p.inline_list_or_map()),
            Token::Symbol(Symbol::LeftBracket) => {
                self.pos += 1;
                let step = self.index_step(false)?;
                Ok(Expr::Navigate {
                    target: Box::new(Expr::Variable("this".into())),
                    steps: vec![step],
                })
            }
            Token::Symbol(Symbol::Select | Symbol::SelectFirst | Symbol::SelectLast) => {
                let step = self.dotted_step(false)?;
                Ok(Expr::Navigate {
                    target: Box::new(Expr::Variable("this".into())),
                    steps: vec![step],
                })
            }
            Token::Symbol(Symbol::Project) => {
                let step = self.dotted_step(false)?;
                Ok(Expr::Navigate {
                    target: Box::new(Expr::Variable("this".into())),
                    steps: vec![step],
                })
            }
            Token::Symbol(Symbol::At | Symbol::Ampersand) => {
                self.pos += 1;
                let name = match self.peek_token() {
                    Some(Token::Identifier(name)) => name.clone(),
                    Some(Token::Str(name)) => name.clone(),
                    _ => return Err(self.unexpected("a bean name")),
                };
                self.pos += 1;
                Ok(Expr::BeanReference(name))
            }
            _ => Err(self.unexpected("an expression")),
        }
    }

    fn literal(&mut self, literal: Literal) -> Result<Expr> {
        self.pos += 1;
        Ok(Expr::Literal(literal))
    }

    fn identifier_node(&mut self, name: String) -> Result<Expr> {
        self.pos += 1;
        let next_is_paren = self.peek_symbol(Symbol::LeftParen);
        if name.eq_ignore_ascii_case("true") {
            return Ok(Expr::Literal(Literal::Bool(true)));
        }
        if name.eq_ignore_ascii_case("false") {
            return Ok(Expr::Literal(Literal::Bool(false)));
        }
        if name.eq_ignore_ascii_case("null") {
            return Ok(Expr::Literal(Literal::Null));
        }
        if name == "T" && next_is_paren {
            self.pos += 1;
            let type_name = self.qualified_name()?;
            if self.peek_symbol(Symbol::LeftBracket) {
                return Err(ExpressionError::parse(
                    "Array types are not supported in pipeline expressions",
                ));
            }
            self.expect_symbol(Symbol::RightParen)?;
            return Ok(Expr::TypeReference(type_name));
        }
        if name.eq_ignore_ascii_case("new")
            && matches!(self.peek_token(), Some(Token::Identifier(_)))
        {
            let type_name = self.qualified_name()?;
            if self.peek_symbol(Symbol::LeftBracket) {
                return Err(ExpressionError::parse(
                    "Array construction is not supported in pipeline expressions",
                ));
            }
            let args = self.arguments()?;
            return Ok(Expr::Constructor { type_name, args });
        }
        if next_is_paren {
            let args = self.arguments()?;
            return Ok(Expr::MethodCall { name, args });
        }
        Ok(Expr::Property(name))
    }

    fn qualified_name(&mut self) -> Result<String> {
        let mut name = String::new();
        loop {
            match self.peek_token() {
                Some(Token::Identifier(part)) => name.push_str(part),
                Some(Token::Word(word)) => name.push_str(word),
                _ => return Err(self.unexpected("a type name")),
            }
            self.pos += 1;
            if self.peek_symbol(Symbol::Dot) {
                self.pos += 1;
                name.push('.');
            } else {
                return Ok(name);
            }
        }
    }

    fn inline_list_or_map(&mut self) -> Result<Expr> {
        self.expect_symbol(Symbol::LeftBrace)?;
        if self.eat_symbol(Symbol::RightBrace) {
            return Ok(Expr::InlineList(Vec::new()));
        }
        if self.eat_symbol(Symbol::Colon) {
            self.expect_symbol(Symbol::RightBrace)?;
            return Ok(Expr::InlineMap(Vec::new()));
        }
        let first = self.expression()?;
        if self.eat_symbol(Symbol::Colon) {
            let mut entries = vec![(map_key(first), self.expression()?)];
            while self.eat_symbol(Symbol::Comma) {
                let key = self.expression()?;
                self.expect_symbol(Symbol::Colon)?;
                entries.push((map_key(key), self.expression()?));
            }
            self.expect_symbol(Symbol::RightBrace)?;
            return Ok(Expr::InlineMap(entries));
        }
        let mut items = vec![first];
        while self.eat_symbol(Symbol::Comma) {
            items.push(self.expression()?);
        }
        self.expect_symbol(Symbol::RightBrace)?;
        Ok(Expr::InlineList(items))
    }
}

fn fold(first: Expr, rest: Vec<(ArithmeticOp, Expr)>) -> Expr {
    if rest.is_empty() {
        first
    } else {
        Expr::Fold {
            first: Box::new(first),
            rest,
        }
    }
}

fn map_key(expr: Expr) -> MapKey {
    match expr {
        Expr::Property(name) => MapKey::Name(name),
        other => MapKey::Expr(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_navigation_as_steps() {
        let expr = parse("trigger.parameters['env']?.length()").unwrap();
        let Expr::Navigate { target, steps } = expr else {
            panic!("not a navigation")
        };
        assert_eq!(*target, Expr::Property("trigger".into()));
        assert_eq!(steps.len(), 3);
    }

    #[test]
    fn refuses_side_effects() {
        assert!(parse("a = 1").is_err());
        assert!(parse("a++").is_err());
        assert!(parse("@bean").is_ok());
        assert!(parse("new int[3]").is_err());
    }

    #[test]
    fn trailing_comma_in_arguments_is_accepted() {
        assert!(parse("#f(1,)").is_ok());
        assert!(parse("#f(,1)").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(parse(&deep).unwrap_err().message.contains("nests deeper"));
        let wide = vec!["1"; 3000].join("+");
        assert!(parse(&wide).is_ok());
        let unary = format!("{}true", "!".repeat(200));
        assert!(parse(&unary).is_err());
    }

    #[test]
    fn relational_operators_do_not_chain() {
        assert!(parse("1 < 2 < 3").is_err());
    }
}
