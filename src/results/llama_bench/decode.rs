//! A record from one JSON object: the known fields typed, each refusal naming the field, what was expected and
//! what was found; every other field kept as read.

use super::LlamaBenchRecord;
use serde_json::{Map, Value};

/// Takes a field out of `map`, `None` when absent or null.
fn take(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    map.remove(name).filter(|v| !v.is_null())
}

fn string(map: &mut Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match take(map, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(format!("{name}: expected a string, got {}", short(&v))),
    }
}

fn integer<T: TryFrom<i64> + TryFrom<u64>>(
    map: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<T>, String> {
    let Some(v) = take(map, name) else {
        return Ok(None);
    };
    let out_of_range = || {
        format!(
            "{name}: expected an integer from {} to {}, got {}",
            range_of::<T>().0,
            range_of::<T>().1,
            short(&v)
        )
    };
    if let Some(i) = v.as_i64() {
        T::try_from(i).map(Some).map_err(|_| out_of_range())
    } else if let Some(u) = v.as_u64() {
        T::try_from(u).map(Some).map_err(|_| out_of_range())
    } else {
        Err(out_of_range())
    }
}

/// The range of an integer type, found by probing (the types here are the standard signed and unsigned ones).
fn range_of<T: TryFrom<i64> + TryFrom<u64>>() -> (i128, i128) {
    let min = [i64::MIN, i32::MIN as i64, i8::MIN as i64, 0]
        .into_iter()
        .find(|&x| T::try_from(x).is_ok())
        .unwrap_or(0) as i128;
    let max = [
        u64::MAX,
        i64::MAX as u64,
        u32::MAX as u64,
        i32::MAX as u64,
        i8::MAX as u64,
    ]
    .into_iter()
    .find(|&x| T::try_from(x).is_ok())
    .unwrap_or(0) as i128;
    (min, max)
}

fn number(map: &mut Map<String, Value>, name: &str) -> Result<Option<f64>, String> {
    match take(map, name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or_else(|| format!("{name}: expected a number, got {}", short(&v))),
    }
}

fn array<T>(
    map: &mut Map<String, Value>,
    name: &str,
    item: impl Fn(&Value) -> Option<T>,
    what: &str,
) -> Result<Vec<T>, String> {
    match take(map, name) {
        None => Ok(Vec::new()),
        Some(Value::Array(xs)) => xs
            .iter()
            .enumerate()
            .map(|(i, x)| {
                item(x).ok_or_else(|| format!("{name}[{i}]: expected {what}, got {}", short(x)))
            })
            .collect(),
        Some(v) => Err(format!("{name}: expected an array, got {}", short(&v))),
    }
}

/// A value for an error message, cut to a readable length.
fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

pub(super) fn from_value(v: Value) -> Result<LlamaBenchRecord, String> {
    let Value::Object(mut m) = v else {
        return Err(format!("expected a record object, got {}", short(&v)));
    };
    let required = |m: &mut Map<String, Value>, name: &str| -> Result<u32, String> {
        integer::<u32>(m, name)?.ok_or_else(|| format!("missing {name}"))
    };
    let flash_attn = match take(&mut m, "flash_attn") {
        Some(Value::Bool(b)) => Some(i8::from(b)),
        Some(v) => {
            m.insert("flash_attn".into(), v);
            let fa = integer::<i8>(&mut m, "flash_attn")?;
            if let Some(x) = fa.filter(|x| !(-1..=1).contains(x)) {
                return Err(format!("flash_attn: expected -1, 0 or 1, got {x}"));
            }
            fa
        }
        None => None,
    };
    Ok(LlamaBenchRecord {
        n_prompt: required(&mut m, "n_prompt")?,
        n_gen: required(&mut m, "n_gen")?,
        n_depth: integer(&mut m, "n_depth")?.unwrap_or(0),
        build_commit: string(&mut m, "build_commit")?,
        build_number: integer(&mut m, "build_number")?,
        cpu_info: string(&mut m, "cpu_info")?,
        gpu_info: string(&mut m, "gpu_info")?,
        backends: string(&mut m, "backends")?,
        model_filename: string(&mut m, "model_filename")?,
        model_type: string(&mut m, "model_type")?,
        model_size: integer(&mut m, "model_size")?,
        model_n_params: integer(&mut m, "model_n_params")?,
        n_batch: integer(&mut m, "n_batch")?,
        n_ubatch: integer(&mut m, "n_ubatch")?,
        n_threads: integer(&mut m, "n_threads")?,
        type_k: string(&mut m, "type_k")?,
        type_v: string(&mut m, "type_v")?,
        n_gpu_layers: integer(&mut m, "n_gpu_layers")?,
        flash_attn,
        test_time: string(&mut m, "test_time")?,
        avg_ns: number(&mut m, "avg_ns")?,
        stddev_ns: number(&mut m, "stddev_ns")?,
        avg_ts: number(&mut m, "avg_ts")?,
        stddev_ts: number(&mut m, "stddev_ts")?,
        samples_ns: array(&mut m, "samples_ns", Value::as_u64, "a whole number of ns")?,
        samples_ts: array(
            &mut m,
            "samples_ts",
            |x| x.as_f64().filter(|x| x.is_finite()),
            "a number",
        )?,
        other: m.into_iter().collect(),
    })
}
