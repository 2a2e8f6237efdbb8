//! Load for `scripts/bench-rendezvous.sh`: WORKERS rooms at a time, each
//! created by a helper on HELPER_HOST and joined by a novice on
//! NOVICE_HOST, both sending their PAKE message and one last sealed
//! message, until the server closes both: one room completed. Each room's
//! two clients come from an address of their own in 127.73.0.0/16, so the
//! per-source limits (20 rooms at once per source) never get in the way.
//! Runs for SECONDS, every step bounded.
//!
//!   rendezvous_load HELPER_HOST NOVICE_HOST WORKERS SECONDS
//!
//! Prints one line: `completed N failed F seconds S`. Loopback only.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

/// How long one step (connecting, one message) may take.
const STEP: Duration = Duration::from_secs(5);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: rendezvous_load HELPER_HOST NOVICE_HOST WORKERS SECONDS");
        std::process::exit(2);
    }
    let helper: SocketAddr = args[1].parse().expect("HELPER_HOST is IP:PORT");
    let novice: SocketAddr = args[2].parse().expect("NOVICE_HOST is IP:PORT");
    let workers: usize = args[3].parse().expect("WORKERS");
    let seconds: f64 = args[4].parse().expect("SECONDS");
    assert!(
        helper.ip().is_loopback() && novice.ip().is_loopback(),
        "loopback only"
    );
    assert!((1..=256).contains(&workers), "WORKERS in 1..=256");
    assert!(seconds > 0.0 && seconds <= 30.0, "SECONDS in (0, 30]");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (completed, failed, took) = runtime.block_on(run(helper, novice, workers, seconds));
    println!(
        "completed {completed} failed {failed} seconds {:.3}",
        took.as_secs_f64()
    );
}

async fn run(
    helper: SocketAddr,
    novice: SocketAddr,
    workers: usize,
    seconds: f64,
) -> (u64, u64, Duration) {
    let next_source = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let next_source = Arc::clone(&next_source);
        tasks.spawn(async move {
            let (mut completed, mut failed) = (0u64, 0u64);
            while Instant::now() < end {
                let n = next_source.fetch_add(1, Ordering::Relaxed);
                let source = IpAddr::V4(Ipv4Addr::new(127, 73, (n >> 8) as u8, n as u8));
                match room(helper, novice, source).await {
                    Ok(()) => completed += 1,
                    Err(step) => {
                        failed += 1;
                        if failed <= 3 {
                            eprintln!("rendezvous_load: a room failed at {step}");
                        }
                    }
                }
            }
            (completed, failed)
        });
    }
    let (mut completed, mut failed) = (0, 0);
    for (c, f) in tasks.join_all().await {
        completed += c;
        failed += f;
    }
    (completed, failed, started.elapsed())
}

async fn connect(from: IpAddr, to: SocketAddr) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::new(from, 0)).ok()?;
    timeout(STEP, socket.connect(to)).await.ok()?.ok()
}

async fn send(stream: &mut TcpStream, message: Value) -> Option<()> {
    let body = serde_json::to_vec(&message).ok()?;
    let mut frame = u32::try_from(body.len()).ok()?.to_be_bytes().to_vec();
    frame.extend(body);
    timeout(STEP, stream.write_all(&frame)).await.ok()?.ok()
}

async fn read(stream: &mut TcpStream) -> Option<Value> {
    let mut header = [0; 4];
    timeout(STEP, stream.read_exact(&mut header))
        .await
        .ok()?
        .ok()?;
    let mut body = vec![0; u32::from_be_bytes(header) as usize];
    timeout(STEP, stream.read_exact(&mut body))
        .await
        .ok()?
        .ok()?;
    serde_json::from_slice(&body).ok()
}

/// One room, from the helper's Hello to both connections closed; the
/// step that failed, if one did.
async fn room(
    helper_host: SocketAddr,
    novice_host: SocketAddr,
    source: IpAddr,
) -> Result<(), &'static str> {
    let mut helper = connect(source, helper_host)
        .await
        .ok_or("the helper's connect")?;
    send(
        &mut helper,
        json!({"type": "hello", "version": 2, "code": null}),
    )
    .await
    .ok_or("the helper's hello")?;
    let welcome = read(&mut helper).await.ok_or("the helper's welcome")?;
    let Some(code) = welcome["code"].as_str().map(str::to_string) else {
        eprintln!("rendezvous_load: the helper's welcome: got {welcome}");
        return Err("the helper's welcome");
    };
    let mut novice = connect(source, novice_host)
        .await
        .ok_or("the novice's connect")?;
    send(
        &mut novice,
        json!({"type": "hello", "version": 2, "code": code}),
    )
    .await
    .ok_or("the novice's hello")?;
    expect(&mut novice, "welcome", "the novice's welcome").await?;
    expect(&mut helper, "peer_joined", "peer_joined").await?;
    let pake = json!({"type": "pake", "message": "QUJD"});
    let last = json!({"type": "sealed", "sealed": "QUJD", "last": true});
    for side in [&mut helper, &mut novice] {
        send(side, pake.clone()).await.ok_or("a pake")?;
        send(side, last.clone()).await.ok_or("a sealed")?;
    }
    for side in [&mut helper, &mut novice] {
        expect(side, "peer_pake", "peer_pake").await?;
        expect(side, "peer_sealed", "peer_sealed").await?;
        // The server closes both once both sent their last.
        let mut rest = [0; 1];
        let closed = timeout(STEP, side.read(&mut rest)).await;
        (matches!(closed, Ok(Ok(0))))
            .then_some(())
            .ok_or("the close")?;
    }
    Ok(())
}

/// Reads a message of type `kind`; `step` names the failure otherwise.
async fn expect(
    stream: &mut TcpStream,
    kind: &str,
    step: &'static str,
) -> Result<(), &'static str> {
    let message = read(stream).await.ok_or(step)?;
    if message["type"] == kind {
        Ok(())
    } else {
        eprintln!("rendezvous_load: {step}: got {message}");
        Err(step)
    }
}
