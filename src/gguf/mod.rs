//! GGUF files: validating and summarising them (`inspect`) and writing synthetic models (`synth`).

pub mod check;
pub mod inspect;
pub mod shapes;
pub mod synth;

pub use inspect::{read_model_info, read_model_info_from, sha256_file, ModelFileError, ModelInfo};
pub use shapes::{Shape, ShapeError, ShapeOverrides};
pub use synth::{SynthPlan, SynthSpec, WeightType};
