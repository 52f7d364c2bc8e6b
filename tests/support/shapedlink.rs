//! A TCP proxy on 127.0.0.1 that behaves like a slow, far, lossy link (3G
//! in a Kenyan town: 1 Mbit/s, 300 ms round trip, 1 % loss), and counts
//! what crosses it: bytes each way, connections, TLS handshakes and HTTP
//! requests.
//!
//! Why a proxy and not `tc qdisc ... netem` in a network namespace: netem
//! needs the `sch_netem` kernel module, which this machine and typical CI
//! machines do not have ("Specified qdisc kind is unknown"). The proxy
//! models the same three things per direction, in user space:
//!
//! - **Rate.** Bytes leave in segments of [`LinkProfile::segment`] bytes
//!   (TCP's usual 1460-byte payload); each occupies the line for its size
//!   plus 40 bytes of IP and TCP headers at [`LinkProfile::bits_per_sec`],
//!   one after the other (exact serialisation, not a token bucket with a
//!   burst allowance). Up and down each have their own line, as on a real
//!   duplex link.
//! - **Delay.** Each segment is handed over [`LinkProfile::one_way`] after
//!   it finished serialising. A new connection's first byte may only leave
//!   one round trip after it was accepted: the TCP handshake (SYN, SYN-ACK)
//!   that loopback does instantly.
//! - **Loss**, as the cost TCP pays for it, since TCP never loses a byte
//!   for the application, it only pays time: each segment is lost with
//!   probability [`LinkProfile::loss`] (a seeded RNG per connection and
//!   direction), and a lost segment holds the line, and in order
//!   everything behind it, for a retransmission timeout (one round trip +
//!   200 ms, Linux's minimum RTO over the measured RTT) before it is sent
//!   again. That is what a loss costs when the retransmission timer fires.
//!   Fast retransmit (duplicate ACKs) recovers sooner, but then halves the
//!   congestion window, which costs throughput for several round trips
//!   after; the stall is the simple, pessimistic middle of the two.
//!
//! Not modelled: slow start (a fresh or long-idle connection's window
//! grows from 10 segments, roughly one extra round trip before it fills a
//! 1 Mbit/s × 300 ms pipe), and the radio's wake-up delay after idle. Both
//! cost the same fixed time per connection or pause whatever is sent, so
//! they matter for a many-request protocol and are a reason to count
//! requests (below), not bytes alone.
//!
//! **Counting requests without reading them.** TLS runs end to end through
//! the proxy, so it cannot see HTTP. It counts *flights* instead: a run of
//! client→server bytes that starts after the proxy has handed the client
//! something since the client last wrote. With HTTP/1.1 (no pipelining)
//! a client only speaks again when an answer came back, so on one
//! connection the first flight is the TLS ClientHello (a handshake, counted
//! in [`LinkTally::tls_handshakes`]) and every later flight of at least
//! [`MIN_REQUEST_FLIGHT`] bytes is one HTTP request: one round trip the
//! practitioner waits for ([`LinkTally::http_requests`]). Smaller flights
//! are TLS alone (a close alert is 24 bytes; a request carries at least a
//! request line, a host and a bearer token) and are not requests. A
//! client's TLS `Finished` and its first request leave together, as one
//! flight: the client waits for nothing between them.
//!
//! Not here: anything on an address other than loopback, or any change to
//! the bytes themselves (see [`crate::faultproxy`] for broken connections).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The shape of the simulated link, the same each way.
#[derive(Clone, Copy, Debug)]
pub struct LinkProfile {
    /// Line rate, bits per second.
    pub bits_per_sec: u64,
    /// One-way propagation delay.
    pub one_way: Duration,
    /// Probability that a segment is lost (0.0 to 1.0).
    pub loss: f64,
    /// TCP payload bytes per segment.
    pub segment: usize,
    /// Added to the round trip for the retransmission timeout.
    pub rto_over_rtt: Duration,
}

impl LinkProfile {
    /// 3G as it often is outside Nairobi: 1 Mbit/s, 300 ms round trip,
    /// 1 % segment loss.
    pub const THREE_G: LinkProfile = LinkProfile {
        bits_per_sec: 1_000_000,
        one_way: Duration::from_millis(150),
        loss: 0.01,
        segment: 1460,
        rto_over_rtt: Duration::from_millis(200),
    };

