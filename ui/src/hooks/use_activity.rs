//! Tells the shell when the person touches keyboard or pointer, so the idle
//! lock measures real inactivity.

use std::cell::Cell;
use std::rc::Rc;

use bench_protocol::desktop::commands;
use gloo::events::EventListener;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::ipc;

/// At most one `activity` call per this many milliseconds: pointer moves
/// fire dozens of events a second, and the idle timeout is minutes long.
const THROTTLE_MS: f64 = 5_000.0;

/// The events that count as a person being there. Polls and timers are not
/// among them.
const ACTIVITY_EVENTS: [&str; 4] = ["keydown", "pointerdown", "pointermove", "wheel"];

/// Listens on the document for as long as the component lives.
#[hook]
pub fn use_activity() {
    use_effect_with((), |_| {
        let last_sent = Rc::new(Cell::new(f64::NEG_INFINITY));
        let document = gloo::utils::document();
        let listeners: Vec<EventListener> = ACTIVITY_EVENTS
            .iter()
            .map(|&name| {
                let last_sent = last_sent.clone();
                EventListener::new(&document, name, move |_| {
                    let now = js_sys::Date::now();
                    if now - last_sent.get() < THROTTLE_MS {
                        return;
                    }
                    last_sent.set(now);
                    spawn_local(async {
                        // A failed notice is harmless: the next one follows
                        // within seconds of further input.
                        let _ = ipc::invoke0::<()>(commands::ACTIVITY).await;
                    });
                })
            })
            .collect();
        move || drop(listeners)
    });
}
