//! Validation of pipeline configs (filled in by the validation work).