    /// The round trip time.
    pub fn rtt(&self) -> Duration {
        self.one_way * 2
    }

    /// How long a lost segment holds the line.
    pub fn rto(&self) -> Duration {
        self.rtt() + self.rto_over_rtt
    }

    /// How long `bytes` of payload occupy the line, headers included.
    pub fn serialise(&self, bytes: usize) -> Duration {
        let segments = bytes.div_ceil(self.segment.max(1)).max(1);
        let wire_bits = (bytes + segments * HEADER_BYTES) as u64 * 8;
        Duration::from_nanos(wire_bits * 1_000_000_000 / self.bits_per_sec.max(1))
    }
}

/// IP (20) and TCP (20) header bytes per segment, sent but not counted in
/// the byte totals (which are TCP payload, i.e. TLS bytes).
const HEADER_BYTES: usize = 40;

/// Smallest client flight counted as an HTTP request (see the module doc).
pub const MIN_REQUEST_FLIGHT: u64 = 100;

/// Segments queued per direction before the proxy stops reading: the
/// bottleneck's buffer (~93 KB, a few round trips of this link).
const QUEUE_SEGMENTS: usize = 64;

/// Live counters, updated as bytes cross.
#[derive(Debug, Default)]
pub struct LinkCounts {
    connections: AtomicU64,
    tls_handshakes: AtomicU64,
    http_requests: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    lost_segments: AtomicU64,
}

/// What crossed the link, at one moment; subtract two to get what one
/// step cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkTally {
    /// TCP connections accepted.
    pub connections: u64,
    /// Connections whose first flight was a TLS handshake record.
    pub tls_handshakes: u64,
    /// Client flights counted as HTTP requests (round trips).
    pub http_requests: u64,
    /// Client→server payload bytes.
    pub bytes_up: u64,
    /// Server→client payload bytes.
    pub bytes_down: u64,
    /// Segments the loss model held back for a retransmission timeout.
    pub lost_segments: u64,
}

impl std::ops::Sub for LinkTally {
    type Output = LinkTally;
    fn sub(self, earlier: LinkTally) -> LinkTally {
        LinkTally {
            connections: self.connections - earlier.connections,
            tls_handshakes: self.tls_handshakes - earlier.tls_handshakes,
            http_requests: self.http_requests - earlier.http_requests,
            bytes_up: self.bytes_up - earlier.bytes_up,
            bytes_down: self.bytes_down - earlier.bytes_down,
            lost_segments: self.lost_segments - earlier.lost_segments,
        }
    }
}

impl LinkCounts {
    /// The counters now.
    pub fn tally(&self) -> LinkTally {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LinkTally {
            connections: get(&self.connections),
            tls_handshakes: get(&self.tls_handshakes),
            http_requests: get(&self.http_requests),
            bytes_up: get(&self.bytes_up),
            bytes_down: get(&self.bytes_down),
            lost_segments: get(&self.lost_segments),
        }
    }
}

/// A running shaped link. Stops accepting when dropped.
pub struct ShapedLink {
    addr: SocketAddr,
    counts: Arc<LinkCounts>,
    task: tokio::task::JoinHandle<()>,
}

impl ShapedLink {
    /// Starts a proxy on an ephemeral 127.0.0.1 port forwarding to
    /// `upstream` (which must be a loopback address) through a link shaped
    /// like `profile`, with losses drawn from an RNG seeded with `seed`
    /// (connection n uses `seed + n`, so a run is repeatable).
    pub async fn start(upstream: SocketAddr, profile: LinkProfile, seed: u64) -> ShapedLink {
        assert!(
            upstream.ip().is_loopback(),
            "the shaped link only forwards to loopback"
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(LinkCounts::default());
        let task = {
            let counts = counts.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    let accepted = Instant::now();
                    let n = counts.connections.fetch_add(1, Ordering::Relaxed);
                    let counts = counts.clone();
                    tokio::spawn(async move {
                        let _ = carry(
                            client,
                            upstream,
                            profile,
                            seed.wrapping_add(n),
                            accepted,
                            &counts,
                        )
                        .await;
                    });
                }
            })
        };
        ShapedLink { addr, counts, task }
    }

    /// `https://127.0.0.1:<port>`: the URL the client should use. The
    /// server's certificate names 127.0.0.1, so TLS verifies through it.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// The proxy's own address (for plain TCP through the link).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What has crossed so far.
    pub fn tally(&self) -> LinkTally {
        self.counts.tally()
    }
}

