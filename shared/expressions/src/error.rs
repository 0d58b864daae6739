//! The one error type of the crate.
//!
//! Every failure carries the name of the Java exception Orca would have recorded for it, so the
//! `exceptionType` of an `expressionEvaluationSummary` entry reads the same as in Spinnaker
//! (Deck and scripts sometimes match on it).

/// What went wrong, in the categories Orca's summary distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not a valid expression (or nests too deeply).
    Parse,
    /// The `${…}` template around the expressions is broken (unbalanced, unterminated).
    Template,
    /// `#readJson` and friends were given text that is not JSON.
    JsonParse,
    /// Evaluation failed inside the language: unknown property, bad operand types, refused
    /// type or method, evaluation budget exhausted, ...
    Evaluation,
    /// A helper function (`#stage`, `#readJson`, ...) refused its input.
    HelperFunction,
    /// Integer division or remainder by zero.
    Arithmetic,
    /// A string could not be read as a number (`#toInt('x')`, `T(Integer).parseInt('x')`).
    NumberFormat,
    /// A string index outside the string (`'abc'.substring(5)`).
    StringIndexOutOfBounds,
    /// An argument was refused, notably a URL by the URL policy.
    IllegalArgument,
}

impl ErrorKind {
    /// The Java exception class Orca reports for this kind of failure.
    pub fn java_exception_type(self) -> &'static str {
        match self {
            ErrorKind::Parse => "org.springframework.expression.spel.SpelParseException",
            ErrorKind::Template => "org.springframework.expression.ParseException",
            ErrorKind::JsonParse => "com.fasterxml.jackson.core.JsonParseException",
            ErrorKind::Evaluation => "org.springframework.expression.spel.SpelEvaluationException",
            ErrorKind::HelperFunction => {
                "com.netflix.spinnaker.kork.expressions.SpelHelperFunctionException"
            }
            ErrorKind::Arithmetic => "java.lang.ArithmeticException",
            ErrorKind::NumberFormat => "java.lang.NumberFormatException",
            ErrorKind::StringIndexOutOfBounds => "java.lang.StringIndexOutOfBoundsException",
            ErrorKind::IllegalArgument => "java.lang.IllegalArgumentException",
        }
    }
}

/// A parse or evaluation failure with a message meant for the pipeline author.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExpressionError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ExpressionError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ExpressionError {
            kind,
            message: message.into(),
        }
    }

    pub fn parse(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Parse, message)
    }

    pub fn eval(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Evaluation, message)
    }

    pub fn helper(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::HelperFunction, message)
    }

    /// The Java exception class name for the summary's `exceptionType`.
    pub fn exception_type(&self) -> &'static str {
        self.kind.java_exception_type()
    }
}

pub type Result<T, E = ExpressionError> = std::result::Result<T, E>;
