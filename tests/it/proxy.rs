//! A fault-injecting TCP proxy the tests control: between the sync client and HQ it drops
//! connections in the middle of a request or of an answer, sends every request a second time on
//! its own connection (a repeat that races the original), delays traffic, or refuses all
//! connections (offline). Seeded, so a failing run can be replayed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    /// Probability that a connection is cut after part of the request went through.
    pub drop_request: f64,
    /// Probability that a connection is cut after the request went through and part of the answer came back.
    pub drop_answer: f64,
    /// Probability that the request bytes are also sent to HQ a second time.
    pub repeat: f64,
    /// Probability that a connection's traffic is delayed (up to `max_delay_ms` per chunk).
    pub delay: f64,
    pub max_delay_ms: u64,
    /// Refuse every connection.
    pub offline: bool,
    /// Carry requests at most this many bytes a second (a slow uplink, so a push is in flight
    /// long enough for a test to act in the middle of it).
    pub uplink_bytes_per_sec: Option<u64>,
}

impl FaultPlan {
    pub fn none() -> FaultPlan {
        FaultPlan::default()
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub connections: u64,
    pub dropped_requests: u64,
    pub dropped_answers: u64,
    pub repeats: u64,
    pub delayed: u64,
    pub refused: u64,
}

struct Ctl {
    plan: FaultPlan,
    rng: StdRng,
    upstream: SocketAddr,
    counts: Counts,
}

#[derive(Clone)]
pub struct Proxy {
    pub url: String,
    ctl: Arc<Mutex<Ctl>>,
    cuts: Arc<tokio::sync::watch::Sender<u64>>,
}

#[derive(Clone, Copy)]
enum Mode {
    Pass,
    CutRequest(usize),
    CutAnswer(usize),
    Repeat,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr, seed: u64) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let ctl = Arc::new(Mutex::new(Ctl {
            plan: FaultPlan::none(),
            rng: StdRng::seed_from_u64(seed),
            upstream,
            counts: Counts::default(),
        }));
        let c = ctl.clone();
        let cuts = Arc::new(tokio::sync::watch::channel(0u64).0);
        let cut = cuts.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let c = c.clone();
                let mut cut = cut.subscribe();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = handle(sock, c) => {},
                        _ = cut.changed() => {},
                    }
                });
            }
        });
        Proxy {
            url: format!("http://{addr}"),
            ctl,
            cuts,
        }
    }

    /// Cut every open connection now (the link goes down for a moment).
    pub fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }

    pub fn set_plan(&self, plan: FaultPlan) {
        self.ctl.lock().unwrap().plan = plan;
    }

    pub fn set_upstream(&self, upstream: SocketAddr) {
        self.ctl.lock().unwrap().upstream = upstream;
    }

    pub fn counts(&self) -> Counts {
        self.ctl.lock().unwrap().counts
    }
}

async fn handle(mut client: TcpStream, ctl: Arc<Mutex<Ctl>>) {
    let (mode, delay, upstream, seed, rate) = {
        let mut c = ctl.lock().unwrap();
        c.counts.connections += 1;
        if c.plan.offline {
            c.counts.refused += 1;
            return;
        }
        let p = c.plan.clone();
        let r: f64 = c.rng.random();
        let mode = if r < p.drop_request {
            c.counts.dropped_requests += 1;
            Mode::CutRequest(c.rng.random_range(1..600))
        } else if r < p.drop_request + p.drop_answer {
            c.counts.dropped_answers += 1;
            Mode::CutAnswer(c.rng.random_range(1..400))
        } else if r < p.drop_request + p.drop_answer + p.repeat {
            c.counts.repeats += 1;
            Mode::Repeat
        } else {
            Mode::Pass
        };
        let delay = if c.rng.random::<f64>() < p.delay && p.max_delay_ms > 0 {
            c.counts.delayed += 1;
            Some(p.max_delay_ms)
        } else {
            None
        };
        (
            mode,
            delay,
            c.upstream,
            c.rng.random::<u64>(),
            p.uplink_bytes_per_sec,
        )
    };
    let Ok(server) = TcpStream::connect(upstream).await else {
        let _ = client.shutdown().await;
        return;
    };
    let shadow = if matches!(mode, Mode::Repeat) {
        TcpStream::connect(upstream).await.ok()
    } else {
        None
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut rng2 = StdRng::seed_from_u64(seed ^ 0x5555);
    let up = async move {
        let mut shadow = shadow.map(|s| {
            let (mut r, w) = s.into_split();
            // Drain the repeat's answers so HQ is never blocked writing them.
            tokio::spawn(async move {
                let mut sink = vec![0u8; 16 * 1024];
                while let Ok(n) = r.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            });
            w
        });
        let mut buf = vec![0u8; if rate.is_some() { 1024 } else { 16 * 1024 }];
        let mut sent = 0usize;
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if let Some(rate) = rate {
                tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate.max(1) as f64)).await;
            }
            if let Some(ms) = delay {
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..=ms))).await;
            }
            let mut chunk = &buf[..n];
            if let Mode::CutRequest(k) = mode {
                let left = k.saturating_sub(sent).min(n.saturating_sub(1).max(1));
                chunk = &buf[..left.min(n)];
                let _ = sw.write_all(chunk).await;
                return;
            }
            if sw.write_all(chunk).await.is_err() {
                return;
            }
            sent += chunk.len();
            if let Some(w) = shadow.as_mut() {
                let _ = w.write_all(chunk).await;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut got = 0usize;
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if let Some(ms) = delay {
                tokio::time::sleep(Duration::from_millis(rng2.random_range(0..=ms))).await;
            }
            if let Mode::CutAnswer(k) = mode {
                let left = k.saturating_sub(got).min(n);
                let _ = cw.write_all(&buf[..left]).await;
                got += left;
                if got >= k || left < n {
                    return;
                }
                continue;
            }
            if cw.write_all(&buf[..n]).await.is_err() {
                return;
            }
            got += n;
        }
    };
    // Either direction ending ends the connection (both halves are dropped here).
    tokio::select! {
        _ = up => {},
        _ = down => {},
    }
}
