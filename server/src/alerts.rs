//! Sign-in throttling and the three security alerts: repeated failed
//! sign-ins, bulk access to client records, and sign-in from a network the
//! account has never used.
//!
//! Everything here is decided from counters and an explicit `now` (seconds
//! and milliseconds since the epoch), so tests can drive the clock; the
//! `http` module calls it with the wall clock and stores the alerts it
//! returns through the audit log (each alert is an audit entry too).
//!
//! The numbers, and why (NIST SP 800-63B §5.2.2 allows at most 100
//! consecutive failed attempts on one account before it must be stopped):
//!
//! - Per username *from one source network* (IPv4 /24, IPv6 /48): the
//!   first 3 failures cost nothing (people mistype); from the 4th, the next
//!   attempt must wait 1 s, then 2, 4, ... doubling up to 60 s. At 10
//!   consecutive failures the username is locked *on that network* for 15
//!   minutes, and each further 10 doubles the lock (30 min, 1 h, ...), so
//!   100 consecutive failures from one network take more than five days,
//!   and at 100 the lock is 30 days. Why per network: a lock on the
//!   username alone lets anyone who knows it keep the practitioner out for
//!   up to 30 days from anywhere (a denial of service NIST SP 800-63B
//!   §5.2.2 asks us to avoid); tied to the network, the guesser locks out
//!   only their own network.
//! - Per username *across all networks*, for alerting and a mild brake:
//!   the failed-sign-in alert is raised at the 10th consecutive failure
//!   whatever the networks; from the 21st every attempt waits 1 s, doubling
//!   to at most 10 s (short enough that the practitioner is slowed, never
//!   kept out); and at 100 consecutive failures (NIST's upper bound) the
//!   username is locked for 24 hours on every network the account has
//!   *never completed a sign-in from*, while the networks it has used keep
//!   only the 10 s brake. So a guesser spreading over many networks still
//!   gets at most 100 tries before being stopped, and cannot lock the
//!   practitioner out of their usual clinic or home network.
//! - Usernames are counted as typed (known or not, so a lock does not
//!   reveal whether an account exists), stored only as an HMAC under a key
//!   in the data directory (`signin-names.key`). A username's counters are
//!   cleared only by a completed sign-in (NIST counts consecutive
//!   failures) or by `bench-server user unlock`.
//! - Per source address: a clinic shares one address behind its router, so
//!   it is looser: 10 free failures, delays after, a 15-minute lock and an
//!   alert at 30. An address's counter is forgotten an hour after its last
//!   failure or wait ends.
//! - Bulk access: more than 30 distinct client records read by one account
//!   within 10 minutes. A practitioner sees about eight clients a day; a
//!   supervisor reviewing a team reads a few at a time. Opening a record
//!   (`GET /v1/clients/{id}`) counts, one's own included. A pull counts
//!   every client of someone else it delivers (through a share or a
//!   supervision; a note counts as its client), since the device then
//!   holds that record: a supervisor whose sync brings a 31st team client
//!   within 10 minutes raises the alert, once. Pulling one's own records
//!   is not counted: it is how every device stays in step, and a
//!   practitioner's first sync of 40 own clients is not access to anybody
//!   else's data. Consequence: a supervisor assigned to a team of more
//!   than 30 clients raises one alert on their first sync; that is bulk
//!   access to others' records, and the clinic admin should see it.
//! - New network: a completed sign-in from an IPv4 /24 or IPv6 /48 the
//!   account has never signed in from. The first sign-in of an account only
//!   records its network.
//!
//! `BENCH_SIGNIN_DELAY_MS`, `BENCH_SIGNIN_LOCK_SECS`, `BENCH_ALERT_BULK_RECORDS`
//! and `BENCH_ALERT_BULK_WINDOW_SECS` may shorten these for tests; they
//! cannot lengthen them.
//!
//! The counters live in `bench.db` (table `signin_failures`), so a restart
//! lifts no lock and `bench-server user unlock` can lift one while the
//! server runs.
//!
//! Limitation: a guesser inside the practitioner's own network (the same
//! clinic /24) shares the practitioner's per-network counter and can still
//! lock them out there.
//!
//! Limitation: the bulk-access counters live in memory, so a restart in
//! the middle of a burst starts the count again. Fix: keep them in
//! `bench.db` like the sign-in counters.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

