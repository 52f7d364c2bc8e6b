//! The online-only screens: the team list, the schedule and billing.
//!
//! None of these touch the vault: scheduling and billing hold no clinical
//! content, and the clinic admin keeps no records on the device at all.
//! Each call needs an unlocked session that the server issued (not an
//! offline unlock) and the server itself; without them it fails with
//! [`CoreError::Offline`] and says so, and nothing is queued.

use bench_protocol::api::{
    routes, Appointment, AppointmentStatus, AppointmentStatusChange, BookableClient, Cosignature,
    Invoice, InvoiceStatus, InvoiceStatusChange, NewAppointment, NewInvoice, NewSupervision, Role,
    Supervision, TeamMember,
};
use bench_protocol::desktop::{SyncStatus, TeamView};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{Contact, Core, Phase};
use crate::sync::ApiClient;
use crate::CoreError;

/// Whether an account of this role keeps no clinical records on its device
/// (so the core neither pushes nor pulls for it).
pub(super) fn keeps_no_records(role: Role) -> bool {
    matches!(role, Role::ClinicAdmin | Role::Operations)
}

/// Refuses a write to a client record (or its notes) that another
/// practitioner owns: shared with this one, or a supervised colleague's.
pub(super) fn refuse_foreign(
    vault: &crate::vault::Vault,
    client_id: Uuid,
    me: Option<Uuid>,
) -> Result<(), CoreError> {
    if vault.foreign_owner(client_id, me)?.is_some() {
        return Err(CoreError::Invalid(
            "This is another practitioner's client, shown to you read-only: you can read \
             their notes but not add, change, sign or amend them."
                .into(),
        ));
    }
    Ok(())
}

/// What an unreachable server means on these screens: nothing was done
/// and nothing waits (unlike a note, which is saved and syncs later).
fn needs_server(error: CoreError) -> CoreError {
    match error {
        CoreError::Offline(_) => CoreError::Offline(
            "The clinic server cannot be reached, and the team, schedule and billing screens \
             need it; nothing was changed. Check the connection and try again."
                .into(),
        ),
        other => other,
    }
}

impl Core {
    /// For an account that keeps no records here (the clinic admin,
    /// operations), a sync only finds out whether the server answers, so
    /// the header says "Offline" when the online-only screens cannot work;
    /// `None` for everyone else, whose sync goes on as usual.
    pub(super) async fn sync_without_records(
        &self,
        api: &ApiClient,
    ) -> Option<Result<SyncStatus, CoreError>> {
        {
            let mut inner = self.inner();
            self.lock_if_idle(&mut inner);
            let Phase::Unlocked { session, .. } = &inner.phase else {
                return Some(Err(CoreError::Locked));
            };
            if !keeps_no_records(session.practitioner.role) {
                return None;
            }
        }
        let contact = match api.health().await {
            Ok(()) => Contact::Ok,
            Err(_) => Contact::Offline,
        };
        let mut inner = self.inner();
        inner.contact = contact;
        Some(Ok(self.status_of(&inner)))
    }

    /// The signed-in account's role, while unlocked.
    pub(super) fn viewer_role(&self) -> Option<Role> {
        match &self.inner().phase {
            Phase::Unlocked { session, .. } => Some(session.practitioner.role),
            _ => None,
        }
    }

    /// The signed-in account's id, while unlocked.
    pub(super) fn viewer_id(&self) -> Option<Uuid> {
        match &self.inner().phase {
            Phase::Unlocked { session, .. } => Some(session.practitioner.id),
            _ => None,
        }
    }

    async fn get_online<R: serde::de::DeserializeOwned>(
        &self,
        route: &str,
        query: &[(&str, String)],
    ) -> Result<R, CoreError> {
        let (api, token) = self.online()?;
        api.get_authed(route, &token, query)
            .await
            .map_err(needs_server)
    }

