//! Server group capacity: validation and Orca's resize rules.

use serde::{Deserialize, Serialize};

/// An Auto Scaling group's `{min, max, desired}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub min: i32,
    pub max: i32,
    pub desired: i32,
}

/// Why a capacity is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapacityError {
    #[error("capacity.{field} must not be negative (got {value})")]
    Negative { field: &'static str, value: i32 },
    #[error("capacity.min ({min}) must not exceed capacity.max ({max})")]
    MinAboveMax { min: i32, max: i32 },
    #[error(
        "capacity.desired ({desired}) must be between capacity.min ({min}) and capacity.max ({max})"
    )]
    DesiredOutOfRange { min: i32, max: i32, desired: i32 },
}

impl Capacity {
    pub fn new(min: i32, max: i32, desired: i32) -> Result<Self, CapacityError> {
        let capacity = Self { min, max, desired };
        capacity.validate()?;
        Ok(capacity)
    }

    pub fn validate(&self) -> Result<(), CapacityError> {
        for (field, value) in [
            ("min", self.min),
            ("max", self.max),
            ("desired", self.desired),
        ] {
            if value < 0 {
                return Err(CapacityError::Negative { field, value });
            }
        }
        if self.min > self.max {
            return Err(CapacityError::MinAboveMax {
                min: self.min,
                max: self.max,
            });
        }
        if !(self.min..=self.max).contains(&self.desired) {
            return Err(CapacityError::DesiredOutOfRange {
                min: self.min,
                max: self.max,
                desired: self.desired,
            });
        }
        Ok(())
    }
}

/// Which way a relative resize goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// A resize request (`resizeServerGroup`'s `action` with `capacity`, `scalePct` or `scaleNum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    /// `scale_exact`: the given capacity.
    Exact(Capacity),
    /// `scale_up`/`scale_down` with `resizeType: "pct"`: by `percent` of the desired size.
    Percentage { direction: Direction, percent: u32 },
    /// `scale_up`/`scale_down` with `resizeType: "incr"`: by `count` instances.
    Increment { direction: Direction, count: u32 },
}

impl Resize {
    /// The capacity after this resize of `current`. A relative resize moves min, max and
    /// desired by the same number of instances (a percentage of the desired size, rounded
    /// up), never below zero — Orca's relative resize strategy.
    pub fn apply(&self, current: Capacity) -> Result<Capacity, CapacityError> {
        let (direction, delta) = match *self {
            Resize::Exact(capacity) => {
                capacity.validate()?;
                return Ok(capacity);
            }
            Resize::Percentage { direction, percent } => {
                let desired = u64::try_from(current.desired).unwrap_or(0);
                let delta = (desired * u64::from(percent)).div_ceil(100);
                (direction, i32::try_from(delta).unwrap_or(i32::MAX))
            }
            Resize::Increment { direction, count } => {
                (direction, i32::try_from(count).unwrap_or(i32::MAX))
            }
        };
        let moved = |value: i32| match direction {
            Direction::Up => value.saturating_add(delta),
            Direction::Down => value.saturating_sub(delta).max(0),
        };
        Capacity::new(
            moved(current.min),
            moved(current.max),
            moved(current.desired),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cap(min: i32, max: i32, desired: i32) -> Capacity {
        Capacity { min, max, desired }
    }

    #[test]
    fn validation_names_the_problem() {
        assert_eq!(
            Capacity::new(3, 2, 2).unwrap_err().to_string(),
            "capacity.min (3) must not exceed capacity.max (2)"
        );
        assert!(matches!(
            Capacity::new(1, 2, 5),
            Err(CapacityError::DesiredOutOfRange { .. })
        ));
        assert!(matches!(
            Capacity::new(-1, 2, 1),
            Err(CapacityError::Negative { field: "min", .. })
        ));
        assert!(Capacity::new(0, 0, 0).is_ok());
    }

    #[test]
    fn exact_resize_replaces_the_capacity() {
        let resized = Resize::Exact(cap(2, 5, 3)).apply(cap(1, 1, 1)).unwrap();
        assert_eq!(resized, cap(2, 5, 3));
        assert!(Resize::Exact(cap(5, 2, 3)).apply(cap(1, 1, 1)).is_err());
    }

    #[test]
    fn percentage_rounds_up_from_desired() {
        let up = Resize::Percentage {
            direction: Direction::Up,
            percent: 50,
        };
        assert_eq!(up.apply(cap(1, 5, 3)).unwrap(), cap(3, 7, 5));
        let down = Resize::Percentage {
            direction: Direction::Down,
            percent: 50,
        };
        assert_eq!(down.apply(cap(1, 5, 3)).unwrap(), cap(0, 3, 1));
    }

    #[test]
    fn increment_moves_all_three_and_stops_at_zero() {
        let up = Resize::Increment {
            direction: Direction::Up,
            count: 2,
        };
        assert_eq!(up.apply(cap(1, 2, 2)).unwrap(), cap(3, 4, 4));
        let down = Resize::Increment {
            direction: Direction::Down,
            count: 5,
        };
        assert_eq!(down.apply(cap(1, 4, 2)).unwrap(), cap(0, 0, 0));
    }

    proptest! {
        #[test]
        fn relative_resizes_keep_a_valid_capacity(
            min in 0i32..50, extra in 0i32..50, spread in 0i32..50,
            up in any::<bool>(), by_percent in any::<bool>(), amount in 0u32..300,
        ) {
            let current = cap(min, min + extra + spread, min + extra);
            let direction = if up { Direction::Up } else { Direction::Down };
            let resize = if by_percent {
                Resize::Percentage { direction, percent: amount }
            } else {
                Resize::Increment { direction, count: amount }
            };
            let resized = resize.apply(current).unwrap();
            prop_assert!(resized.validate().is_ok());
            if up { prop_assert!(resized.desired >= current.desired) } else { prop_assert!(resized.desired <= current.desired) }
        }
    }
}