use crate::error::ServerError;

/// The numbers the server applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Per username from one source network: see [`Limits`].
    pub account: Limits,
    /// Per username across every network: see [`GlobalLimits`].
    pub global: GlobalLimits,
    /// Per source address.
    pub source: Limits,
    /// Bulk-access alert: more than this many distinct client records...
    pub bulk_records: usize,
    /// ...within this many seconds.
    pub bulk_window_secs: u64,
}

/// The mild, network-independent brake on one username.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalLimits {
    /// Consecutive failures (from any networks) that cost no wait.
    pub free: u32,
    /// Wait after the first delayed failure, in milliseconds; doubles.
    pub base_delay_ms: u64,
    /// Longest wait, in milliseconds: short, so a stranger cannot keep
    /// the practitioner out.
    pub max_delay_ms: u64,
    /// At this many consecutive failures, networks the account never
    /// completed a sign-in from are locked out...
    pub lock_after: u32,
    /// ...for this long, in seconds (known networks keep only the delay).
    pub lock_secs: u64,
}

impl GlobalLimits {
    /// (next allowed time in ms, whether it is a lock) after `c`.
    fn next_allowed_ms(&self, c: &Counter, known_network: bool) -> (u64, bool) {
        let f = c.failures;
        if f >= self.lock_after && !known_network {
            (
                c.last_failure_ms
                    .saturating_add(self.lock_secs.saturating_mul(1000)),
                true,
            )
        } else if f > self.free {
            let doublings = (f - self.free - 1).min(20);
            (
                c.last_failure_ms
                    .saturating_add((self.base_delay_ms << doublings).min(self.max_delay_ms)),
                false,
            )
        } else {
            (0, false)
        }
    }
}

/// Throttling numbers for one kind of counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Failures that cost no wait.
    pub free: u32,
    /// Every this many consecutive failures, a lock (and an alert the first
    /// time).
    pub lock_every: u32,
    /// Wait after the first delayed failure, in milliseconds; doubles.
    pub base_delay_ms: u64,
    /// Longest wait between attempts, in milliseconds.
    pub max_delay_ms: u64,
    /// The first lock, in seconds; each further lock doubles it.
    pub lock_secs: u64,
    /// Failures at which the lock becomes [`Limits::final_lock_secs`].
    pub final_after: u32,
    /// The lock once `final_after` failures are reached.
    pub final_lock_secs: u64,
    /// Counters are forgotten after this long without a failure.
    pub memory_secs: u64,
}

impl Policy {
    /// The defaults (see the module doc for why).
    pub const DEFAULT: Policy = Policy {
        account: Limits {
            free: 3,
            lock_every: 10,
            base_delay_ms: 1_000,
            max_delay_ms: 60_000,
            lock_secs: 15 * 60,
            final_after: 100,
            final_lock_secs: 30 * 24 * 60 * 60,
            // Never: NIST counts consecutive failures until a success.
            memory_secs: u64::MAX,
        },
        global: GlobalLimits {
            free: 20,
            base_delay_ms: 1_000,
            max_delay_ms: 10_000,
            lock_after: 100,
            lock_secs: 24 * 60 * 60,
        },
        source: Limits {
            free: 10,
            lock_every: 30,
            base_delay_ms: 1_000,
            max_delay_ms: 60_000,
            lock_secs: 15 * 60,
            final_after: 300,
            final_lock_secs: 24 * 60 * 60,
            memory_secs: 60 * 60,
        },
        bulk_records: 30,
        bulk_window_secs: 10 * 60,
    };

