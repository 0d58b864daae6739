//! Tokens of the expression language (the text inside one `${…}`), following Spring's
//! `Tokenizer`: `'…'` and `"…"` strings with doubled-quote escapes (no backslash escapes),
//! int/long/real literals, and the textual operators `and or not eq ne lt le gt ge div mod`
//! (case-insensitive).

use crate::error::{ExpressionError, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Str(String),
    Identifier(String),
    /// A keyword-like operator written as a word (`and`, `lt`, `matches`, ...), lower-cased.
    Word(&'static str),
    Symbol(Symbol),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symbol {
    Dot,
    SafeNavigation, // ?.
    Select,         // ?[  (written after a dot: `list.?[…]`)
    SelectFirst,    // ^[
    SelectLast,     // $[
    Project,        // ![
    Comma,
    Colon,
    Question,
    Elvis, // ?:
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    LeftBrace,
    RightBrace,
    Hash,
    At,
    Ampersand,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Caret,
    Bang,
    Equal, // ==
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    And, // &&
    Or,  // ||
    Assign,
    Increment,
    Decrement,
    Pipe,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    pub token: Token,
    /// Character offset, for error messages.
    pub position: usize,
}

/// Words that act as operators when they are not a property name after a dot.
const WORD_OPERATORS: [&str; 14] = [
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "div",
    "mod",
    "matches",
    "instanceof",
    "between",
];

pub fn tokenize(text: &str) -> Result<Vec<Spanned>> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens: Vec<Spanned> = Vec::new();
    let mut pos = 0;
    while pos < chars.len() {
        let c = chars[pos];
        let start = pos;
        if c.is_whitespace() {
            pos += 1;
            continue;
        }
        let token = if c == '\'' || c == '"' {
            let (literal, next) = lex_string(&chars, pos)?;
            pos = next;
            Token::Str(literal)
        } else if c.is_ascii_digit() {
            let (number, next) = lex_number(&chars, pos)?;
            pos = next;
            number
        } else if is_identifier_start(c) && !(c == '$' && chars.get(pos + 1) == Some(&'[')) {
            let mut end = pos + 1;
            while end < chars.len() && is_identifier_part(chars[end]) {
                end += 1;
            }
            let word: String = chars[pos..end].iter().collect();
            pos = end;
            let after_dot = matches!(
                tokens.last(),
                Some(Spanned {
                    token: Token::Symbol(Symbol::Dot | Symbol::SafeNavigation | Symbol::Hash),
                    ..
                })
            );
            let lower = word.to_ascii_lowercase();
            match WORD_OPERATORS.iter().find(|op| **op == lower) {
                Some(op) if !after_dot => Token::Word(op),
                _ => Token::Identifier(word),
            }
        } else {
            let (symbol, width) = lex_symbol(&chars, pos)?;
            pos += width;
            Token::Symbol(symbol)
        };
        tokens.push(Spanned {
            token,
            position: start,
        });
    }
    Ok(tokens)
}

fn is_identifier_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_identifier_part(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

fn lex_string(chars: &[char], start: usize) -> Result<(String, usize)> {
    let quote = chars[start];
    let mut literal = String::new();
    let mut pos = start + 1;
    loop {
        match chars.get(pos) {
            None => {
                return Err(ExpressionError::parse(format!(
                    "Cannot find terminating {quote} for string starting at position {start}"
                )));
            }
            Some(&c) if c == quote => {
                if chars.get(pos + 1) == Some(&quote) {
                    literal.push(quote);
                    pos += 2;
                } else {
                    return Ok((literal, pos + 1));
                }
            }
            Some(&c) => {
                literal.push(c);
                pos += 1;
            }
        }
    }
}

fn lex_number(chars: &[char], start: usize) -> Result<(Token, usize)> {
    let mut pos = start;
    // Hexadecimal: 0x1F, 0x1FL
    if chars[pos] == '0' && matches!(chars.get(pos + 1), Some('x' | 'X')) {
        pos += 2;
        let digits_start = pos;
        while pos < chars.len() && chars[pos].is_ascii_hexdigit() {
            pos += 1;
        }
        let digits: String = chars[digits_start..pos].iter().collect();
        let is_long = matches!(chars.get(pos), Some('l' | 'L'));
        if is_long {
            pos += 1;
        }
        let value = u64::from_str_radix(&digits, 16)
            .map_err(|_| ExpressionError::parse(format!("Invalid hex literal 0x{digits}")))?;
        return if is_long {
            Ok((Token::Long(value as i64), pos))
        } else if value <= u32::MAX as u64 {
            Ok((Token::Int(value as u32 as i32), pos))
        } else {
            Err(ExpressionError::parse(format!(
                "The value '0x{digits}' cannot be parsed as an int"
            )))
        };
    }
    while pos < chars.len() && chars[pos].is_ascii_digit() {
        pos += 1;
    }
    let mut is_real = false;
    // A dot starts a fraction only when a digit follows (`1.toString()` is a method call).
    if chars.get(pos) == Some(&'.') && chars.get(pos + 1).is_some_and(|c| c.is_ascii_digit()) {
        is_real = true;
        pos += 1;
        while pos < chars.len() && chars[pos].is_ascii_digit() {
            pos += 1;
        }
    }
    if matches!(chars.get(pos), Some('e' | 'E')) {
        let mut exponent_end = pos + 1;
        if matches!(chars.get(exponent_end), Some('+' | '-')) {
            exponent_end += 1;
        }
        if chars.get(exponent_end).is_some_and(|c| c.is_ascii_digit()) {
            is_real = true;
            pos = exponent_end;
            while pos < chars.len() && chars[pos].is_ascii_digit() {
                pos += 1;
            }
        }
    }
    let literal: String = chars[start..pos].iter().collect();
    match chars.get(pos) {
        Some('l' | 'L') if !is_real => {
            let value = literal.parse::<i64>().map_err(|_| {
                ExpressionError::parse(format!("The value '{literal}' cannot be parsed as a long"))
            })?;
            Ok((Token::Long(value), pos + 1))
        }
        Some('f' | 'F') => {
            let value = literal.parse::<f32>().map_err(|_| {
                ExpressionError::parse(format!("The value '{literal}' cannot be parsed as a float"))
            })?;
            Ok((Token::Float(value), pos + 1))
        }
        Some('d' | 'D') => {
            let value = literal.parse::<f64>().map_err(|_| {
                ExpressionError::parse(format!(
                    "The value '{literal}' cannot be parsed as a double"
                ))
            })?;
            Ok((Token::Double(value), pos + 1))
        }
        _ if is_real => {
            let value = literal.parse::<f64>().map_err(|_| {
                ExpressionError::parse(format!(
                    "The value '{literal}' cannot be parsed as a double"
                ))
            })?;
            Ok((Token::Double(value), pos))
        }
        _ => {
            let value = literal.parse::<i32>().map_err(|_| {
                ExpressionError::parse(format!("The value '{literal}' cannot be parsed as an int"))
            })?;
            Ok((Token::Int(value), pos))
        }
    }
}

fn lex_symbol(chars: &[char], pos: usize) -> Result<(Symbol, usize)> {
    let c = chars[pos];
    let next = chars.get(pos + 1).copied();
    let after = chars.get(pos + 2).copied();
    use Symbol::*;
    let symbol = match (c, next, after) {
        ('.', ..) => (Dot, 1),
        ('?', Some('.'), _) => (SafeNavigation, 2),
        ('?', Some(':'), _) => (Elvis, 2),
        ('?', Some('['), _) => (Select, 2),
        ('^', Some('['), _) => (SelectFirst, 2),
        ('$', Some('['), _) => (SelectLast, 2),
        ('!', Some('['), _) => (Project, 2),
        ('?', ..) => (Question, 1),
        (',', ..) => (Comma, 1),
        (':', ..) => (Colon, 1),
        ('(', ..) => (LeftParen, 1),
        (')', ..) => (RightParen, 1),
        ('[', ..) => (LeftBracket, 1),
        (']', ..) => (RightBracket, 1),
        ('{', ..) => (LeftBrace, 1),
        ('}', ..) => (RightBrace, 1),
        ('#', ..) => (Hash, 1),
        ('@', ..) => (At, 1),
        ('&', Some('&'), _) => (And, 2),
        ('&', ..) => (Ampersand, 1),
        ('|', Some('|'), _) => (Or, 2),
        ('|', ..) => (Pipe, 1),
        ('+', Some('+'), _) => (Increment, 2),
        ('+', ..) => (Plus, 1),
        ('-', Some('-'), _) => (Decrement, 2),
        ('-', ..) => (Minus, 1),
        ('*', ..) => (Star, 1),
        ('/', ..) => (Slash, 1),
        ('%', ..) => (Percent, 1),
        ('^', ..) => (Caret, 1),
        ('!', Some('='), _) => (NotEqual, 2),
        ('!', ..) => (Bang, 1),
        ('=', Some('='), _) => (Equal, 2),
        ('=', ..) => (Assign, 1),
        ('<', Some('='), _) => (LessEqual, 2),
        ('<', ..) => (Less, 1),
        ('>', Some('='), _) => (GreaterEqual, 2),
        ('>', ..) => (Greater, 1),
        _ => {
            return Err(ExpressionError::parse(format!(
                "Unexpected character '{c}' at position {pos}"
            )));
        }
    };
    Ok(symbol)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Token> {
        tokenize(text)
            .unwrap()
            .into_iter()
            .map(|s| s.token)
            .collect()
    }

    #[test]
    fn strings_use_doubled_quotes() {
        assert_eq!(kinds("'it''s'"), vec![Token::Str("it's".into())]);
        assert_eq!(
            kinds(r#""say ""hi""""#),
            vec![Token::Str(r#"say "hi""#.into())]
        );
        assert_eq!(kinds(r"'a\nb'"), vec![Token::Str(r"a\nb".into())]);
        assert!(tokenize("'open").is_err());
    }

    #[test]
    fn numbers_are_typed() {
        assert_eq!(kinds("42"), vec![Token::Int(42)]);
        assert_eq!(kinds("42L"), vec![Token::Long(42)]);
        assert_eq!(kinds("1.5"), vec![Token::Double(1.5)]);
        assert_eq!(kinds("1.5f"), vec![Token::Float(1.5)]);
        assert_eq!(kinds("1e3"), vec![Token::Double(1000.0)]);
        assert_eq!(kinds("0x1F"), vec![Token::Int(31)]);
        assert!(tokenize("99999999999").is_err());
    }

    #[test]
    fn word_operators_are_property_names_after_a_dot() {
        assert_eq!(
            kinds("a.lt lt b"),
            vec![
                Token::Identifier("a".into()),
                Token::Symbol(Symbol::Dot),
                Token::Identifier("lt".into()),
                Token::Word("lt"),
                Token::Identifier("b".into()),
            ]
        );
    }
}
