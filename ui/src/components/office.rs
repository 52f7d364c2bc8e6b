//! The clinic admin's screens: the week's schedule, the team, and billing.
//! Every call needs the clinic server; when it is out of reach the shell
//! says so in `#error` and nothing changes.

use bench_protocol::api::{
    Appointment, AppointmentStatus, BookableClient, Device, Invoice, InvoiceStatus, NewAppointment,
    NewInvoice, Role,
};
use bench_protocol::desktop::{commands, TeamView};
use serde::Serialize;
use uuid::Uuid;
use wasm_bindgen::JsValue;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::effects::{self, Dispatch, Store};
use crate::office::{add_days, format_kes, monday_of, parse_kes, Office, OfficeAction, OfficeTab};
use crate::state::{Action, ShellAction};
use crate::{dates, ipc};

fn office(action: OfficeAction) -> Action {
    Action::Office(action)
}

/// The value of an `<input>` or `<select>` (read as a property, so no
/// element-specific binding is needed).
fn value_of(node: &NodeRef) -> String {
    node.get()
        .and_then(|n| js_sys::Reflect::get(&n, &JsValue::from_str("value")).ok())
        .and_then(|v| v.as_string())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn invalid(message: &str) -> Action {
    Action::Shell(ShellAction::Failed(bench_protocol::desktop::ShellError {
        kind: bench_protocol::desktop::ShellErrorKind::Invalid,
        message: message.to_owned(),
    }))
}

/// The admin's window body: the screen switcher and the screen.
#[function_component]
pub fn OfficePage() -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let dispatch = store.dispatcher();
    let Some(office_state) = store.office.as_ref() else {
        return html! {};
    };
    let tab = office_state.tab;
    let nav = |id: &'static str, label: &'static str, target: OfficeTab| {
        let dispatch = dispatch.clone();
        let onclick = Callback::from(move |_: MouseEvent| {
            dispatch.dispatch(office(OfficeAction::Show(target)))
        });
        let current = if tab == target { "page" } else { "false" };
        html! {
            <button {id} type="button" class={classes!("nav-tab", (tab == target).then_some("is-current"))}
                aria-current={current} {onclick}>{ label }</button>
        }
    };
    html! {
        <main class="page office">
            <nav class="office-nav" aria-label="Clinic office">
                { nav("nav-schedule", "Schedule", OfficeTab::Schedule) }
                { nav("nav-team", "Team", OfficeTab::Team) }
                { nav("nav-billing", "Billing", OfficeTab::Billing) }
            </nav>
            {
                match tab {
                    OfficeTab::Schedule => html! { <SchedulePage /> },
                    OfficeTab::Team => html! { <TeamPage /> },
                    OfficeTab::Billing => html! { <BillingPage /> },
                }
            }
        </main>
    }
}

#[derive(Serialize)]
struct Range {
    from: Option<String>,
    to: Option<String>,
}

/// Loads the week starting `monday` (local) and the bookable clients.
fn load_week(dispatch: &Dispatch, monday: String) {
    let range = Range {
        from: dates::local_to_utc(&monday, "00:00"),
        to: add_days(&monday, 7).and_then(|next| dates::local_to_utc(&next, "00:00")),
    };
    effects::run(
        dispatch,
        async move {
            let items: Vec<Appointment> = ipc::invoke(commands::SCHEDULE, &range).await?;
            let clients: Vec<BookableClient> = ipc::invoke0(commands::BOOKABLE_CLIENTS).await?;
            Ok((items, clients))
        },
        move |(items, clients), dispatch| {
            dispatch.dispatch(office(OfficeAction::ScheduleLoaded {
                week_start: monday,
                items,
            }));
            dispatch.dispatch(office(OfficeAction::ClientsLoaded(clients)));
        },
    );
}

