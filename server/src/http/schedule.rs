//! Scheduling and billing routes: thin over `store::schedule`, which
//! decides reach. Operations accounts are refused here (and audited); every
//! other role passes to the store, which shows a practitioner only what is
//! with them and the clinic admin the whole clinic. Audit entries carry
//! ids, statuses and counts, never a name.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use bench_protocol::api::{
    routes, Appointment, AppointmentStatusChange, BookableClient, ErrorCode, Invoice,
    InvoiceStatusChange, NewAppointment, NewInvoice, Role,
};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{audit, ip, refused, ApiJson, AppRef, Authed, Failure};
use crate::audit::Event;
use crate::store::BookRefused;

/// A refused booking or rebooking: 400 with its sentence.
fn book_refused(r: BookRefused) -> Failure {
    match r {
        BookRefused::Refused(r) => refused(r),
        BookRefused::Clash(sentence) => {
            Failure::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, &sentence)
        }
    }
}

/// No scheduling or billing for operations: they support the system, not
/// the clinic's clients.
const NO_SCHEDULE: &[Role] = &[Role::Operations];

#[derive(Deserialize)]
pub(super) struct Range {
    from: Option<String>,
    to: Option<String>,
}

fn unix(value: Option<&str>) -> Result<Option<i64>, Failure> {
    let Some(v) = value else { return Ok(None) };
    time::OffsetDateTime::parse(v.trim(), &Rfc3339)
        .map(|t| Some(t.unix_timestamp()))
        .map_err(|_| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                "`from` and `to` must be RFC 3339 times, like 2026-03-02T00:00:00Z.",
            )
        })
}

/// The appointments the caller reaches, in an optional time range.
pub(super) async fn list(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    range: Result<Query<Range>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Appointment>>, Failure> {
    who.refuse(&state, peer, routes::SCHEDULE, NO_SCHEDULE)
        .await?;
    let Ok(Query(range)) = range else {
        return Err(unix(Some("not a time")).unwrap_err());
    };
    let (from, to) = (unix(range.from.as_deref())?, unix(range.to.as_deref())?);
    let viewer = who.account.clone();
    let list = state
        .store
        .call(move |s| s.appointments(&viewer, from, to))
        .await?;
    let mut entry = who.entry(Event::ScheduleRead, ip(peer));
    entry.details = serde_json::json!({
        "appointment_ids": list.iter().map(|a| a.id).collect::<Vec<_>>(),
    });
    audit(&state, entry).await?;
    Ok(Json(list))
}

/// Books an appointment.
pub(super) async fn book(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    ApiJson(req): ApiJson<NewAppointment>,
) -> Result<Json<Appointment>, Failure> {
    who.refuse(&state, peer, routes::SCHEDULE, NO_SCHEDULE)
        .await?;
    let viewer = who.account.clone();
    let booked = state
        .store
        .call(move |s| s.book(&viewer, &req))
        .await?
        .ok_or_else(Failure::not_found)?
        .map_err(book_refused)?;
    let mut entry = who.entry(Event::AppointmentBooked, ip(peer));
    entry.record_id = Some(booked.client_id);
    entry.details = serde_json::json!({
        "appointment_id": booked.id,
        "practitioner_id": booked.practitioner_id,
        "starts_at": booked.starts_at,
    });
    audit(&state, entry).await?;
    Ok(Json(booked))
}

/// Changes an appointment's status.
pub(super) async fn set_status(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AppointmentStatusChange>,
) -> Result<Json<Appointment>, Failure> {
    who.refuse(&state, peer, routes::APPOINTMENT_STATUS, NO_SCHEDULE)
        .await?;
    let id: Uuid = id.parse().map_err(|_| Failure::not_found())?;
    let viewer = who.account.clone();
    let changed = state
        .store
        .call(move |s| s.set_appointment_status(&viewer, id, req.status))
        .await?
        .ok_or_else(Failure::not_found)?
        .map_err(book_refused)?;
    let mut entry = who.entry(Event::AppointmentStatusChanged, ip(peer));
    entry.record_id = Some(changed.client_id);
    entry.details = serde_json::json!({
        "appointment_id": changed.id,
        "status": changed.status.as_str(),
    });
    audit(&state, entry).await?;
    Ok(Json(changed))
}

/// The clients the caller may book or invoice: id and name only.
pub(super) async fn clients(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
) -> Result<Json<Vec<BookableClient>>, Failure> {
    who.refuse(&state, peer, routes::SCHEDULE_CLIENTS, NO_SCHEDULE)
        .await?;
    let viewer = who.account.clone();
    let list = state
        .store
        .call(move |s| s.bookable_clients(&viewer))
        .await?;
    let mut entry = who.entry(Event::BookableClientsListed, ip(peer));
    entry.details = serde_json::json!({
        "record_ids": list.iter().map(|c| c.id).collect::<Vec<_>>(),
    });
    audit(&state, entry).await?;
    Ok(Json(list))
}

/// The invoices the caller reaches.
pub(super) async fn invoices(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
) -> Result<Json<Vec<Invoice>>, Failure> {
    who.refuse(&state, peer, routes::INVOICES, NO_SCHEDULE)
        .await?;
    let viewer = who.account.clone();
    let list = state.store.call(move |s| s.invoices(&viewer)).await?;
    let mut entry = who.entry(Event::InvoicesRead, ip(peer));
    entry.details = serde_json::json!({
        "invoice_ids": list.iter().map(|i| i.id).collect::<Vec<_>>(),
    });
    audit(&state, entry).await?;
    Ok(Json(list))
}

/// Issues an invoice.
pub(super) async fn issue(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    ApiJson(req): ApiJson<NewInvoice>,
) -> Result<Json<Invoice>, Failure> {
    who.refuse(&state, peer, routes::INVOICES, NO_SCHEDULE)
        .await?;
    let viewer = who.account.clone();
    let invoice = state
        .store
        .call(move |s| s.issue_invoice(&viewer, &req))
        .await?
        .ok_or_else(Failure::not_found)?
        .map_err(refused)?;
    let mut entry = who.entry(Event::InvoiceIssued, ip(peer));
    entry.record_id = Some(invoice.client_id);
    entry.details = serde_json::json!({
        "invoice_id": invoice.id,
        "appointment_id": invoice.appointment_id,
        "amount_cents": invoice.amount_cents,
    });
    audit(&state, entry).await?;
    Ok(Json(invoice))
}

/// Marks an invoice paid or void.
pub(super) async fn set_invoice_status(
    State(state): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Authed,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<InvoiceStatusChange>,
) -> Result<Json<Invoice>, Failure> {
    who.refuse(&state, peer, routes::INVOICE_STATUS, NO_SCHEDULE)
        .await?;
    let id: Uuid = id.parse().map_err(|_| Failure::not_found())?;
    let viewer = who.account.clone();
    let invoice = state
        .store
        .call(move |s| s.set_invoice_status(&viewer, id, req.status))
        .await?
        .ok_or_else(Failure::not_found)?
        .map_err(refused)?;
    let mut entry = who.entry(Event::InvoiceStatusChanged, ip(peer));
    entry.record_id = Some(invoice.client_id);
    entry.details = serde_json::json!({
        "invoice_id": invoice.id,
        "status": invoice.status.as_str(),
    });
    audit(&state, entry).await?;
    Ok(Json(invoice))
}
