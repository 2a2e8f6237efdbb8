//! Load for `scripts/bench-relay.sh`: allocates on a TURN relay over UDP
//! (ranat's client), binds a channel to a UDP sink of its own on loopback,
//! then sends one ChannelData frame of SIZE payload bytes as fast as it can
//! for SECONDS; the sink counts what the relay delivered.
//!
//!   relay_load SERVER SECRET_FILE SINK_IP SIZE SECONDS
//!
//! Prints one line: `sent N delivered M bytes B seconds S`. Loopback only.

use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ranat::io::driver::Driver;
use ranat::proto::machine::Machine;
use ranat::proto::relay::client::{RelayClient, RelayEvent, RelayTransport};
use ranat::proto::relay::credentials::Secret;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: relay_load SERVER SECRET_FILE SINK_IP SIZE SECONDS");
        std::process::exit(2);
    }
    let server: SocketAddr = args[1].parse().expect("SERVER is IP:PORT");
    let secret = std::fs::read_to_string(&args[2]).expect("read SECRET_FILE");
    let sink_ip: IpAddr = args[3].parse().expect("SINK_IP");
    let size: usize = args[4].parse().expect("SIZE");
    let seconds: f64 = args[5].parse().expect("SECONDS");
    assert!(
        server.ip().is_loopback() && sink_ip.is_loopback(),
        "loopback only"
    );
    assert!(seconds > 0.0 && seconds <= 30.0, "SECONDS in (0, 30]");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(server, secret.trim(), sink_ip, size, seconds));
}

async fn next_event(driver: &mut Driver<RelayClient>, limit: Instant) -> Option<RelayEvent> {
    driver.next(RelayClient::poll_event, Some(limit)).await
}

async fn run(server: SocketAddr, secret: &str, sink_ip: IpAddr, size: usize, seconds: f64) {
    let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let credentials = Secret::new(secret)
        .unwrap()
        .issue("bench", unix.as_secs() + 600)
        .unwrap();
    let client = RelayClient::new(server, RelayTransport::Udp, credentials, Instant::now());
    let mut driver = Driver::bind(client).await.expect("bind");
    let limit = Instant::now() + Duration::from_secs(5);
    loop {
        match next_event(&mut driver, limit).await {
            Some(RelayEvent::Allocated(_)) => break,
            Some(RelayEvent::AllocationFailed | RelayEvent::Closed) | None => {
                eprintln!("relay_load: no allocation");
                std::process::exit(1);
            }
            _ => {}
        }
    }
    let sink = StdUdpSocket::bind((sink_ip, 0)).unwrap();
    sink.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let sink_at = sink.local_addr().unwrap();
    driver
        .machine_mut()
        .bind_channel(Instant::now(), sink_at)
        .unwrap();
    loop {
        match next_event(&mut driver, limit).await {
            Some(RelayEvent::ChannelBound(_)) => break,
            Some(
                RelayEvent::ChannelFailed(_) | RelayEvent::PermissionFailed(_) | RelayEvent::Closed,
            )
            | None => {
                eprintln!("relay_load: no channel");
                std::process::exit(1);
            }
            _ => {}
        }
    }
    // The frame to repeat: what the client sends on its channel.
    driver
        .machine_mut()
        .send(Instant::now(), sink_at, &vec![0x5a; size])
        .unwrap();
    let frame = driver
        .machine_mut()
        .poll_transmit()
        .expect("a frame")
        .payload;
    let (_, sockets) = driver.into_parts().await;
    let socket = sockets[0].1.clone();

    let stop = Arc::new(AtomicBool::new(false));
    let counter = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut packets, mut bytes) = (0u64, 0u64);
            let mut buf = [0u8; 2048];
            loop {
                match sink.recv(&mut buf) {
                    Ok(n) => {
                        packets += 1;
                        bytes += n as u64;
                    }
                    Err(_) if stop.load(Ordering::Relaxed) => break,
                    Err(_) => {}
                }
            }
            (packets, bytes)
        })
    };
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let mut sent = 0u64;
    while Instant::now() < end {
        for _ in 0..64 {
            match socket.try_send_to(&frame, server) {
                Ok(_) => sent += 1,
                Err(_) => {
                    let _ = socket.writable().await;
                }
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    // What is still on its way arrives within the sink's read timeout.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (delivered, bytes) = counter.join().unwrap();
    println!("sent {sent} delivered {delivered} bytes {bytes} seconds {elapsed:.3}");
}