fn status_word(status: AppointmentStatus) -> &'static str {
    match status {
        AppointmentStatus::Booked => "Booked",
        AppointmentStatus::Attended => "Attended",
        AppointmentStatus::Cancelled => "Cancelled",
        AppointmentStatus::NoShow => "No-show",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SetAppointmentStatus {
    appointment_id: Uuid,
    status: AppointmentStatus,
}

/// The week's appointments, with a form to book one.
#[function_component]
fn SchedulePage() -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let dispatch = store.dispatcher();
    let week = store.office.as_ref().and_then(|o| o.week_start.clone());
    {
        let dispatch = dispatch.clone();
        use_effect_with(week.clone(), move |week| match week {
            Some(monday) => load_week(&dispatch, monday.clone()),
            None => {
                if let Some(monday) = monday_of(&dates::today()) {
                    dispatch.dispatch(office(OfficeAction::Week(monday)));
                }
            }
        });
    }
    let Some(office_state) = store.office.as_ref() else {
        return html! {};
    };
    let Some(monday) = week else {
        return html! { <p class="empty">{ "Loading the schedule…" }</p> };
    };
    let go = |days: i64| {
        let dispatch = dispatch.clone();
        let target = add_days(&monday, days);
        Callback::from(move |_: MouseEvent| {
            if let Some(target) = target.clone() {
                dispatch.dispatch(office(OfficeAction::Week(target)));
            }
        })
    };
    let open_form = {
        let dispatch = dispatch.clone();
        Callback::from(move |_: MouseEvent| {
            dispatch.dispatch(office(OfficeAction::ShowBooking(true)))
        })
    };
    let sunday = add_days(&monday, 6).unwrap_or_default();

    let rows = office_state.appointments.iter().map(|a| {
        let (day, time) = dates::utc_to_local(&a.starts_at);
        let id = a.id;
        let onchange = {
            let dispatch = dispatch.clone();
            Callback::from(move |event: Event| {
                let value = event
                    .target()
                    .and_then(|t| js_sys::Reflect::get(&t, &JsValue::from_str("value")).ok())
                    .and_then(|v| v.as_string())
                    .unwrap_or_default();
                let Some(status) = AppointmentStatus::parse(&value) else {
                    return;
                };
                effects::run(
                    &dispatch,
                    async move {
                        ipc::invoke::<_, Appointment>(
                            commands::SET_APPOINTMENT_STATUS,
                            &SetAppointmentStatus {
                                appointment_id: id,
                                status,
                            },
                        )
                        .await
                    },
                    |changed, dispatch| {
                        dispatch.dispatch(office(OfficeAction::AppointmentChanged(changed)))
                    },
                );
            })
        };
        let options = AppointmentStatus::ALL.iter().map(|s| {
            html! {
                <option value={s.as_str()} selected={*s == a.status}>{ status_word(*s) }</option>
            }
        });
        html! {
            <li key={id.to_string()} class={classes!("appointment-row", format!("is-{}", a.status.as_str()))}
                data-appointment-id={id.to_string()}>
                <span class="appointment-when">{ format!("{day} {time}") }</span>
                <span class="appointment-client">{ a.client_name.clone() }</span>
                <span class="appointment-with">{ format!("with {}", a.practitioner_name) }</span>
                <span class="appointment-length">{ format!("{} min", a.duration_minutes) }</span>
                <label class="visually-hidden" for={format!("status-{id}")}>{ "Status" }</label>
                <select id={format!("status-{id}")} class="appointment-status" disabled={store.busy} {onchange}>
                    { for options }
                </select>
            </li>
        }
    });

    html! {
        <section class="schedule">
            <div class="toolbar">
                <button id="week-prev" type="button" onclick={go(-7)}>{ "‹ Previous week" }</button>
                <h1 id="week-label">{ format!("Week of {monday} to {sunday}") }</h1>
                <button id="week-next" type="button" onclick={go(7)}>{ "Next week ›" }</button>
                <button id="new-appointment" type="button" class="primary" onclick={open_form}>
                    { "New appointment" }
                </button>
            </div>
            if office_state.booking {
                <BookingForm clients={office_state.clients.clone()} monday={monday.clone()} />
            }
            if office_state.appointments.is_empty() {
                <p class="empty">{ "No appointments this week." }</p>
            }
            <ul class="appointment-list">{ for rows }</ul>
        </section>
    }
}

