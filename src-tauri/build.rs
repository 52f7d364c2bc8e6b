//! Checks the bundled UI is there, then runs tauri-build with an
//! application manifest listing our commands.
//!
//! Listing the commands makes tauri-build generate an `allow-<command>`
//! permission for each; once any app command is declared, Tauri refuses
//! every app command that no capability grants. capabilities/default.json
//! grants exactly these to the main window, so nothing else loaded in the
//! webview can reach a command that is not on this list.

use std::path::Path;

/// Every command in `bench_protocol::desktop::commands`. A unit test in the
/// shell checks this list against the protocol and the capability file.
const COMMANDS: &[&str] = &[
    "app_state",
    "sign_in",
    "submit_code",
    "unlock",
    "lock",
    "sign_out",
    "activity",
    "list_clients",
    "add_client",
    "open_client",
    "save_draft",
    "sign_note",
    "add_amendment",
    "resolve_conflict",
    "retry_rejected",
    "team",
    "assign_supervisor",
    "end_supervision",
    "cosign_note",
    "team_devices",
    "revoke_device",
    "schedule",
    "bookable_clients",
    "book_appointment",
    "set_appointment_status",
    "invoices",
    "issue_invoice",
    "set_invoice_status",
    "sync_now",
    "sync_status",
];

fn main() {
    // generate_context! embeds ui/dist into the binary at compile time.
    // Read at run time, not with env!(): the compiled build script may be
    // reused from a shared target directory by a checkout in another folder.
    let root = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let ui = Path::new(&root).join("ui/dist/index.html");
    println!("cargo:rerun-if-changed={}", ui.display());
    if !ui.is_file() {
        eprintln!(
            "error: the bundled UI is missing ({}).\n\
             Run scripts/build-ui.sh first: it builds the Yew UI into ui/dist.",
            ui.display()
        );
        std::process::exit(1);
    }

    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    if let Err(error) =
        tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
    {
        eprintln!("error: tauri-build failed: {error:#}");
        std::process::exit(1);
    }
}