    /// The defaults, shortened by the `BENCH_SIGNIN_*` and `BENCH_ALERT_*`
    /// variables when set.
    pub fn from_env() -> Result<Policy, ServerError> {
        let mut p = Policy::DEFAULT;
        let delay = shorter("BENCH_SIGNIN_DELAY_MS", p.account.base_delay_ms)?;
        let lock = shorter("BENCH_SIGNIN_LOCK_SECS", p.account.lock_secs)?;
        for l in [&mut p.account, &mut p.source] {
            l.base_delay_ms = delay;
            // The cap keeps its ratio to the first wait (60 s to 1 s).
            l.max_delay_ms = l.max_delay_ms.min(delay.saturating_mul(60));
            l.lock_secs = lock;
        }
        p.global.base_delay_ms = delay;
        p.global.max_delay_ms = p.global.max_delay_ms.min(delay.saturating_mul(10));
        p.global.lock_secs = p.global.lock_secs.min(lock);
        p.bulk_records = shorter("BENCH_ALERT_BULK_RECORDS", p.bulk_records as u64)? as usize;
        p.bulk_window_secs = shorter("BENCH_ALERT_BULK_WINDOW_SECS", p.bulk_window_secs)?;
        Ok(p)
    }
}

fn shorter(name: &str, default: u64) -> Result<u64, ServerError> {
    let Ok(raw) = std::env::var(name) else {
        return Ok(default);
    };
    let value: u64 = raw.trim().parse().map_err(|_| ServerError::BadConfig {
        source_name: name.into(),
        reason: format!("{raw:?} is not a whole number"),
    })?;
    if value == 0 || value > default {
        return Err(ServerError::BadConfig {
            source_name: name.into(),
            reason: format!(
                "{value} is outside 1..={default}; this setting may only lower the default of {default}"
            ),
        });
    }
    Ok(value)
}

#[derive(Clone, Copy, Debug, Default)]
struct Counter {
    failures: u32,
    last_failure_ms: u64,
}

impl Counter {
    /// When the next attempt may be made, in ms since the epoch.
    fn next_allowed_ms(&self, l: &Limits) -> u64 {
        let f = self.failures;
        if f == 0 {
            return 0;
        }
        let wait_ms = if f >= l.final_after {
            l.final_lock_secs.saturating_mul(1000)
        } else if f % l.lock_every == 0 {
            let doublings = (f / l.lock_every - 1).min(20);
            l.lock_secs.saturating_mul(1000) << doublings
        } else if f > l.free {
            let doublings = (f - l.free - 1).min(20);
            (l.base_delay_ms << doublings).min(l.max_delay_ms)
        } else {
            0
        };
        self.last_failure_ms.saturating_add(wait_ms)
    }

    fn is_lock(&self, l: &Limits) -> bool {
        self.failures >= l.lock_every && self.failures % l.lock_every == 0
            || self.failures >= l.final_after
    }

    fn forget_if_stale(&mut self, l: &Limits, now_ms: u64) {
        // Quiet time counts from the end of any wait, so sitting out a
        // lock does not wipe the count.
        let quiet_since = self.last_failure_ms.max(self.next_allowed_ms(l));
        let stale =
            now_ms >= quiet_since && now_ms - quiet_since > l.memory_secs.saturating_mul(1000);
        if stale {
            *self = Counter::default();
        }
    }
}

/// The answer to "may this sign-in attempt go ahead?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Check the password.
    Go,
    /// Refuse without checking; try again after this many seconds (at
    /// least 1).
    Wait {
        /// Seconds to wait.
        secs: u64,
        /// Whether this is a lock rather than a short delay.
        locked: bool,
    },
}

/// What a failure crossed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crossed {
    /// `failed_sign_ins_account` or `failed_sign_ins_source`.
    pub kind: &'static str,
    /// The consecutive failures counted.
    pub failures: u32,
}

/// Failed sign-in counters, kept in `bench.db` (table `signin_failures`) so
/// a restart lifts no lock: per (username, source network), per username
/// across networks, and per source address. Usernames are stored only as a
/// keyed HMAC ([`NameKey`]), never as typed.
pub struct Throttle {
    policy: Policy,
    key: NameKey,
    db: Mutex<Connection>,
}

const THROTTLE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS signin_failures (
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    network TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_ms INTEGER NOT NULL,
    PRIMARY KEY (scope, name, network)
);";