impl Drop for ShapedLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Carries one connection both ways until both sides have closed.
async fn carry(
    client: TcpStream,
    upstream: SocketAddr,
    profile: LinkProfile,
    seed: u64,
    accepted: Instant,
    counts: &LinkCounts,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    // Bytes handed to the client so far: a client flight that starts after
    // this moved is an answer to something, i.e. a new round trip.
    let handed_down = AtomicU64::new(0);
    let mut up_rng = StdRng::seed_from_u64(seed.wrapping_mul(2));
    let mut down_rng = StdRng::seed_from_u64(seed.wrapping_mul(2).wrapping_add(1));
    // The TCP handshake: nothing leaves before one round trip has passed.
    let opened = accepted + profile.rtt();

    let up = direction(
        cr,
        sw,
        profile,
        &mut up_rng,
        opened,
        Side::Up(Flights::new(&handed_down)),
        counts,
    );
    let down = direction(
        sr,
        cw,
        profile,
        &mut down_rng,
        opened,
        Side::Down(&handed_down),
        counts,
    );
    let (up, down) = tokio::join!(up, down);
    up.and(down)
}

/// Which way a [`direction`] carries, with what it needs to count.
enum Side<'a> {
    Up(Flights<'a>),
    Down(&'a AtomicU64),
}

/// Tells client flights apart (see the module doc).
struct Flights<'a> {
    handed_down: &'a AtomicU64,
    /// `handed_down` at the previous client read; `None` before the first.
    seen: Option<u64>,
    /// Bytes in the current flight.
    size: u64,
    /// The current flight was already counted as a request.
    counted: bool,
}

