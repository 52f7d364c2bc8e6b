//! A fault-injecting TCP proxy on 127.0.0.1, for testing sync on a bad
//! connection.
//!
//! The client's server URL points at the proxy; the proxy forwards bytes to
//! the real server. TLS runs end to end through it, so the proxy sees only
//! ciphertext and cannot read or forge anything: it can only do what a bad
//! network does. For each accepted connection it draws a [`Fault`] from a
//! seeded RNG, so a run is repeatable in what it decides (timing on a busy
//! machine still varies, so the exact bytes cut may not be):
//!
//! - cut the connection after a random number of bytes client→server
//!   (the request never arrives whole);
//! - cut after a random number of bytes server→client (the request arrived,
//!   the server acted on it, the answer is lost part way);
//! - drop the answer entirely: forward the request, close before a single
//!   byte of the answer comes back ("request sent, answer lost");
//! - delay the connection before forwarding anything;
//! - or pass it through untouched.
//!
//! Not here: anything on an address other than loopback, or anything that
//! understands HTTP or TLS.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything (until the connection's lifetime ends).
    Pass,
    /// Close both sides once this many bytes went client→server.
    CutUpstream(u64),
    /// Close both sides once this many bytes went server→client.
    CutDownstream(u64),
    /// Forward the request; close as soon as anything comes back after
    /// the request started, without passing it on.
    DropAnswer,
    /// Wait this long, then forward everything.
    Delay(Duration),
}

/// How often each fault happens, in parts of the whole.
#[derive(Clone, Copy, Debug)]
pub struct FaultMix {
    /// Weight of [`Fault::Pass`].
    pub pass: u32,
    /// Weight of [`Fault::CutUpstream`].
    pub cut_upstream: u32,
    /// Weight of [`Fault::CutDownstream`].
    pub cut_downstream: u32,
    /// Weight of [`Fault::DropAnswer`].
    pub drop_answer: u32,
    /// Weight of [`Fault::Delay`].
    pub delay: u32,
    /// Cuts happen at a byte offset below this.
    pub max_cut_offset: u64,
    /// Delays are below this.
    pub max_delay: Duration,
}

impl Default for FaultMix {
    fn default() -> Self {
        FaultMix {
            pass: 2,
            cut_upstream: 3,
            cut_downstream: 3,
            drop_answer: 3,
            delay: 1,
            max_cut_offset: 5_000,
            max_delay: Duration::from_millis(50),
        }
    }
}

/// Counts of what the proxy did, for the test's report.
#[derive(Debug, Default)]
pub struct FaultCounts {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections cut before the request was whole.
    pub cut_upstream: AtomicU64,
    /// Connections cut while the answer came back.
    pub cut_downstream: AtomicU64,
    /// Answers dropped after the request went through whole.
    pub dropped_answers: AtomicU64,
    /// Connections delayed.
    pub delayed: AtomicU64,
}

impl FaultCounts {
    /// All connections the proxy broke (cuts and dropped answers).
    pub fn cuts(&self) -> u64 {
        self.cut_upstream.load(Ordering::Relaxed)
            + self.cut_downstream.load(Ordering::Relaxed)
            + self.dropped_answers.load(Ordering::Relaxed)
    }
}