/// Scope of the escalating lock: one username from one network.
const ACCOUNT_NET: &str = "account_network";
/// Scope of the alert and the mild delay: one username, any network.
const ACCOUNT: &str = "account";
/// Scope of the per-address lock.
const SOURCE: &str = "source";

/// The HMAC-SHA-256 key that turns a typed username into a stable tag, so
/// repeated attempts on one name correlate (in the throttle and the audit
/// log) without storing what was typed, which may be a password typed in
/// the wrong field. Kept in the data directory (`signin-names.key`, 0600).
#[derive(Clone)]
pub struct NameKey(zeroize::Zeroizing<[u8; 32]>);

impl NameKey {
    /// Loads the key at `path`, creating it when absent: losing it only
    /// stops old tags correlating with new ones.
    pub fn load_or_create(path: &std::path::Path) -> Result<NameKey, ServerError> {
        if path.exists() {
            return Ok(NameKey(crate::files::read_key32(path)?));
        }
        let key = NameKey::random();
        crate::files::write_private(path, key.0.as_ref())?;
        Ok(key)
    }

    /// A key for this process only (tests).
    pub fn random() -> NameKey {
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, key.as_mut());
        NameKey(key)
    }

    /// The tag of a typed username (trimmed, case folded), hex.
    pub fn tag(&self, username: &str) -> String {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.0.as_ref())
            .expect("HMAC takes any key length");
        mac.update(account_key(username).as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

fn account_key(username: &str) -> String {
    username.trim().to_lowercase()
}

impl Throttle {
    /// Counters under `policy` in the database at `path` (`bench.db`).
    pub fn open(
        path: &std::path::Path,
        key: NameKey,
        policy: Policy,
    ) -> Result<Throttle, ServerError> {
        let db = |e| ServerError::database(path, e);
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        conn.execute_batch(THROTTLE_SCHEMA).map_err(db)?;
        Ok(Throttle {
            policy,
            key,
            db: Mutex::new(conn),
        })
    }

    /// Counters in a private in-memory database (tests).
    pub fn new(policy: Policy) -> Throttle {
        let conn = Connection::open_in_memory().expect("in-memory SQLite opens");
        conn.execute_batch(THROTTLE_SCHEMA)
            .expect("the throttle schema is valid");
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS accounts (id TEXT, username TEXT);
             CREATE TABLE IF NOT EXISTS known_networks (account_id TEXT, network TEXT);",
        )
        .expect("test tables");
        Throttle {
            policy,
            key: NameKey::random(),
            db: Mutex::new(conn),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The key that tags usernames.
    pub fn name_key(&self) -> &NameKey {
        &self.key
    }

    fn get(conn: &Connection, scope: &str, name: &str, network: &str) -> rusqlite::Result<Counter> {
        conn.query_row(
            "SELECT failures, last_failure_ms FROM signin_failures WHERE scope = ?1 AND name = ?2 AND network = ?3",
            rusqlite::params![scope, name, network],
            |r| {
                Ok(Counter {
                    failures: r.get::<_, i64>(0)? as u32,
                    last_failure_ms: r.get::<_, i64>(1)? as u64,
                })
            },
        )
        .optional()
        .map(Option::unwrap_or_default)
    }

    fn put(
        conn: &Connection,
        scope: &str,
        name: &str,
        network: &str,
        c: Counter,
    ) -> rusqlite::Result<()> {
        if c.failures == 0 {
            conn.execute(
                "DELETE FROM signin_failures WHERE scope = ?1 AND name = ?2 AND network = ?3",
                rusqlite::params![scope, name, network],
            )?;
        } else {
            conn.execute(
                "INSERT INTO signin_failures (scope, name, network, failures, last_failure_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (scope, name, network) DO UPDATE SET failures = ?4, last_failure_ms = ?5",
                rusqlite::params![scope, name, network, c.failures as i64, c.last_failure_ms as i64],
            )?;
        }
        Ok(())
    }

    /// Whether the account named `username` has completed a sign-in from
    /// `network` before.
    fn known_network(conn: &Connection, username: &str, network: &str) -> rusqlite::Result<bool> {
        conn.query_row(
            "SELECT count(*) FROM known_networks n JOIN accounts a ON a.id = n.account_id
             WHERE a.username = ?1 AND n.network = ?2",
            rusqlite::params![username.trim(), network],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
    }

    /// Whether an attempt for `username` from `source` may go ahead now.
    /// A database failure refuses the attempt for a few seconds (fail
    /// closed) and is logged.
    pub fn check(&self, username: &str, source: IpAddr, now_ms: u64) -> Decision {
        match self.try_check(username, source, now_ms) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "sign-in throttle unreadable; refusing the attempt");
                Decision::Wait {
                    secs: 5,
                    locked: false,
                }
            }
        }
    }

    fn try_check(&self, username: &str, source: IpAddr, now_ms: u64) -> rusqlite::Result<Decision> {
        let p = &self.policy;
        let conn = self.db.lock().unwrap_or_else(|e| e.into_inner());
        let name = self.key.tag(username);
        let network = network_of(source);
        let mut until = 0;
        let mut locked = false;

        let mut c = Self::get(&conn, ACCOUNT_NET, &name, &network)?;
        c.forget_if_stale(&p.account, now_ms);
        let a = c.next_allowed_ms(&p.account);
        if a > until {
            until = a;
            locked = c.is_lock(&p.account);
        }

        let g = Self::get(&conn, ACCOUNT, &name, "")?;
        let known =
            g.failures >= p.global.lock_after && Self::known_network(&conn, username, &network)?;
        let (g_until, g_locked) = p.global.next_allowed_ms(&g, known);
        if g_until > until {
            until = g_until;
            locked = g_locked;
        }

        let mut c = Self::get(&conn, SOURCE, &source.to_string(), "")?;
        c.forget_if_stale(&p.source, now_ms);
        let s = c.next_allowed_ms(&p.source);
        if s > until {
            until = s;
            locked = c.is_lock(&p.source);
        }
        Ok(if now_ms >= until {
            Decision::Go
        } else {
            Decision::Wait {
                secs: (until - now_ms).div_ceil(1000).max(1),
                locked,
            }
        })
    }

    /// Counts a failed attempt; returns the alerts it crossed (the 10th
    /// consecutive failure on a username from any networks, the first lock
    /// of an address).
    pub fn fail(&self, username: &str, source: IpAddr, now_ms: u64) -> Vec<Crossed> {
        self.try_fail(username, source, now_ms).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot count a failed sign-in");
            Vec::new()
        })
    }

    fn try_fail(
        &self,
        username: &str,
        source: IpAddr,
        now_ms: u64,
    ) -> rusqlite::Result<Vec<Crossed>> {
        let p = &self.policy;
        let mut conn = self.db.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let name = self.key.tag(username);
        let network = network_of(source);
        let mut crossed = Vec::new();

        let mut c = Self::get(&tx, ACCOUNT_NET, &name, &network)?;
        c.forget_if_stale(&p.account, now_ms);
        c.failures += 1;
        c.last_failure_ms = now_ms;
        Self::put(&tx, ACCOUNT_NET, &name, &network, c)?;

        let mut g = Self::get(&tx, ACCOUNT, &name, "")?;
        g.failures += 1;
        g.last_failure_ms = now_ms;
        Self::put(&tx, ACCOUNT, &name, "", g)?;
        if g.failures == p.account.lock_every {
            crossed.push(Crossed {
                kind: "failed_sign_ins_account",
                failures: g.failures,
            });
        }

        let ip = source.to_string();
        let mut c = Self::get(&tx, SOURCE, &ip, "")?;
        c.forget_if_stale(&p.source, now_ms);
        c.failures += 1;
        c.last_failure_ms = now_ms;
        Self::put(&tx, SOURCE, &ip, "", c)?;
        if c.failures == p.source.lock_every {
            crossed.push(Crossed {
                kind: "failed_sign_ins_source",
                failures: c.failures,
            });
        }
        tx.commit()?;
        Ok(crossed)
    }

    /// A completed sign-in clears the username's counters on every network
    /// (not the address's: one person's success says nothing about
    /// another's guesses).
    pub fn succeed(&self, username: &str) {
        if let Err(e) = self.unlock(username) {
            tracing::error!(error = %e, "cannot clear a sign-in counter");
        }
    }

    /// Clears every counter of a username (a completed sign-in, or
    /// `bench-server user unlock`); returns the counters removed.
    pub fn unlock(&self, username: &str) -> rusqlite::Result<usize> {
        let conn = self.db.lock().unwrap_or_else(|e| e.into_inner());
        conn.execute(
            "DELETE FROM signin_failures WHERE scope IN (?1, ?2) AND name = ?3",
            rusqlite::params![ACCOUNT_NET, ACCOUNT, self.key.tag(username)],
        )
    }
}

