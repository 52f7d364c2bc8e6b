//! The one door to the shell: `window.__TAURI__.core.invoke` and
//! `window.__TAURI__.event.listen`, typed with the protocol's shapes.

use bench_protocol::desktop::{ShellError, ShellErrorKind};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = ["window", "__TAURI__", "core"], js_name = invoke)]
    async fn tauri_invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_namespace = ["window", "__TAURI__", "event"], js_name = listen)]
    async fn tauri_listen(
        event: &str,
        handler: &Closure<dyn FnMut(JsValue)>,
    ) -> Result<JsValue, JsValue>;
}

/// Calls shell command `cmd` with `args` (an object whose keys are the
/// camelCase argument names) and decodes its answer.
pub async fn invoke<A, R>(cmd: &str, args: &A) -> Result<R, ShellError>
where
    A: Serialize + ?Sized,
    R: DeserializeOwned,
{
    // json_compatible: maps become plain objects, which is what Tauri's
    // argument parser expects.
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    let args = args.serialize(&serializer).map_err(|_| ui_bug(cmd))?;
    let answer = tauri_invoke(cmd, args).await.map_err(shell_error)?;
    serde_wasm_bindgen::from_value(answer).map_err(|_| ui_bug(cmd))
}

/// Calls a command that takes no arguments.
pub async fn invoke0<R: DeserializeOwned>(cmd: &str) -> Result<R, ShellError> {
    invoke(cmd, &NoArgs {}).await
}

#[derive(Serialize)]
struct NoArgs {}

/// Subscribes to a shell event for the life of the page. Returns `false`
/// when the shell refused (the caller then falls back to polling).
pub async fn listen<T, F>(event: &'static str, mut on_payload: F) -> bool
where
    T: DeserializeOwned,
    F: FnMut(T) + 'static,
{
    let handler = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let payload = js_sys::Reflect::get(&event, &JsValue::from_str("payload"));
        if let Some(payload) = payload
            .ok()
            .and_then(|p| serde_wasm_bindgen::from_value(p).ok())
        {
            on_payload(payload);
        }
    });
    let subscribed = tauri_listen(event, &handler).await.is_ok();
    // The subscription lasts as long as the window: the closure must too.
    handler.forget();
    subscribed
}

/// Errors come back as a serialised `ShellError`; Tauri's own refusals (a
/// command not allowed, bad arguments) come back as plain strings.
fn shell_error(raw: JsValue) -> ShellError {
    if let Ok(error) = serde_wasm_bindgen::from_value::<ShellError>(raw.clone()) {
        return error;
    }
    let message = raw
        .as_string()
        .unwrap_or_else(|| "The app did not answer.".into());
    ShellError {
        kind: ShellErrorKind::Other,
        message,
    }
}

fn ui_bug(cmd: &str) -> ShellError {
    ShellError {
        kind: ShellErrorKind::Other,
        message: format!(
            "The window and the app disagree about `{cmd}`. Restart Doctor's Bench; \
             if it happens again, reinstall it."
        ),
    }
}
