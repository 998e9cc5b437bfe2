//! `synth`'s arguments into [`SynthOptions`].

use crate::cli::SynthArgs;
use tokenmeter::commands::synth::SynthOptions;
use tokenmeter::gguf::ShapeOverrides;

pub fn synth(a: SynthArgs) -> SynthOptions {
    SynthOptions {
        shape: a.shape,
        weight_type: a.weight_type,
        seed: a.seed,
        overrides: ShapeOverrides {
            n_layer: a.layers,
            n_embd: a.embd,
            n_head: a.heads,
            n_head_kv: a.kv_heads,
            n_ff: a.ff,
            n_vocab: a.vocab,
            n_ctx: a.ctx,
        },
        output: a.output,
        dry_run: a.dry_run,
    }
}