/// Distinct client records read per account in a sliding window.
pub struct BulkAccess {
    records: usize,
    window_ms: u64,
    reads: Mutex<HashMap<Uuid, Window>>,
}

#[derive(Default)]
struct Window {
    reads: VecDeque<(u64, Uuid)>,
    alerted: bool,
}

impl BulkAccess {
    /// A tracker under `policy`.
    pub fn new(policy: &Policy) -> BulkAccess {
        BulkAccess {
            records: policy.bulk_records,
            window_ms: policy.bulk_window_secs * 1000,
            reads: Mutex::default(),
        }
    }

    /// Counts a read; returns the number of distinct records read in the
    /// window when this read takes it past the threshold (once per burst:
    /// the alert re-arms when the window empties below the threshold).
    pub fn read(&self, account: Uuid, record: Uuid, now_ms: u64) -> Option<usize> {
        let mut all = self.reads.lock().unwrap_or_else(|e| e.into_inner());
        let w = all.entry(account).or_default();
        while w
            .reads
            .front()
            .is_some_and(|(t, _)| now_ms.saturating_sub(*t) >= self.window_ms)
        {
            w.reads.pop_front();
        }
        w.reads.retain(|(_, r)| *r != record);
        w.reads.push_back((now_ms, record));
        let distinct = w.reads.len();
        if distinct <= self.records {
            w.alerted = false;
            return None;
        }
        if w.alerted {
            return None;
        }
        w.alerted = true;
        Some(distinct)
    }
}

