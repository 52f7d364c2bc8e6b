//! Just enough of the W3C WebDriver protocol to drive the desktop app:
//! sessions, finding elements by CSS, click, clear, type, text, page source.
//!
//! Written here rather than taken from a WebDriver crate so the tests add no
//! second TLS stack to the build: the driver is plain HTTP on loopback.

use serde_json::{json, Value};

/// The key under which W3C WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// What went wrong talking to the driver.
#[derive(Debug)]
pub struct WebDriverError {
    /// The W3C error code, e.g. `no such element`, or `http` for transport.
    pub error: String,
    /// The driver's message.
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

/// One WebDriver session: one app window.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

/// An element in the session's page.
pub struct Element<'a> {
    session: &'a Session,
    id: String,
}

impl Session {
    /// Starts a session on the driver at `driver_url` with `capabilities`.
    pub async fn new(driver_url: &str, capabilities: Value) -> Result<Session, WebDriverError> {
        let http = reqwest::Client::new();
        let answer = call(
            &http,
            reqwest::Method::POST,
            &format!("{driver_url}/session"),
            Some(json!({ "capabilities": { "alwaysMatch": capabilities } })),
        )
        .await?;
        let id = answer["sessionId"].as_str().ok_or_else(|| WebDriverError {
            error: "protocol".into(),
            message: format!("no sessionId in {answer}"),
        })?;
        Ok(Session {
            http,
            base: format!("{driver_url}/session/{id}"),
        })
    }

    /// The first element matching `css`, if there is one now.
    pub async fn find(&self, css: &str) -> Result<Element<'_>, WebDriverError> {
        let answer = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await?;
        let id = answer[ELEMENT_KEY].as_str().ok_or_else(|| WebDriverError {
            error: "protocol".into(),
            message: format!("no element reference in {answer}"),
        })?;
        Ok(Element {
            session: self,
            id: id.to_string(),
        })
    }

    /// The page's current HTML.
    pub async fn source(&self) -> Result<String, WebDriverError> {
        let answer = self.get("/source").await?;
        Ok(answer.as_str().unwrap_or_default().to_string())
    }

    /// Ends the session; the driver closes the app.
    pub async fn close(self) -> Result<(), WebDriverError> {
        call(&self.http, reqwest::Method::DELETE, &self.base, None)
            .await
            .map(drop)
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, WebDriverError> {
        call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}{path}", self.base),
            Some(body),
        )
        .await
    }

    async fn get(&self, path: &str) -> Result<Value, WebDriverError> {
        call(
            &self.http,
            reqwest::Method::GET,
            &format!("{}{path}", self.base),
            None,
        )
        .await
    }
}

impl Element<'_> {
    /// Clicks it.
    pub async fn click(&self) -> Result<(), WebDriverError> {
        self.session
            .post(&format!("/element/{}/click", self.id), json!({}))
            .await
            .map(drop)
    }

    /// Empties an input or textarea.
    pub async fn clear(&self) -> Result<(), WebDriverError> {
        self.session
            .post(&format!("/element/{}/clear", self.id), json!({}))
            .await
            .map(drop)
    }

    /// Types `text` into it, as key presses.
    pub async fn send_keys(&self, text: &str) -> Result<(), WebDriverError> {
        self.session
            .post(
                &format!("/element/{}/value", self.id),
                json!({ "text": text }),
            )
            .await
            .map(drop)
    }

    /// Its rendered text.
    pub async fn text(&self) -> Result<String, WebDriverError> {
        let answer = self
            .session
            .get(&format!("/element/{}/text", self.id))
            .await?;
        Ok(answer.as_str().unwrap_or_default().to_string())
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, WebDriverError> {
    let transport = |e: reqwest::Error| WebDriverError {
        error: "http".into(),
        message: e.to_string(),
    };
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(transport)?;
    let ok = response.status().is_success();
    let answer: Value = response.json().await.map_err(transport)?;
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if ok {
        Ok(value)
    } else {
        Err(WebDriverError {
            error: value["error"]
                .as_str()
                .unwrap_or("unknown error")
                .to_string(),
            message: value["message"].as_str().unwrap_or_default().to_string(),
        })
    }
}