/// Properties of [`BookingForm`].
#[derive(Properties, PartialEq)]
struct BookingProps {
    clients: Vec<BookableClient>,
    /// The week shown, reloaded after booking.
    monday: String,
}

#[derive(Serialize)]
struct BookArgs {
    appointment: NewAppointment,
}

/// The new-appointment form.
#[function_component]
fn BookingForm(props: &BookingProps) -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let (client, date, time, duration) = (
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
    );
    let onsubmit = {
        let dispatch = store.dispatcher();
        let (client, date, time, duration) =
            (client.clone(), date.clone(), time.clone(), duration.clone());
        let monday = props.monday.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let Ok(client_id) = value_of(&client).parse::<Uuid>() else {
                dispatch.dispatch(invalid("Choose the client the appointment is for."));
                return;
            };
            let Some(starts_at) = dates::local_to_utc(&value_of(&date), &value_of(&time)) else {
                dispatch.dispatch(invalid("Enter the appointment's date and start time."));
                return;
            };
            let Ok(duration_minutes) = value_of(&duration).parse::<u32>() else {
                dispatch.dispatch(invalid("Enter the length in minutes, e.g. 50."));
                return;
            };
            let appointment = NewAppointment {
                client_id,
                starts_at,
                duration_minutes,
            };
            let monday = monday.clone();
            effects::run(
                &dispatch,
                async move {
                    ipc::invoke::<_, Appointment>(
                        commands::BOOK_APPOINTMENT,
                        &BookArgs { appointment },
                    )
                    .await
                },
                move |booked, dispatch| {
                    dispatch.dispatch(office(OfficeAction::Booked(booked)));
                    load_week(dispatch, monday);
                },
            );
        })
    };
    let cancel = {
        let dispatch = store.dispatcher();
        Callback::from(move |_: MouseEvent| {
            dispatch.dispatch(office(OfficeAction::ShowBooking(false)))
        })
    };
    let options = props.clients.iter().map(|c| {
        html! {
            <option value={c.id.to_string()}>
                { format!("{} (with {})", c.display_name, c.practitioner_name) }
            </option>
        }
    });
    html! {
        <form id="appointment-form" class="card booking" {onsubmit}>
            <h2>{ "New appointment" }</h2>
            <label for="appointment-client">{ "Client" }</label>
            <select id="appointment-client" ref={client}>
                <option value="">{ "Choose a client" }</option>
                { for options }
            </select>
            <label for="appointment-date">{ "Date" }</label>
            <input id="appointment-date" type="date" value={props.monday.clone()} ref={date} />
            <label for="appointment-time">{ "Start time" }</label>
            <input id="appointment-time" type="time" value="09:00" ref={time} />
            <label for="appointment-duration">{ "Length (minutes)" }</label>
            <input id="appointment-duration" type="number" min="5" max="480" value="50" ref={duration} />
            <div class="form-actions">
                <button id="save-appointment" type="submit" class="primary" disabled={store.busy}>
                    { "Book appointment" }
                </button>
                <button type="button" onclick={cancel}>{ "Cancel" }</button>
            </div>
        </form>
    }
}

fn role_word(role: Role) -> &'static str {
    match role {
        Role::SoloPractitioner => "Solo practitioner",
        Role::ClinicPractitioner => "Practitioner",
        Role::Supervisor => "Supervisor",
        Role::ClinicAdmin => "Clinic admin",
        Role::Operations => "Operations",
    }
}