/// A running proxy. Stops accepting when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    /// What happened so far.
    pub counts: Arc<FaultCounts>,
    enabled: Arc<tokio::sync::watch::Sender<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on an ephemeral 127.0.0.1 port forwarding to
    /// `upstream` (which must be a loopback address), breaking connections
    /// as `mix` says, decided by an RNG seeded with `seed`.
    pub async fn start(upstream: SocketAddr, seed: u64, mix: FaultMix) -> FaultProxy {
        assert!(
            upstream.ip().is_loopback(),
            "the fault proxy only forwards to loopback"
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(FaultCounts::default());
        let enabled = Arc::new(tokio::sync::watch::channel(true).0);
        let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));
        let task = {
            let counts = counts.clone();
            let enabled = enabled.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    counts.connections.fetch_add(1, Ordering::Relaxed);
                    let mut switched = enabled.subscribe();
                    let faults_on = *switched.borrow_and_update();
                    let fault = if faults_on {
                        draw(&mut rng.lock().unwrap(), &mix)
                    } else {
                        Fault::Pass
                    };
                    let lifetime = if faults_on {
                        PASS_LIFETIME
                    } else {
                        Duration::from_secs(3600)
                    };
                    let counts = counts.clone();
                    tokio::spawn(async move {
                        // A connection made with faults off ends when they
                        // are switched back on, so it cannot carry every
                        // later request untouched.
                        tokio::select! {
                            _ = serve(client, upstream, fault, lifetime, &counts) => {}
                            _ = switched.changed(), if !faults_on => {}
                        }
                    });
                }
            })
        };
        FaultProxy {
            addr,
            counts,
            enabled,
            task,
        }
    }

    /// `https://127.0.0.1:<port>`: the URL the client should use. The
    /// server's certificate names 127.0.0.1, so TLS verifies through it.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// Turns faults on or off for connections accepted from now on (off:
    /// every new connection passes and lives on, e.g. for a final settling
    /// sync; connections already open keep their fault).
    pub fn set_faults(&self, on: bool) {
        self.enabled.send_replace(on);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn draw(rng: &mut StdRng, mix: &FaultMix) -> Fault {
    let total = mix.pass + mix.cut_upstream + mix.cut_downstream + mix.drop_answer + mix.delay;
    let mut pick = rng.gen_range(0..total);
    let offset = rng.gen_range(0..mix.max_cut_offset.max(1));
    let delay = Duration::from_micros(rng.gen_range(0..mix.max_delay.as_micros().max(1) as u64));
    for (weight, fault) in [
        (mix.pass, Fault::Pass),
        (mix.cut_upstream, Fault::CutUpstream(offset)),
        (mix.cut_downstream, Fault::CutDownstream(offset)),
        (mix.drop_answer, Fault::DropAnswer),
        (mix.delay, Fault::Delay(delay)),
    ] {
        if pick < weight {
            return fault;
        }
        pick -= weight;
    }
    Fault::Pass
}

/// Forwards one connection under `fault`. Returning closes both sockets.
async fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    fault: Fault,
    lifetime: Duration,
    counts: &FaultCounts,
) -> std::io::Result<()> {
    if let Fault::Delay(d) = fault {
        counts.delayed.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(d).await;
    }
    let server = TcpStream::connect(upstream).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();

    let up_limit = match fault {
        Fault::CutUpstream(n) => Some(n),
        _ => None,
    };
    let down_limit = match fault {
        Fault::CutDownstream(n) => Some(n),
        _ => None,
    };
    // For DropAnswer: set once the client has sent its second encrypted
    // record (the first is its handshake Finished; the second starts the
    // HTTP request).
    let request_started = Arc::new(std::sync::atomic::AtomicBool::new(false));

    let up = {
        let started = request_started.clone();
        async move {
            let mut buf = vec![0u8; 16 * 1024];
            let mut total = 0u64;
            let mut records = TlsRecords::default();
            loop {
                let n = cr.read(&mut buf).await?;
                if n == 0 {
                    sw.shutdown().await?;
                    return Ok::<_, std::io::Error>(false);
                }
                if let Some(limit) = up_limit {
                    if total + n as u64 >= limit {
                        let take = (limit - total) as usize;
                        sw.write_all(&buf[..take]).await?;
                        return Ok(true);
                    }
                }
                sw.write_all(&buf[..n]).await?;
                total += n as u64;
                if records.feed(&buf[..n]) >= 2 {
                    started.store(true, Ordering::Relaxed);
                }
            }
        }
    };
    let down = {
        let started = request_started.clone();
        async move {
            let mut buf = vec![0u8; 16 * 1024];
            let mut total = 0u64;
            loop {
                let n = sr.read(&mut buf).await?;
                if n == 0 {
                    cw.shutdown().await?;
                    return Ok::<_, std::io::Error>(false);
                }
                if fault == Fault::DropAnswer && started.load(Ordering::Relaxed) {
                    // Keep the server's side open a while, eating what it
                    // sends, so it finishes acting on the request (a
                    // closed socket might cancel it); then close.
                    let swallow = async {
                        while sr.read(&mut buf).await? > 0 {}
                        Ok::<_, std::io::Error>(())
                    };
                    let _ = tokio::time::timeout(ANSWER_GRACE, swallow).await;
                    return Ok(true);
                }
                if let Some(limit) = down_limit {
                    if total + n as u64 >= limit {
                        let take = (limit - total) as usize;
                        cw.write_all(&buf[..take]).await?;
                        return Ok(true);
                    }
                }
                cw.write_all(&buf[..n]).await?;
                total += n as u64;
            }
        }
    };
    // A connection left whole is closed after a while, as NAT boxes and
    // flaky Wi-Fi do; otherwise one good pooled connection would carry
    // every later request and the faults would stop.
    let lifetime = tokio::time::sleep(lifetime);
    tokio::pin!(lifetime);
    tokio::pin!(up, down);
    // Whichever direction decides to cut ends the connection: both halves
    // are dropped on return. A plain close in one direction lets the other
    // finish.
    let mut up_done = false;
    let mut down_done = false;
    loop {
        tokio::select! {
            _ = &mut lifetime => return Ok(()),
            r = &mut up, if !up_done => {
                match r {
                    Ok(true) => { counts.cut_upstream.fetch_add(1, Ordering::Relaxed); return Ok(()); }
                    Ok(false) => up_done = true,
                    Err(e) => return Err(e),
                }
            }
            r = &mut down, if !down_done => {
                match r {
                    Ok(true) => {
                        let counter = if fault == Fault::DropAnswer { &counts.dropped_answers } else { &counts.cut_downstream };
                        counter.fetch_add(1, Ordering::Relaxed);
                        return Ok(());
                    }
                    Ok(false) => down_done = true,
                    Err(e) => return Err(e),
                }
            }
        }
        if up_done && down_done {
            return Ok(());
        }
    }
}

/// How long an unbroken connection lives. Short, so reused (pooled)
/// connections do not carry most requests past the faults.
const PASS_LIFETIME: Duration = Duration::from_millis(100);
/// How long a dropped answer's server side stays open, eating the answer.
const ANSWER_GRACE: Duration = Duration::from_millis(60);

/// Counts TLS application-data records (content type 23) in one direction
/// of a connection, from their 5-byte headers. Handshake records in TLS 1.3
/// after the hellos are also type 23, which is why the caller counts.
#[derive(Default)]
struct TlsRecords {
    header: Vec<u8>,
    body_left: usize,
    app_data: u32,
}

impl TlsRecords {
    /// Takes the next bytes; returns application-data records seen so far.
    fn feed(&mut self, mut bytes: &[u8]) -> u32 {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let skip = self.body_left.min(bytes.len());
                self.body_left -= skip;
                bytes = &bytes[skip..];
                continue;
            }
            let need = 5 - self.header.len();
            let take = need.min(bytes.len());
            self.header.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.header.len() == 5 {
                if self.header[0] == 23 {
                    self.app_data += 1;
                }
                self.body_left = u16::from_be_bytes([self.header[3], self.header[4]]) as usize;
                self.header.clear();
            }
        }
        self.app_data
    }
}
