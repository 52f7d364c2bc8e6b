//! Puts the cursor in a screen's first field when it appears.

use web_sys::HtmlElement;
use yew::prelude::*;

/// A node ref that receives focus once, after the first render.
#[hook]
pub fn use_autofocus() -> NodeRef {
    let node = use_node_ref();
    {
        let node = node.clone();
        use_effect_with((), move |_| {
            if let Some(element) = node.cast::<HtmlElement>() {
                let _ = element.focus();
            }
        });
    }
    node
}