/// The clinic's accounts, who supervises whom, and the devices that
/// signed in (with a way to revoke a lost one).
#[function_component]
fn TeamPage() -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    {
        let dispatch = store.dispatcher();
        use_effect_with((), move |_| {
            effects::run(
                &dispatch,
                async {
                    let team: TeamView = ipc::invoke0(commands::TEAM).await?;
                    let devices: Vec<Device> = ipc::invoke0(commands::TEAM_DEVICES).await?;
                    Ok((team, devices))
                },
                |(team, devices), dispatch| {
                    dispatch.dispatch(office(OfficeAction::TeamLoaded(team)));
                    dispatch.dispatch(office(OfficeAction::DevicesLoaded(devices)));
                },
            );
        });
    }
    let Some(
        office_state @ Office {
            team: Some(team), ..
        },
    ) = store.office.as_ref()
    else {
        return html! { <p class="empty">{ "Loading the team…" }</p> };
    };
    let name_of = |id: Uuid| {
        team.members
            .iter()
            .find(|m| m.id == id)
            .map(|m| m.display_name.clone())
            .unwrap_or_else(|| "a former account".to_owned())
    };
    let members = team.members.iter().map(|m| {
        html! {
            <tr key={m.id.to_string()} class="team-row" data-username={m.username.clone()}>
                <td class="member-name">{ m.display_name.clone() }</td>
                <td class="member-username">{ m.username.clone() }</td>
                <td class="member-role">{ role_word(m.role) }</td>
                <td class={classes!("member-2fa", if m.has_totp { "is-synced" } else { "is-trouble" })}>
                    { if m.has_totp { "2FA on" } else { "2FA not set up" } }
                </td>
            </tr>
        }
    });
    let live = team.supervisions.iter().filter(|s| s.revoked_at.is_none());
    let supervisions = live
        .map(|s| {
            let end = {
                let dispatch = store.dispatcher();
                let supervision_id = s.id;
                Callback::from(move |_: MouseEvent| {
                    effects::run(
                        &dispatch,
                        async move {
                            ipc::invoke::<_, TeamView>(
                                commands::END_SUPERVISION,
                                &EndSupervision { supervision_id },
                            )
                            .await
                        },
                        |team, dispatch| dispatch.dispatch(office(OfficeAction::TeamLoaded(team))),
                    );
                })
            };
            html! {
                <li key={s.id.to_string()} class="supervision-row">
                    <span>{ format!("{} supervises {}", name_of(s.supervisor_id), name_of(s.practitioner_id)) }</span>
                    <button type="button" class="end-supervision" disabled={store.busy} onclick={end}>
                        { "End" }
                    </button>
                </li>
            }
        })
        .collect::<Vec<_>>();
    html! {
        <section class="team">
            <h1>{ "Team" }</h1>
            <table class="team-table">
                <thead><tr><th>{ "Name" }</th><th>{ "Username" }</th><th>{ "Role" }</th><th>{ "Two-factor" }</th></tr></thead>
                <tbody>{ for members }</tbody>
            </table>
            <h2>{ "Supervision" }</h2>
            if supervisions.is_empty() {
                <p class="empty">{ "No supervision assignments." }</p>
            }
            <ul class="supervision-list">{ for supervisions }</ul>
            <AssignSupervisor team={team.clone()} />
            <h2>{ "Devices" }</h2>
            if office_state.devices.is_empty() {
                <p class="empty">{ "No device has signed in yet." }</p>
            }
            <ul class="device-list">
                { for office_state.devices.iter().map(|d| html! {
                    <DeviceRow key={d.device_id.to_string()} device={d.clone()}
                        revoking={office_state.revoking.as_ref()
                            .filter(|r| r.0 == d.device_id)
                            .map(|r| r.1.clone())} />
                }) }
            </ul>
        </section>
    }
}

