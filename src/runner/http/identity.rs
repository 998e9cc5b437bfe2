//! What a server says it is, asked once before the first level: the models `GET <endpoint>/models` lists, its
//! `server` header, llama-server's `GET /props` and vLLM's `GET /version`. Each question that is not answered
//! (a 404, a timeout, an answer that is not JSON) leaves its field absent.

use super::HttpTarget;
use crate::results::http::ServerIdentity;
use std::time::Duration;

/// The time each question gets.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// What the measurement over HTTP does not check, as the result states it.
pub const NOT_CHECKED: &str =
    "measured over HTTP: no numerics gate and no self-test (the server's own \
     configuration decides what it computes); `build` is tokenmeter's llama.cpp, not the server's";

/// The answers to one GET: its JSON body (when it was 200 and JSON) and its `server` header.
fn ask(
    agent: &ureq::Agent,
    target: &HttpTarget,
    url: &str,
) -> (Option<serde_json::Value>, Option<String>) {
    let Ok(response) = target.with_key(agent.get(url)).call() else {
        return (None, None);
    };
    let server = response
        .headers()
        .get("server")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if response.status().as_u16() != 200 {
        return (None, server);
    }
    let body = response
        .into_body()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .ok();
    (body.and_then(|b| serde_json::from_str(&b).ok()), server)
}

/// Asks the server at `target` what it is; `served_model` is the flag's, else the first model it lists.
pub fn identify(target: &HttpTarget) -> (ServerIdentity, Option<String>) {
    let agent = target.agent_with(ASK_TIMEOUT, 1);
    let (models_json, header) = ask(&agent, target, &format!("{}/models", target.endpoint));
    let models: Option<Vec<String>> = models_json.as_ref().and_then(|v| {
        let list = v.get("data").or_else(|| v.get("models"))?.as_array()?;
        Some(
            list.iter()
                .filter_map(|m| m.get("id").or_else(|| m.get("name"))?.as_str())
                .map(str::to_string)
                .collect(),
        )
    });
    let root = target.root();
    let (props_json, props_header) = ask(&agent, target, &format!("{root}/props"));
    let props = props_json.map(|p| {
        let n_ctx = p
            .pointer("/default_generation_settings/n_ctx")
            .or_else(|| p.get("n_ctx"))
            .cloned();
        serde_json::json!({
            "build_info": p.get("build_info"),
            "model_path": p.get("model_path"),
            "total_slots": p.get("total_slots"),
            "n_ctx": n_ctx,
        })
    });
    let (version, version_header) = ask(&agent, target, &format!("{root}/version"));
    let tokenize = super::client::count_tokens(&agent, target, "hello").is_some();
    let served = target
        .served_model
        .clone()
        .or_else(|| models.as_ref().and_then(|m| m.first().cloned()));
    // llama-server states each model's vocabulary under `meta`
    let n_vocab = models_json.as_ref().and_then(|v| {
        let list = v.get("data")?.as_array()?;
        let m = list
            .iter()
            .find(|m| m.get("id").and_then(|i| i.as_str()) == served.as_deref())
            .or_else(|| list.first())?;
        u32::try_from(m.pointer("/meta/n_vocab")?.as_u64()?).ok()
    });
    let identity = ServerIdentity {
        endpoint: target.shown(),
        api: target.api.name().to_string(),
        served_model: served.clone().unwrap_or_default(),
        api_key_env: target.api_key_env.clone(),
        models,
        server_header: header.or(props_header).or(version_header),
        props,
        version: version.filter(|v| v.is_object()),
        n_vocab,
        tokenize,
        on_this_machine: target.on_this_machine(),
        not_checked: NOT_CHECKED.to_string(),
    };
    (identity, served)
}