    async fn post_online<B: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        route: &str,
        body: &B,
    ) -> Result<R, CoreError> {
        let (api, token) = self.online()?;
        api.post_authed(route, &token, body)
            .await
            .map_err(needs_server)
    }

    /// The API client and the session token, or why the server cannot be
    /// asked now.
    fn online(&self) -> Result<(ApiClient, Zeroizing<String>), CoreError> {
        let api = self.api()?.clone();
        let mut inner = self.inner();
        self.lock_if_idle(&mut inner);
        let Phase::Unlocked { session, .. } = &inner.phase else {
            return Err(CoreError::Locked);
        };
        match &session.token {
            Some(token) => Ok((api, token.clone())),
            None => Err(CoreError::Offline(
                "This screen needs the clinic server, and this session was opened offline. \
                 Sign out and sign in again once the server can be reached."
                    .into(),
            )),
        }
    }

    /// The clinic's accounts and supervision assignments (clinic admin).
    pub async fn team(&self) -> Result<TeamView, CoreError> {
        let members: Vec<TeamMember> = self.get_online(routes::TEAM, &[]).await?;
        let supervisions: Vec<Supervision> = self.get_online(routes::SUPERVISION, &[]).await?;
        Ok(TeamView {
            members,
            supervisions,
        })
    }

    /// Assigns a supervisor to a practitioner (clinic admin); answers with
    /// the team as it now stands.
    pub async fn assign_supervisor(
        &self,
        supervisor_id: Uuid,
        practitioner_id: Uuid,
    ) -> Result<TeamView, CoreError> {
        let _: Supervision = self
            .post_online(
                routes::SUPERVISION,
                &NewSupervision {
                    supervisor_id,
                    practitioner_id,
                },
            )
            .await?;
        self.team().await
    }

    /// Ends a supervision assignment (clinic admin): the supervisor's
    /// devices drop that practitioner's records at their next sync. Answers
    /// with the team as it now stands.
    pub async fn end_supervision(&self, supervision_id: Uuid) -> Result<TeamView, CoreError> {
        let (api, token) = self.online()?;
        api.post_authed_empty(&routes::supervision_revoke(supervision_id), &token)
            .await
            .map_err(needs_server)?;
        self.team().await
    }

    /// Appointments starting in `[from, to)` (RFC 3339; either may be open)
    /// that the caller reaches, earliest first.
    pub async fn schedule(
        &self,
        from: Option<String>,
        to: Option<String>,
    ) -> Result<Vec<Appointment>, CoreError> {
        let mut query = Vec::new();
        if let Some(from) = from {
            query.push(("from", from));
        }
        if let Some(to) = to {
            query.push(("to", to));
        }
        self.get_online(routes::SCHEDULE, &query).await
    }

    /// The clients the caller may book or invoice: id and name only.
    pub async fn bookable_clients(&self) -> Result<Vec<BookableClient>, CoreError> {
        self.get_online(routes::SCHEDULE_CLIENTS, &[]).await
    }

    /// Books an appointment with the practitioner who holds the client's
    /// record.
    pub async fn book_appointment(
        &self,
        appointment: NewAppointment,
    ) -> Result<Appointment, CoreError> {
        self.post_online(routes::SCHEDULE, &appointment).await
    }

    /// Marks an appointment attended, cancelled, a no-show, or booked again.
    pub async fn set_appointment_status(
        &self,
        appointment_id: Uuid,
        status: AppointmentStatus,
    ) -> Result<Appointment, CoreError> {
        self.post_online(
            &routes::appointment_status(appointment_id),
            &AppointmentStatusChange { status },
        )
        .await
    }

    /// The invoices the caller reaches, newest first.
    pub async fn invoices(&self) -> Result<Vec<Invoice>, CoreError> {
        self.get_online(routes::INVOICES, &[]).await
    }

    /// Issues an invoice.
    pub async fn issue_invoice(&self, invoice: NewInvoice) -> Result<Invoice, CoreError> {
        self.post_online(routes::INVOICES, &invoice).await
    }

    /// Co-signs a signed note of a practitioner the caller supervises. The
    /// note itself does not change; the server records the co-signature
    /// (once, however often this is called) and audits it.
    pub async fn cosign_note(&self, note_id: Uuid) -> Result<Cosignature, CoreError> {
        self.post_online(&routes::note_cosign(note_id), &serde_json::json!({}))
            .await
    }

    /// Marks an issued invoice paid or void.
    pub async fn set_invoice_status(
        &self,
        invoice_id: Uuid,
        status: InvoiceStatus,
    ) -> Result<Invoice, CoreError> {
        self.post_online(
            &routes::invoice_status(invoice_id),
            &InvoiceStatusChange { status },
        )
        .await
    }
}