#[derive(Serialize)]
struct IssueArgs {
    invoice: NewInvoice,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SetInvoiceStatus {
    invoice_id: Uuid,
    status: InvoiceStatus,
}

fn load_invoices(dispatch: &Dispatch) {
    effects::run(
        dispatch,
        async move {
            let invoices: Vec<Invoice> = ipc::invoke0(commands::INVOICES).await?;
            let clients: Vec<BookableClient> = ipc::invoke0(commands::BOOKABLE_CLIENTS).await?;
            Ok((invoices, clients))
        },
        |(invoices, clients), dispatch| {
            dispatch.dispatch(office(OfficeAction::InvoicesLoaded(invoices)));
            dispatch.dispatch(office(OfficeAction::ClientsLoaded(clients)));
        },
    );
}

fn invoice_word(status: InvoiceStatus) -> &'static str {
    match status {
        InvoiceStatus::Issued => "Issued",
        InvoiceStatus::Paid => "Paid",
        InvoiceStatus::Void => "Void",
    }
}

/// Invoices, with a form to issue one.
#[function_component]
fn BillingPage() -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let dispatch = store.dispatcher();
    {
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| load_invoices(&dispatch));
    }
    let Some(office_state) = store.office.as_ref() else {
        return html! {};
    };
    let open_form = {
        let dispatch = dispatch.clone();
        Callback::from(move |_: MouseEvent| {
            dispatch.dispatch(office(OfficeAction::ShowInvoicing(true)))
        })
    };
    let mark = |id: Uuid, status: InvoiceStatus| {
        let dispatch = dispatch.clone();
        Callback::from(move |_: MouseEvent| {
            effects::run(
                &dispatch,
                async move {
                    ipc::invoke::<_, Invoice>(
                        commands::SET_INVOICE_STATUS,
                        &SetInvoiceStatus {
                            invoice_id: id,
                            status,
                        },
                    )
                    .await
                },
                |changed, dispatch| {
                    dispatch.dispatch(office(OfficeAction::InvoiceChanged(changed)))
                },
            );
        })
    };
    let rows = office_state.invoices.iter().map(|i| {
        let (day, _) = dates::utc_to_local(&i.issued_at);
        html! {
            <li key={i.id.to_string()} class={classes!("invoice-row", format!("is-{}", i.status.as_str()))}
                data-invoice-id={i.id.to_string()}>
                <span class="invoice-date">{ day }</span>
                <span class="invoice-client">{ i.client_name.clone() }</span>
                <span class="invoice-amount">{ format_kes(i.amount_cents) }</span>
                <span class="invoice-status">{ invoice_word(i.status) }</span>
                if i.status == InvoiceStatus::Issued {
                    <button type="button" class="mark-paid" disabled={store.busy}
                        onclick={mark(i.id, InvoiceStatus::Paid)}>{ "Mark paid" }</button>
                    <button type="button" class="mark-void" disabled={store.busy}
                        onclick={mark(i.id, InvoiceStatus::Void)}>{ "Void" }</button>
                }
            </li>
        }
    });
    html! {
        <section class="billing">
            <div class="toolbar">
                <h1>{ "Billing" }</h1>
                <button id="new-invoice" type="button" class="primary" onclick={open_form}>
                    { "New invoice" }
                </button>
            </div>
            if office_state.invoicing {
                <InvoiceForm clients={office_state.clients.clone()} />
            }
            if office_state.invoices.is_empty() {
                <p class="empty">{ "No invoices yet." }</p>
            }
            <ul class="invoice-list">{ for rows }</ul>
        </section>
    }
}

/// Properties of [`InvoiceForm`].
#[derive(Properties, PartialEq)]
struct InvoiceProps {
    clients: Vec<BookableClient>,
}

