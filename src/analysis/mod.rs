//! Pure analysis of measured samples: SLO checks, goodput and the operating point of a `load` sweep, and energy
//! per case, phase and level from the sensors' windows. No I/O, no
//! clocks, no engine: inputs are the result file's own types, so a summary can be recomputed from any file.

pub mod compare;
pub mod load;
