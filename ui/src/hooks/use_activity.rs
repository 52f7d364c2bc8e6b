//! Tells the shell when the person touches keyboard or pointer, so the idle
//! lock measures real inactivity.

use std::cell::Cell;
use std::rc::Rc;

use bench_protocol::desktop::commands;
use gloo::events::EventListener;
use wasm_bindgen::JsCast;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::ipc;

/// At most one `activity` call per this many milliseconds: pointer moves
/// fire dozens of events a second, and the idle timeout is minutes long.
const THROTTLE_MS: f64 = 5_000.0;

/// The events that count as a person being there. Polls and timers are not
/// among them.
const ACTIVITY_EVENTS: [&str; 4] = ["keydown", "pointerdown", "pointermove", "wheel"];

/// How far (in screen pixels, summed over both axes) the pointer must have
/// travelled since the last counted move for a move to count.
const MIN_MOVE_PX: i32 = 3;

/// Whether a pointer move at `now` is the person moving the pointer.
///
/// WebKit also fires pointer moves when the page changes under a pointer
/// that rests on the window (hover state is recomputed after every layout,
/// e.g. when a background sync re-renders the client list). Those arrive at
/// the position already seen; counting them would keep an unattended laptop
/// unlocked forever.
pub fn pointer_really_moved(last_counted: Option<(i32, i32)>, now: (i32, i32)) -> bool {
    match last_counted {
        None => true,
        Some((x, y)) => (now.0 - x).abs() + (now.1 - y).abs() >= MIN_MOVE_PX,
    }
}

/// Listens on the document for as long as the component lives.
#[hook]
pub fn use_activity() {
    use_effect_with((), |_| {
        let last_sent = Rc::new(Cell::new(f64::NEG_INFINITY));
        let last_pointer = Rc::new(Cell::new(None::<(i32, i32)>));
        let document = gloo::utils::document();
        let listeners: Vec<EventListener> = ACTIVITY_EVENTS
            .iter()
            .map(|&name| {
                let last_sent = last_sent.clone();
                let last_pointer = last_pointer.clone();
                EventListener::new(&document, name, move |event| {
                    if name == "pointermove" {
                        let Some(mouse) = event.dyn_ref::<web_sys::MouseEvent>() else {
                            return;
                        };
                        let at = (mouse.screen_x(), mouse.screen_y());
                        if !pointer_really_moved(last_pointer.get(), at) {
                            return;
                        }
                        last_pointer.set(Some(at));
                    }
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

#[cfg(test)]
mod tests {
    use super::pointer_really_moved;

    #[test]
    fn a_pointer_move_at_the_same_spot_is_not_activity() {
        assert!(!pointer_really_moved(Some((400, 300)), (400, 300)));
        assert!(!pointer_really_moved(Some((400, 300)), (401, 301)));
    }

    #[test]
    fn a_pointer_that_travelled_is_activity() {
        assert!(pointer_really_moved(None, (400, 300)));
        assert!(pointer_really_moved(Some((400, 300)), (403, 300)));
        assert!(pointer_really_moved(Some((400, 300)), (390, 310)));
    }
}