/// The new-invoice form.
#[function_component]
fn InvoiceForm(props: &InvoiceProps) -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let (client, amount) = (use_node_ref(), use_node_ref());
    let onsubmit = {
        let dispatch = store.dispatcher();
        let (client, amount) = (client.clone(), amount.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let Ok(client_id) = value_of(&client).parse::<Uuid>() else {
                dispatch.dispatch(invalid("Choose the client to bill."));
                return;
            };
            let Some(amount_cents) = parse_kes(&value_of(&amount)) else {
                dispatch.dispatch(invalid(
                    "Enter the amount in shillings, e.g. 1500 or 1,500.50.",
                ));
                return;
            };
            let invoice = NewInvoice {
                client_id,
                appointment_id: None,
                amount_cents,
            };
            effects::run(
                &dispatch,
                async move {
                    ipc::invoke::<_, Invoice>(commands::ISSUE_INVOICE, &IssueArgs { invoice }).await
                },
                |issued, dispatch| {
                    dispatch.dispatch(office(OfficeAction::InvoiceIssued(issued)));
                    let dispatch = dispatch.clone();
                    spawn_local(async move {
                        if let Ok(invoices) = ipc::invoke0::<Vec<Invoice>>(commands::INVOICES).await
                        {
                            dispatch.dispatch(office(OfficeAction::InvoicesLoaded(invoices)));
                        }
                    });
                },
            );
        })
    };
    let cancel = {
        let dispatch = store.dispatcher();
        Callback::from(move |_: MouseEvent| {
            dispatch.dispatch(office(OfficeAction::ShowInvoicing(false)))
        })
    };
    let options = props.clients.iter().map(|c| {
        html! { <option value={c.id.to_string()}>{ c.display_name.clone() }</option> }
    });
    html! {
        <form id="invoice-form" class="card invoicing" {onsubmit}>
            <h2>{ "New invoice" }</h2>
            <label for="invoice-client">{ "Client" }</label>
            <select id="invoice-client" ref={client}>
                <option value="">{ "Choose a client" }</option>
                { for options }
            </select>
            <label for="invoice-amount">{ "Amount (KES)" }</label>
            <input id="invoice-amount" type="text" inputmode="decimal" autocomplete="off" ref={amount} />
            <div class="form-actions">
                <button id="save-invoice" type="submit" class="primary" disabled={store.busy}>
                    { "Issue invoice" }
                </button>
                <button type="button" onclick={cancel}>{ "Cancel" }</button>
            </div>
        </form>
    }
}

