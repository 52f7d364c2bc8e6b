//! `#enrol-qr`: a QR code drawn as SVG rectangles, so no image data URL
//! (and no `img-src` exception) is needed.

use yew::prelude::*;

use crate::qr;

/// Modules of light border around the code, as the QR standard asks.
const QUIET_ZONE: usize = 4;

/// Properties of [`QrCode`].
#[derive(Properties, PartialEq)]
pub struct QrCodeProps {
    /// What to encode.
    pub text: AttrValue,
}

/// The code as inline SVG.
#[function_component]
pub fn QrCode(props: &QrCodeProps) -> Html {
    let matrix = use_memo(props.text.clone(), |text| qr::matrix(text));
    let Some(matrix) = matrix.as_ref() else {
        return html! {
            <p class="qr-missing">{ "This address is too long for a QR code; copy it instead." }</p>
        };
    };

    let side = matrix.width + 2 * QUIET_ZONE;
    let view_box = format!("0 0 {side} {side}");
    let modules = matrix.dark.iter().map(|&(x, y)| {
        html! {
            <rect x={(x + QUIET_ZONE).to_string()} y={(y + QUIET_ZONE).to_string()}
                width="1" height="1" fill="#000000" />
        }
    });

    html! {
        <svg id="enrol-qr" class="qr" xmlns="http://www.w3.org/2000/svg" viewBox={view_box}
            role="img" aria-label="QR code for your authenticator app"
            shape-rendering="crispEdges">
            <rect x="0" y="0" width={side.to_string()} height={side.to_string()} fill="#ffffff" />
            { for modules }
        </svg>
    }
}