impl<'a> Flights<'a> {
    fn new(handed_down: &'a AtomicU64) -> Flights<'a> {
        Flights {
            handed_down,
            seen: None,
            size: 0,
            counted: true,
        }
    }

    /// Notes `bytes` just read from the client.
    fn feed(&mut self, bytes: &[u8], counts: &LinkCounts) {
        let now = self.handed_down.load(Ordering::Relaxed);
        match self.seen {
            None => {
                // TLS record type 22: handshake (the ClientHello).
                if bytes.first() == Some(&22) {
                    counts.tls_handshakes.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(before) if before != now => {
                self.size = 0;
                self.counted = false;
            }
            Some(_) => {}
        }
        self.seen = Some(now);
        self.size += bytes.len() as u64;
        if !self.counted && self.size >= MIN_REQUEST_FLIGHT {
            self.counted = true;
            counts.http_requests.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Reads from `from`, sends through the simulated line, writes to `to`;
/// closes `to` once `from` has closed and everything was delivered.
async fn direction(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    profile: LinkProfile,
    rng: &mut StdRng,
    opened: Instant,
    mut side: Side<'_>,
    counts: &LinkCounts,
) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUE_SEGMENTS);
    let handed = match &side {
        Side::Down(handed) => Some(*handed),
        Side::Up(_) => None,
    };

    // The sending end: when each segment may arrive, by the line's rate,
    // delay and losses.
    let send = async move {
        let mut line_free = opened;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = from.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            match &mut side {
                Side::Up(flights) => {
                    flights.feed(&buf[..n], counts);
                    counts.bytes_up.fetch_add(n as u64, Ordering::Relaxed);
                }
                Side::Down(_) => {
                    counts.bytes_down.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
            for segment in buf[..n].chunks(profile.segment) {
                line_free = line_free.max(Instant::now());
                if rng.gen_bool(profile.loss) {
                    counts.lost_segments.fetch_add(1, Ordering::Relaxed);
                    line_free += profile.serialise(segment.len()) + profile.rto();
                }
                line_free += profile.serialise(segment.len());
                let arrives = line_free + profile.one_way;
                if tx.send((arrives, segment.to_vec())).await.is_err() {
                    return Ok(());
                }
            }
        }
    };

    // The receiving end: hands each segment over when it arrives.
    let deliver = async move {
        while let Some((arrives, segment)) = rx.recv().await {
            tokio::time::sleep_until(arrives).await;
            to.write_all(&segment).await?;
            if let Some(handed) = handed {
                handed.fetch_add(segment.len() as u64, Ordering::Relaxed);
            }
        }
        to.shutdown().await
    };

    let (sent, delivered) = tokio::join!(send, deliver);
    sent.and(delivered)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback server that answers every read with as many bytes as
    /// it read (`echo`), or with `bulk` bytes after the first read.
    async fn answering(bulk: Option<usize>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = conn.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let answer = vec![7u8; bulk.unwrap_or(n)];
                conn.write_all(&answer).await.unwrap();
            }
        });
        addr
    }

    const LOSSLESS: LinkProfile = LinkProfile {
        loss: 0.0,
        ..LinkProfile::THREE_G
    };

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hello_and_two_requests_count_as_one_handshake_and_two_round_trips_and_take_them() {
        let link = ShapedLink::start(answering(None).await, LOSSLESS, 1).await;
        let clock = Instant::now();
        let mut conn = TcpStream::connect(link.addr()).await.unwrap();
        let mut answer = [0u8; 200];
        for first_byte in [22u8, 23, 23] {
            let mut flight = [first_byte; 200];
            flight[1..].fill(0);
            conn.write_all(&flight).await.unwrap();
            conn.read_exact(&mut answer).await.unwrap();
        }
        let took = clock.elapsed();

        let tally = link.tally();
        assert_eq!(tally.connections, 1);
        assert_eq!(tally.tls_handshakes, 1);
        assert_eq!(tally.http_requests, 2);
        assert_eq!((tally.bytes_up, tally.bytes_down), (600, 600));
        // The TCP handshake, then three exchanges: four round trips.
        assert!(took >= LOSSLESS.rtt() * 4, "{took:?}");
        assert!(
            took < LOSSLESS.rtt() * 4 + Duration::from_secs(2),
            "{took:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bulk_transfer_takes_what_the_line_rate_allows() {
        let bytes = 125_000; // one second of payload at 1 Mbit/s
        let link = ShapedLink::start(answering(Some(bytes)).await, LOSSLESS, 1).await;
        let mut conn = TcpStream::connect(link.addr()).await.unwrap();
        tokio::time::sleep(LOSSLESS.rtt()).await;
        let clock = Instant::now();
        conn.write_all(&[1]).await.unwrap();
        let mut got = vec![0u8; bytes];
        conn.read_exact(&mut got).await.unwrap();
        let took = clock.elapsed();

        // 1 s of payload, 86 segments' headers (~0.03 s), one round trip.
        let floor = LOSSLESS.rtt() + LOSSLESS.serialise(bytes);
        assert!(floor > Duration::from_millis(1320), "{floor:?}");
        assert!(took >= floor, "{took:?}");
        assert!(took < floor + Duration::from_secs(1), "{took:?}");
        assert_eq!(link.tally().lost_segments, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_segment_holds_the_line_for_a_retransmission_timeout() {
        let always_lost = LinkProfile {
            one_way: Duration::from_millis(10),
            loss: 1.0,
            rto_over_rtt: Duration::from_millis(100),
            ..LinkProfile::THREE_G
        };
        let bytes = 5 * always_lost.segment;
        let link = ShapedLink::start(answering(Some(bytes)).await, always_lost, 1).await;
        let mut conn = TcpStream::connect(link.addr()).await.unwrap();
        let clock = Instant::now();
        conn.write_all(&[1]).await.unwrap();
        let mut got = vec![0u8; bytes];
        conn.read_exact(&mut got).await.unwrap();
        let took = clock.elapsed();

        // The one-byte ask and five answer segments, each lost once.
        assert_eq!(link.tally().lost_segments, 6);
        assert!(took >= always_lost.rto() * 6, "{took:?}");
    }
}