/// Properties of [`DeviceRow`].
#[derive(Properties, PartialEq)]
struct DeviceRowProps {
    device: Device,
    /// The reason typed so far, when this device's revoke form is open.
    revoking: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RevokeArgs {
    device_id: Uuid,
    reason: String,
}

/// One device: whose, its name, when last seen, and whether it is revoked;
/// a live one can be revoked with a reason (never a client's name).
#[function_component]
fn DeviceRow(props: &DeviceRowProps) -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let d = &props.device;
    let id = d.device_id;
    let (seen_day, seen_time) = dates::utc_to_local(&d.last_seen);
    let start = {
        let dispatch = store.dispatcher();
        Callback::from(move |_: MouseEvent| {
            dispatch.dispatch(office(OfficeAction::StartRevoke(id)))
        })
    };
    let cancel = {
        let dispatch = store.dispatcher();
        Callback::from(move |_: MouseEvent| dispatch.dispatch(office(OfficeAction::CancelRevoke)))
    };
    let oninput = {
        let dispatch = store.dispatcher();
        Callback::from(move |event: InputEvent| {
            let value = event
                .target()
                .and_then(|t| js_sys::Reflect::get(&t, &JsValue::from_str("value")).ok())
                .and_then(|v| v.as_string())
                .unwrap_or_default();
            dispatch.dispatch(office(OfficeAction::RevokeReason(value)))
        })
    };
    let onsubmit = {
        let dispatch = store.dispatcher();
        let reason = props.revoking.clone().unwrap_or_default();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let args = RevokeArgs {
                device_id: id,
                reason: reason.clone(),
            };
            effects::run(
                &dispatch,
                async move { ipc::invoke::<_, Vec<Device>>(commands::REVOKE_DEVICE, &args).await },
                |devices, dispatch| dispatch.dispatch(office(OfficeAction::DevicesLoaded(devices))),
            );
        })
    };
    let revoked = d.revoked_at.is_some();
    html! {
        <li class={classes!("device-row", revoked.then_some("is-revoked"))}
            data-device-id={id.to_string()}>
            <span class="device-name">{ d.device_name.clone() }</span>
            <span class="device-user">{ d.username.clone() }</span>
            <span class="device-seen">{ format!("last seen {seen_day} {seen_time}") }</span>
            if revoked {
                <span class="device-status is-trouble">
                    { match &d.reason {
                        Some(reason) if !reason.is_empty() => format!("Revoked: {reason}"),
                        _ => "Revoked".to_owned(),
                    } }
                </span>
            } else if props.revoking.is_none() {
                <button type="button" class="revoke-device" disabled={store.busy} onclick={start}>
                    { "Revoke" }
                </button>
            }
            if let Some(reason) = &props.revoking {
                <form class="revoke-form" {onsubmit}>
                    <label for={format!("revoke-reason-{id}")}>
                        { "Why (e.g. laptop stolen; never a client's name)" }
                    </label>
                    <input id={format!("revoke-reason-{id}")} class="revoke-reason" type="text"
                        autocomplete="off" value={reason.clone()} {oninput} />
                    <div class="form-actions">
                        <button type="submit" class="confirm-revoke primary" disabled={store.busy}>
                            { "Revoke this device" }
                        </button>
                        <button type="button" onclick={cancel}>{ "Cancel" }</button>
                    </div>
                </form>
            }
        </li>
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EndSupervision {
    supervision_id: Uuid,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AssignArgs {
    supervisor_id: Uuid,
    practitioner_id: Uuid,
}

/// Properties of [`AssignSupervisor`].
#[derive(Properties, PartialEq)]
struct AssignProps {
    team: TeamView,
}

/// Picks a supervisor and a practitioner to assign them to.
#[function_component]
fn AssignSupervisor(props: &AssignProps) -> Html {
    let store = use_context::<Store>().expect("inside the store provider");
    let (supervisor, practitioner) = (use_node_ref(), use_node_ref());
    let onsubmit = {
        let dispatch = store.dispatcher();
        let (supervisor, practitioner) = (supervisor.clone(), practitioner.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let (Ok(supervisor_id), Ok(practitioner_id)) = (
                value_of(&supervisor).parse::<Uuid>(),
                value_of(&practitioner).parse::<Uuid>(),
            ) else {
                dispatch.dispatch(invalid(
                    "Choose a supervisor and the practitioner they will supervise.",
                ));
                return;
            };
            let args = AssignArgs {
                supervisor_id,
                practitioner_id,
            };
            effects::run(
                &dispatch,
                async move { ipc::invoke::<_, TeamView>(commands::ASSIGN_SUPERVISOR, &args).await },
                |team, dispatch| dispatch.dispatch(office(OfficeAction::TeamLoaded(team))),
            );
        })
    };
    let options = |roles: &[Role]| {
        props
            .team
            .members
            .iter()
            .filter(|m| roles.contains(&m.role))
            .map(|m| html! { <option value={m.id.to_string()}>{ m.display_name.clone() }</option> })
            .collect::<Html>()
    };
    html! {
        <form id="supervision-form" class="supervision-form" {onsubmit}>
            <label for="supervision-supervisor">{ "Supervisor" }</label>
            <select id="supervision-supervisor" ref={supervisor}>
                <option value="">{ "Choose a supervisor" }</option>
                { options(&[Role::Supervisor]) }
            </select>
            <label for="supervision-practitioner">{ "supervises" }</label>
            <select id="supervision-practitioner" ref={practitioner}>
                <option value="">{ "Choose a practitioner" }</option>
                { options(&[Role::SoloPractitioner, Role::ClinicPractitioner]) }
            </select>
            <button id="assign-supervisor" type="submit" disabled={store.busy}>{ "Assign" }</button>
        </form>
    }
}
