//! A fake OpenAI-compatible server on 127.0.0.1 (port 0) for `load --endpoint`: `GET /v1/models`, `GET /version`
//! (`/props` answers 404), and completions streamed as chunked server-sent events on a script, each connection on a
//! thread of its own with a read timeout.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the fake server does with one completion request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    /// Streams `max_tokens` one-token chunks 2 ms apart, then the usage and `[DONE]`.
    Stream,
    /// As `Stream`, but its second chunk carries two tokens (one chunk fewer; the usage counts them all).
    TwoTokenChunk,
    /// Answers 500 with a body that repeats the request's Authorization header.
    Status500,
    /// Streams two chunks, then sends nothing for 4 s.
    Stall,
    /// Streams two chunks, then resets the connection.
    Reset,
    /// Streams one chunk, then a data line that is not JSON.
    Malformed,
    /// The server dies: this connection is closed unanswered and the port stops listening.
    Die,
    /// As `Stream`, with no pause between chunks: a server that answers instantly (the client's own ceiling).
    Instant,
    /// As `TwoTokenChunk`, with no `usage` chunk: the output is counted at `POST /tokenize`.
    NoUsage,
}

#[derive(Default)]
pub struct Seen {
    pub completions: AtomicUsize,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub authorization: Mutex<Vec<String>>,
    /// The `prompt` of each completions request.
    pub prompts: Mutex<Vec<Value>>,
    dead: AtomicBool,
}

/// A fake server acting `script(n)` on its n-th completion request; its address and what it saw.
pub fn serve(script: fn(usize) -> Act) -> (String, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    // polled, so that a dying server closes its port (later connections are refused)
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !s.dead.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((conn, _)) => {
                    conn.set_nonblocking(false).unwrap();
                    let s = s.clone();
                    std::thread::spawn(move || answer(conn, script, &s));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    });
    (addr, seen)
}

/// The request line, headers (lower-case names) and body of one request.
fn read_request(conn: &TcpStream) -> Option<(String, Vec<(String, String)>, String)> {
    let mut r = BufReader::new(conn);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap_or(0));
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some((line, headers, String::from_utf8_lossy(&body).into_owned()))
}

fn respond(conn: &mut TcpStream, status: &str, content_type: &str, body: &str) {
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nServer: fake-openai/1.0\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
}

fn chunk(content: &str) -> String {
    format!(
        "data: {}\n\n",
        serde_json::json!({"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]})
    )
}

fn answer(mut conn: TcpStream, script: fn(usize) -> Act, seen: &Seen) {
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let Some((line, headers, body)) = read_request(&conn) else {
        return;
    };
    let auth = headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.clone());
    if let Some(a) = &auth {
        seen.authorization.lock().unwrap().push(a.clone());
    }
    if line.starts_with("GET /v1/models") {
        return respond(
            &mut conn,
            "200 OK",
            "application/json",
            r#"{"object":"list","data":[{"id":"fake-model","object":"model","meta":{"n_vocab":50}}]}"#,
        );
    }
    if line.starts_with("GET /version") {
        return respond(
            &mut conn,
            "200 OK",
            "application/json",
            r#"{"version":"9.9.9"}"#,
        );
    }
    if line.starts_with("POST /tokenize") {
        // one token per "tok" in the content
        let req: Value = serde_json::from_str(&body).unwrap();
        let n = req["content"].as_str().unwrap().matches("tok").count();
        let tokens: Vec<usize> = (0..n).collect();
        return respond(
            &mut conn,
            "200 OK",
            "application/json",
            &serde_json::json!({ "tokens": tokens }).to_string(),
        );
    }
    let completions = line.starts_with("POST /v1/completions");
    if !line.starts_with("POST /v1/chat/completions") && !completions {
        return respond(&mut conn, "404 Not Found", "text/plain", "not found");
    }
    if completions {
        let req: Value = serde_json::from_str(&body).unwrap();
        seen.prompts.lock().unwrap().push(req["prompt"].clone());
    }
    let n = seen.completions.fetch_add(1, Ordering::SeqCst);
    if script(n) == Act::Die {
        seen.dead.store(true, Ordering::SeqCst);
        return;
    }
    let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
    stream(&mut conn, script(n), &body, auth.as_deref(), completions);
    seen.in_flight.fetch_sub(1, Ordering::SeqCst);
}

fn stream(conn: &mut TcpStream, act: Act, body: &str, auth: Option<&str>, completions: bool) {
    let chunk = |content: &str| {
        if completions {
            format!(
                "data: {}\n\n",
                serde_json::json!({"choices": [{"index": 0, "text": content, "finish_reason": null}]})
            )
        } else {
            chunk(content)
        }
    };
    let req: Value = serde_json::from_str(body).unwrap();
    let tokens = req["max_tokens"].as_u64().unwrap() as usize;
    if act == Act::Status500 {
        let echo = format!(
            r#"{{"error":"overloaded (you sent {})"}}"#,
            auth.unwrap_or("no key")
        );
        return respond(conn, "500 Internal Server Error", "application/json", &echo);
    }
    // chunked, as llama-server and vLLM stream
    let _ = write!(
        conn,
        "HTTP/1.1 200 OK\r\nServer: fake-openai/1.0\r\nContent-Type: text/event-stream\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let pause = if act == Act::Instant {
        Duration::ZERO
    } else {
        Duration::from_millis(2)
    };
    let mut send = |s: &str| {
        let _ = write!(conn, "{:x}\r\n{s}\r\n", s.len());
        let _ = conn.flush();
        std::thread::sleep(pause);
    };
    send(&format!(
        "data: {}\n\n",
        serde_json::json!({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
    ));
    let mut sent = 0;
    while sent < tokens {
        match act {
            Act::Stall if sent == 2 => {
                std::thread::sleep(Duration::from_secs(4));
                return;
            }
            Act::Reset if sent == 2 => {
                // SO_LINGER 0: close sends RST instead of FIN
                let linger = libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                };
                use std::os::fd::AsRawFd;
                // SAFETY: a valid socket descriptor and a `linger` of the size passed.
                unsafe {
                    libc::setsockopt(
                        conn.as_raw_fd(),
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        &linger as *const libc::linger as *const libc::c_void,
                        std::mem::size_of::<libc::linger>() as libc::socklen_t,
                    );
                }
                return;
            }
            Act::Malformed if sent == 1 => {
                send("data: {\"choices\": [ not json\n\n");
                return;
            }
            Act::TwoTokenChunk | Act::NoUsage if sent == 1 && tokens >= 3 => {
                send(&chunk("tok tok"));
                sent += 2;
            }
            _ => {
                send(&chunk("tok"));
                sent += 1;
            }
        }
    }
    send(&format!(
        "data: {}\n\n",
        serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
    ));
    if act != Act::NoUsage {
        send(&format!(
            "data: {}\n\n",
            serde_json::json!({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": tokens}})
        ));
    }
    send("data: [DONE]\n\n");
    let _ = conn.write_all(b"0\r\n\r\n");
}
