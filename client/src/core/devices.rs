//! Device and transfer calls for the window: the device list, revoking a
//! lost device, and moving a client to another practitioner. Online only
//! and never queued: each needs a session the server issued and the
//! server itself. None touches clinical content; a transfer's effect on
//! this device arrives with the next sync.

use bench_protocol::api::{routes, ClientTransfer, Device, DeviceRevocation, TransferReceipt};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{Core, Phase};
use crate::sync::ApiClient;
use crate::CoreError;

impl Core {
    /// Devices that signed in: every account's for the clinic admin, the
    /// signed-in practitioner's own otherwise.
    pub async fn team_devices(&self) -> Result<Vec<Device>, CoreError> {
        let (api, token, username) = self.with_session()?;
        let answer = api.get_authed(routes::DEVICES, &token, &[]).await;
        self.unless_revoked(&username, answer)
    }

    /// Revokes a device: the clinic admin any device (for every account on
    /// it), a practitioner one of their own other devices. `reason` is a
    /// few words such as "laptop stolen", never a client's name. Answers
    /// with the device's rows as revoked (one per account it reached); call
    /// [`Core::team_devices`] for the whole list.
    pub async fn revoke_device(
        &self,
        device_id: Uuid,
        reason: &str,
    ) -> Result<Vec<Device>, CoreError> {
        let (api, token, username) = self.with_session()?;
        let body = DeviceRevocation {
            reason: reason.trim().to_string(),
        };
        let answer = api
            .post_authed(&routes::device_revoke(device_id), &token, &body)
            .await;
        self.unless_revoked(&username, answer)
    }

    /// Moves a client's record, with everything filed under it, to another
    /// practitioner (the owner, or the clinic admin). This device drops the
    /// record at its next sync.
    pub async fn transfer_client(
        &self,
        client_id: Uuid,
        to_practitioner_id: Uuid,
    ) -> Result<TransferReceipt, CoreError> {
        let (api, token, username) = self.with_session()?;
        let body = ClientTransfer { to_practitioner_id };
        let answer = api
            .post_authed(&routes::client_transfer(client_id), &token, &body)
            .await;
        self.unless_revoked(&username, answer)
    }

    /// The API client, the session token and who holds it, or why the
    /// server cannot be asked now.
    fn with_session(&self) -> Result<(ApiClient, Zeroizing<String>, String), CoreError> {
        let api = self.api()?.clone();
        let mut inner = self.inner();
        self.lock_if_idle(&mut inner);
        let Phase::Unlocked { session, .. } = &inner.phase else {
            return Err(CoreError::Locked);
        };
        match &session.token {
            Some(token) => Ok((api, token.clone(), session.username.clone())),
            None => Err(CoreError::Offline(
                "This needs the clinic server, and this session was opened offline. Sign out \
                 and sign in again once the server can be reached."
                    .into(),
            )),
        }
    }

    /// Passes `answer` on, but first wipes this device if the server said
    /// it is revoked (whichever call heard it).
    fn unless_revoked<T>(
        &self,
        username: &str,
        answer: Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        match answer {
            Err(CoreError::DeviceRevoked(message)) => {
                Err(self.wipe_revoked_device(username, message))
            }
            other => other,
        }
    }
}
