//! Device revocation and client transfer: account and ownership changes
//! that carry ids only, never a clinical field.
//!
//! Operations accounts are refused here (and audited): they revoke devices
//! at the server's command line (`bench-server device revoke`), where the
//! action is audited too.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::Json;
use bench_protocol::api::{
    routes, ClientTransfer, Device, DeviceRevocation, ErrorCode, Role, TransferReceipt,
    MAX_REVOKE_REASON,
};
use uuid::Uuid;

use super::{audit, ip, refused, ApiJson, AppRef, Authed, Failure};
use crate::audit::Event;
use crate::clock;
use crate::store::Revoker;

/// Device management is for the clinic admin (every device) and for
/// practitioners (their own); not for operations.
const NO_DEVICES: &[Role] = &[Role::Operations];

/// Devices that signed in: every account's for the clinic admin, the
/// caller's own for anyone else.
pub(super) async fn list(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
) -> Result<Json<Vec<Device>>, Failure> {
    who.refuse(&state, peer, routes::DEVICES, NO_DEVICES)
        .await?;
    let only = (who.account.role != Role::ClinicAdmin).then_some(who.account.id);
    let devices = state.store.call(move |s| s.devices(only)).await?;
    let mut entry = who.entry(Event::DevicesListed, ip(peer));
    entry.details = serde_json::json!({ "devices": devices.len(), "own_only": only.is_some() });
    audit(&state, entry).await?;
    Ok(Json(devices))
}

/// Revokes a device: the clinic admin any device (for every account on
/// it), a practitioner one of their own other devices (for their account).
pub(super) async fn revoke(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<DeviceRevocation>,
) -> Result<Json<Vec<Device>>, Failure> {
    who.refuse(&state, peer, routes::DEVICE_REVOKE, NO_DEVICES)
        .await?;
    let no_device = || {
        Failure::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "There is no such device among those you may revoke.",
        )
    };
    let device_id: Uuid = id.parse().map_err(|_| no_device())?;
    let bad = |message: &str| Failure::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message);
    if req.reason.chars().count() > MAX_REVOKE_REASON || req.reason.chars().any(|c| c.is_control())
    {
        return Err(bad(
            "The reason must be one line of at most 200 characters (e.g. \"laptop stolen\").",
        ));
    }
    let by = if who.account.role == Role::ClinicAdmin {
        Revoker::ClinicAdmin(who.account.id)
    } else {
        if device_id == who.device_id {
            return Err(bad(
                "This is the device you are using. Revoke it from another device, or ask your clinic admin.",
            ));
        }
        Revoker::Owner(who.account.id)
    };
    let reason = req.reason.clone();
    let revoked = state
        .store
        .call(move |s| s.revoke_device(device_id, by, &reason, clock::now_unix()))
        .await?
        .ok_or_else(no_device)?;
    let mut entry = who.entry(Event::DeviceRevoked, ip(peer));
    entry.details = serde_json::json!({
        "revoked_device_id": device_id,
        "accounts": revoked.devices.iter().map(|d| d.account_id).collect::<Vec<_>>(),
        "whole_device": matches!(by, Revoker::ClinicAdmin(_)),
        "sessions_ended": revoked.sessions_ended,
        // The reason is free text, so it stays in the devices table and
        // out of the audit log, which holds ids and codes only.
        "reason_given": !req.reason.trim().is_empty(),
    });
    audit(&state, entry).await?;
    tracing::info!(account_id = %who.account.id, revoked_device_id = %device_id, sessions = revoked.sessions_ended, "device revoked");
    Ok(Json(revoked.devices))
}

/// Moves a client's record (and everything filed under it) to another
/// practitioner: by the owner, or by the clinic admin, who gets ids back.
pub(super) async fn transfer(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ClientTransfer>,
) -> Result<Json<TransferReceipt>, Failure> {
    who.refuse(&state, peer, routes::CLIENT_TRANSFER, &[Role::Operations])
        .await?;
    let client_id: Uuid = id.parse().map_err(|_| Failure::not_found())?;
    let caller = who.account.clone();
    let to = req.to_practitioner_id;
    let receipt = state
        .store
        .call(move |s| s.transfer_client(&caller, client_id, to))
        .await?
        .ok_or_else(Failure::not_found)?
        .map_err(refused)?;
    let mut entry = who.entry(Event::ClientTransferred, ip(peer));
    entry.record_id = Some(client_id);
    entry.details = serde_json::json!({
        "from": receipt.from_practitioner_id,
        "to": receipt.to_practitioner_id,
        "records_moved": receipt.records_moved,
        "shares_ended": receipt.shares_ended,
    });
    audit(&state, entry).await?;
    tracing::info!(account_id = %who.account.id, record_id = %client_id, moved = receipt.records_moved, "client transferred");
    Ok(Json(receipt))
}