/// The network an address belongs to, for the new-network alert: IPv4 /24,
/// IPv6 /48 (one site's allocation).
pub fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network_of(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));
    const OTHER_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 9));

    #[test]
    fn the_first_three_failures_cost_no_wait_and_then_waits_double() {
        let t = Throttle::new(Policy::DEFAULT);
        let now = 1_000_000_000;
        for _ in 0..3 {
            assert_eq!(t.check("amina", IP, now), Decision::Go);
            t.fail("amina", IP, now);
        }
        assert_eq!(t.check("amina", IP, now), Decision::Go);
        t.fail("amina", IP, now);
        assert_eq!(
            t.check("Amina", IP, now),
            Decision::Wait {
                secs: 1,
                locked: false
            }
        );
        assert_eq!(t.check("amina", IP, now + 1000), Decision::Go);
        t.fail("amina", IP, now + 1000);
        assert_eq!(
            t.check("amina", IP, now + 1000),
            Decision::Wait {
                secs: 2,
                locked: false
            }
        );
        assert_eq!(t.check("someone-else", OTHER_IP, now + 1000), Decision::Go);
    }

    /// Fails `n` times, each as soon as allowed; returns the time after.
    fn fail_n(t: &Throttle, user: &str, ip: IpAddr, mut now: u64, n: u32) -> (u64, Vec<Crossed>) {
        let mut crossed = Vec::new();
        for _ in 0..n {
            if let Decision::Wait { secs, .. } = t.check(user, ip, now) {
                now += secs * 1000;
            }
            assert_eq!(t.check(user, ip, now), Decision::Go);
            crossed.extend(t.fail(user, ip, now));
        }
        (now, crossed)
    }

    #[test]
    fn the_tenth_failure_locks_the_account_for_fifteen_minutes_and_alerts_once() {
        let t = Throttle::new(Policy::DEFAULT);
        let (now, crossed) = fail_n(&t, "amina", IP, 5_000_000, 9);
        assert!(crossed.is_empty(), "no alert before the threshold");
        let (now, crossed) = fail_n(&t, "amina", IP, now, 1);
        assert_eq!(
            crossed,
            vec![Crossed {
                kind: "failed_sign_ins_account",
                failures: 10
            }]
        );
        assert_eq!(
            t.check("amina", IP, now),
            Decision::Wait {
                secs: 15 * 60,
                locked: true
            }
        );
        assert_eq!(t.check("amina", IP, now + 15 * 60 * 1000), Decision::Go);
        let (_, crossed) = fail_n(&t, "amina", IP, now + 15 * 60 * 1000, 1);
        assert!(crossed.is_empty(), "the alert is raised once per run");
    }

    #[test]
    fn locks_double_and_the_hundredth_failure_locks_for_thirty_days() {
        let t = Throttle::new(Policy::DEFAULT);
        let (now, _) = fail_n(&t, "amina", IP, 0, 20);
        assert_eq!(
            t.check("amina", IP, now),
            Decision::Wait {
                secs: 30 * 60,
                locked: true
            }
        );
        let (now, _) = fail_n(&t, "amina", IP, now, 80);
        assert_eq!(
            t.check("amina", IP, now),
            Decision::Wait {
                secs: 30 * 24 * 60 * 60,
                locked: true
            }
        );
    }

    #[test]
    fn a_lock_from_one_network_does_not_keep_the_practitioner_out_of_another() {
        let t = Throttle::new(Policy::DEFAULT);
        let (now, crossed) = fail_n(&t, "amina", IP, 1_000_000_000, 10);
        assert_eq!(crossed.len(), 1, "the alert still comes at the 10th");
        assert!(matches!(
            t.check("amina", IP, now),
            Decision::Wait { locked: true, .. }
        ));
        assert_eq!(t.check("amina", OTHER_IP, now), Decision::Go);
    }

    #[test]
    fn a_hundred_failures_across_networks_lock_unknown_networks_but_only_slow_a_known_one() {
        let t = Throttle::new(Policy::DEFAULT);
        let mut now = 1_000_000_000;
        for net in 0..20u8 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::new(10, net, 0, 1));
            now = fail_n(&t, "amina", ip, now, 5).0;
        }
        let fresh = IpAddr::V4(std::net::Ipv4Addr::new(10, 200, 0, 1));
        match t.check("amina", fresh, now) {
            Decision::Wait { secs, locked } => assert!(locked && secs > 3600, "{secs}"),
            other => panic!("expected a lock on an unknown network, got {other:?}"),
        }
        {
            let conn = t.db.lock().unwrap();
            conn.execute_batch(
                "INSERT INTO accounts VALUES ('a1', 'amina');
                 INSERT INTO known_networks VALUES ('a1', '10.200.0.0/24');",
            )
            .unwrap();
        }
        match t.check("amina", fresh, now) {
            Decision::Wait { secs, locked } => assert!(!locked && secs <= 10, "{secs}"),
            Decision::Go => {}
        }
    }

    #[test]
    fn counters_survive_a_restart_and_unlock_clears_them() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("bench.db");
        let key = NameKey::random();
        let now = {
            let t = Throttle::open(&path, key.clone(), Policy::DEFAULT).unwrap();
            fail_n(&t, "amina", IP, 1_000_000_000, 10).0
        };
        let t = Throttle::open(&path, key.clone(), Policy::DEFAULT).unwrap();
        assert!(matches!(
            t.check("amina", IP, now),
            Decision::Wait { locked: true, .. }
        ));
        let stored: String =
            t.db.lock()
                .unwrap()
                .query_row("SELECT group_concat(name) FROM signin_failures", [], |r| {
                    r.get(0)
                })
                .unwrap();
        assert!(!stored.contains("amina"), "names are stored as tags only");
        assert_eq!(t.unlock("Amina").unwrap(), 2);
        assert_eq!(t.check("amina", IP, now), Decision::Go);
    }

    #[test]
    fn a_completed_sign_in_clears_the_account_counter() {
        let t = Throttle::new(Policy::DEFAULT);
        let (now, _) = fail_n(&t, "amina", IP, 0, 5);
        t.succeed("amina");
        // The address still remembers 5 failures, below its free 10.
        assert_eq!(t.check("amina", IP, now), Decision::Go);
    }

    #[test]
    fn thirty_failures_from_one_address_across_accounts_lock_it_and_alert() {
        let t = Throttle::new(Policy::DEFAULT);
        let mut now = 0;
        let mut alerts = Vec::new();
        for i in 0..30 {
            // A different username each time: no account counter grows.
            let user = format!("guess-{i}");
            if let Decision::Wait { secs, .. } = t.check(&user, IP, now) {
                now += secs * 1000;
            }
            let crossed = t.fail(&user, IP, now);
            assert_eq!(crossed.is_empty(), i < 29, "alert only at the 30th");
            alerts.extend(crossed);
        }
        assert_eq!(alerts[0].kind, "failed_sign_ins_source");
        assert!(matches!(
            t.check("new-name", IP, now),
            Decision::Wait { locked: true, .. }
        ));
        assert_eq!(t.check("new-name", OTHER_IP, now), Decision::Go);
    }

    #[test]
    fn an_address_is_forgotten_after_a_quiet_hour_but_an_account_only_by_success() {
        let t = Throttle::new(Policy::DEFAULT);
        let (now, _) = fail_n(&t, "amina", IP, 0, 8);
        let later = now + 2 * 60 * 60 * 1000;
        assert_eq!(t.check("amina", IP, later), Decision::Go);
        let (now, crossed) = fail_n(&t, "amina", OTHER_IP, later, 2);
        assert_eq!(crossed[0].kind, "failed_sign_ins_account", "8 + 2 = 10");
        // The first address forgot its 8; 21 more from it do not reach 30.
        let mut now = now + 16 * 60 * 1000;
        for i in 0..21 {
            let user = format!("guess-{i}");
            if let Decision::Wait { secs, .. } = t.check(&user, IP, now) {
                now += secs * 1000;
            }
            assert!(t.fail(&user, IP, now).is_empty());
        }
    }

    #[test]
    fn bulk_access_alerts_on_the_thirty_first_distinct_record_in_ten_minutes() {
        let b = BulkAccess::new(&Policy::DEFAULT);
        let who = Uuid::new_v4();
        let first = Uuid::new_v4();
        assert_eq!(b.read(who, first, 0), None);
        for i in 1..30 {
            assert_eq!(b.read(who, Uuid::new_v4(), i * 1000), None);
            // Re-reading a record does not count it twice.
            assert_eq!(b.read(who, first, i * 1000), None);
        }
        assert_eq!(b.read(who, Uuid::new_v4(), 40_000), Some(31));
        assert_eq!(b.read(who, Uuid::new_v4(), 41_000), None, "once per burst");
        assert_eq!(b.read(Uuid::new_v4(), Uuid::new_v4(), 41_000), None);
    }

    #[test]
    fn reads_spread_wider_than_the_window_raise_no_bulk_alert() {
        let b = BulkAccess::new(&Policy::DEFAULT);
        let who = Uuid::new_v4();
        for i in 0..100u64 {
            assert_eq!(b.read(who, Uuid::new_v4(), i * 21_000), None);
        }
    }

    #[test]
    fn networks_are_ipv4_slash_24_and_ipv6_slash_48() {
        assert_eq!(network_of("10.1.2.3".parse().unwrap()), "10.1.2.0/24");
        assert_eq!(
            network_of("2001:db8:abcd:12::1".parse().unwrap()),
            "2001:db8:abcd::/48"
        );
        assert_eq!(
            network_of("::ffff:10.1.2.3".parse().unwrap()),
            "10.1.2.0/24"
        );
    }
}
