//! `java.util.Random` and `Math.random()`: random numbers from the operating system's
//! randomness (no seed an expression could choose or predict).

use crate::error::{ErrorKind, ExpressionError, Result};
use crate::javatypes::arg_i64;
use crate::value::Val;

/// Methods of a `Random` value.
pub fn call_random_method<'a>(
    target: &Val<'a>,
    name: &str,
    args: &[Val<'a>],
) -> Option<Result<Val<'a>>> {
    if !matches!(target, Val::Random) {
        return None;
    }
    let what = format!("{}.{name}", target.type_name());
    let result = match (name, args.len()) {
        ("nextInt", 0) => Ok(Val::Int(random_u64() as i32)),
        ("nextInt", 1) => arg_i64(args, 0, &what).and_then(|bound| {
            if bound <= 0 {
                Err(ExpressionError::new(
                    ErrorKind::IllegalArgument,
                    "bound must be positive",
                ))
            } else {
                Ok(Val::Int((random_u64() % bound as u64) as i32))
            }
        }),
        ("nextLong", 0) => Ok(Val::Long(random_u64() as i64)),
        ("nextDouble", 0) => Ok(Val::Double(random_unit())),
        ("nextBoolean", 0) => Ok(Val::Bool(random_u64() & 1 == 1)),
        _ => return None,
    };
    Some(result)
}

fn random_u64() -> u64 {
    // uuid's v4 generator draws from the operating system's randomness.
    uuid::Uuid::new_v4().as_u64_pair().0
}

pub(crate) fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}
