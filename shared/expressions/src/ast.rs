//! The parsed form of one expression.
//!
//! Chains of same-precedence operators (`a + b - c`, `a and b and c`) are kept as flat lists and
//! navigation (`a.b[0].c()`) as a list of steps, so the tree's depth only grows with real
//! nesting (parentheses, arguments, unary operators) — which the parser bounds.

use std::rc::Rc;

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Str(Rc<str>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Literal),
    /// `{1, 2}`; `{}` is an empty list.
    InlineList(Vec<Expr>),
    /// `{a: 1, 'b': 2}`; `{:}` is an empty map.
    InlineMap(Vec<(MapKey, Expr)>),
    /// A bare name, read from the active object (the root, or the element inside a
    /// selection/projection).
    Property(String),
    /// A bare method call on the active object.
    MethodCall {
        name: String,
        args: Vec<Expr>,
    },
    /// `#this`, `#root` or another variable (unknown variables are null, as in SpEL).
    Variable(String),
    /// `#name(args)`: a helper function.
    FunctionCall {
        name: String,
        args: Vec<Expr>,
    },
    /// `T(java.lang.Integer)`.
    TypeReference(String),
    /// `@name` / `&name`: Spring parses it; evaluation fails (there is no bean resolver).
    BeanReference(String),
    /// `new java.util.Date()`.
    Constructor {
        type_name: String,
        args: Vec<Expr>,
    },
    /// `target.step.step…`
    Navigate {
        target: Box<Expr>,
        steps: Vec<Step>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    /// A left-associative run of `+ -` or `* / %` operators.
    Fold {
        first: Box<Expr>,
        rest: Vec<(ArithmeticOp, Expr)>,
    },
    /// `and`/`or` over two or more operands, short-circuiting.
    Logical {
        op: LogicalOp,
        operands: Vec<Expr>,
    },
    /// Relational operators, `matches`, `instanceof`, `between` and `^` (none associate).
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Ternary {
        condition: Box<Expr>,
        when_true: Box<Expr>,
        when_false: Box<Expr>,
    },
    /// `value ?: fallback` — the fallback when value is null or an empty string.
    Elvis {
        value: Box<Expr>,
        fallback: Box<Expr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum MapKey {
    /// A bare identifier key is its own name (`{a: 1}` has key "a").
    Name(String),
    Expr(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Property {
        name: String,
        null_safe: bool,
    },
    Method {
        name: String,
        args: Vec<Expr>,
        null_safe: bool,
    },
    Index {
        index: Expr,
        null_safe: bool,
    },
    Select {
        kind: SelectionKind,
        condition: Expr,
        null_safe: bool,
    },
    Project {
        expression: Expr,
        null_safe: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectionKind {
    /// `.?[…]`
    All,
    /// `.^[…]`
    First,
    /// `.$[…]`
    Last,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Plus,
    Minus,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithmeticOp {
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicalOp {
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    Matches,
    InstanceOf,
    Between,
    Power,
}
