//! INIT-5 from the embedder's side: the waiter runs on the embedder's std thread, watches the
//! events the switch asks for and delivers the signalled ones, with real threads signalling.
//! Every wait is bounded, so a broken waiter fails a test instead of hanging it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use mock_provider::{MockCatalog, MockConfig, MockLoader, MockTcp};
use spi_types::AddressFamily;
use switch_core::connection::{ConnectStatus, SwitchEvent, Via};
use switch_core::provider::EventHandle;
use switch_core::routing::SocketKind;
use switch_core::session::conn::SessionConfig;
use switch_core::{ProviderId, Switch, SwitchConfig};
use wsd_waiter::{Signals, Waiter};

/// The longest any single wait may take before the test fails.
const CAP: Duration = Duration::from_secs(5);
/// How long to wait to be fairly sure that nothing more arrives.
const QUIET: Duration = Duration::from_millis(50);

fn ev(n: u64) -> EventHandle {
    EventHandle(n)
}

fn recv(rx: &Receiver<EventHandle>) -> EventHandle {
    rx.recv_timeout(CAP)
        .expect("the waiter delivers within the cap")
}

fn assert_quiet(rx: &Receiver<EventHandle>) {
    match rx.recv_timeout(QUIET) {
        Err(RecvTimeoutError::Timeout) => {}
        other => panic!("expected no delivery, got {other:?}"),
    }
}

/// Waits (bounded) until `cond` holds.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + CAP;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn init_5_a_watched_event_signalled_by_another_thread_is_delivered_once() {
    let signals = Signals::new();
    let (waiter, rx) = Waiter::new(signals.clone());
    assert!(waiter.watch(ev(1)));
    assert!(!waiter.watch(ev(1)), "watching twice is one watch");
    let s = signals.clone();
    let provider = thread::spawn(move || s.signal(ev(1)));
    assert_eq!(recv(&rx), ev(1));
    assert!(provider.join().unwrap(), "the event was not set before");
    assert_quiet(&rx);
    assert!(!signals.is_set(ev(1)), "delivering resets the event");
    assert!(waiter.is_watching(ev(1)), "and it stays watched");

    // A new signal is a new delivery.
    assert!(signals.signal(ev(1)));
    assert_eq!(recv(&rx), ev(1));
    assert_quiet(&rx);
    waiter.shutdown();
}

#[test]
fn init_5_a_signal_of_an_unwatched_event_stays_set_until_it_is_watched() {
    let signals = Signals::new();
    let (waiter, rx) = Waiter::new(signals.clone());
    assert!(signals.signal(ev(2)));
    assert_quiet(&rx);
    assert!(signals.is_set(ev(2)), "nobody watches it: it stays set");
    assert!(waiter.watch(ev(2)));
    assert_eq!(recv(&rx), ev(2), "delivered as soon as it is watched");
    assert_quiet(&rx);
    assert!(!signals.is_set(ev(2)));
}

#[test]
fn init_5_signals_coalesce_until_the_event_is_delivered() {
    let signals = Signals::new();
    let (waiter, rx) = Waiter::new(signals.clone());
    assert!(signals.signal(ev(3)));
    assert!(
        !signals.signal(ev(3)),
        "setting a set event changes nothing"
    );
    waiter.watch(ev(3));
    assert_eq!(recv(&rx), ev(3));
    assert_quiet(&rx);
}

#[test]
fn init_5_unwatching_a_set_event_discards_it() {
    let signals = Signals::new();
    let (waiter, rx) = Waiter::new(signals.clone());
    // Set while nobody watches, then unwatched: the signal is gone.
    signals.signal(ev(4));
    assert!(!waiter.unwatch(ev(4)), "it was not watched");
    assert!(!signals.is_set(ev(4)), "but its signal is discarded");
    waiter.watch(ev(4));
    assert_quiet(&rx);

    // Watched, signalled and unwatched: the signal was delivered before the unwatch returned,
    // or never; in either case nothing of it arrives afterwards and the event is reset.
    for _ in 0..200 {
        signals.signal(ev(4));
        assert!(waiter.unwatch(ev(4)));
        assert!(!signals.is_set(ev(4)));
        while rx.try_recv().is_ok() {}
        assert!(waiter.watch(ev(4)));
    }
    assert!(waiter.unwatch(ev(4)));
    while rx.try_recv().is_ok() {}
    assert_quiet(&rx);
    assert!(!signals.is_watched(ev(4)));
}

#[test]
fn init_5_reset_clears_an_event_without_delivering_it() {
    let signals = Signals::new();
    let (waiter, rx) = Waiter::new(signals.clone());
    signals.signal(ev(5));
    assert!(signals.reset(ev(5)));
    assert!(!signals.reset(ev(5)), "it is no longer set");
    waiter.watch(ev(5));
    assert_quiet(&rx);
}

#[test]
fn init_5_apply_takes_watch_and_unwatch_and_leaves_the_rest() {
    let signals = Signals::new();
    let (waiter, rx) = Waiter::new(signals.clone());
    assert!(waiter.apply(&SwitchEvent::Watch(ev(6))));
    assert!(waiter.is_watching(ev(6)));
    assert_eq!(waiter.watched(), 1);
    signals.signal(ev(6));
    assert_eq!(recv(&rx), ev(6));

    assert!(waiter.apply(&SwitchEvent::Unwatch(ev(6))));
    assert!(!waiter.is_watching(ev(6)));
    assert_eq!(waiter.watched(), 0);
    signals.signal(ev(6));
    assert_quiet(&rx);
    assert!(signals.is_set(ev(6)), "unwatched again: it stays set");
}

#[test]
fn init_5_an_event_is_watched_by_one_waiter_of_a_registry() {
    let signals = Signals::new();
    let (a, rx_a) = Waiter::new(signals.clone());
    let (b, rx_b) = Waiter::new(signals.clone());
    assert!(a.watch(ev(7)));
    assert!(!b.watch(ev(7)), "a keeps it");
    assert!(!b.unwatch(ev(7)), "b cannot release a's watch");
    assert!(b.watch(ev(8)));
    signals.signal(ev(7));
    signals.signal(ev(8));
    assert_eq!(recv(&rx_a), ev(7));
    assert_eq!(recv(&rx_b), ev(8));
    assert_quiet(&rx_a);
    assert_quiet(&rx_b);

    // When a stops, its watch is released and b may take the event.
    a.shutdown();
    signals.signal(ev(7));
    assert!(b.watch(ev(7)));
    assert_eq!(recv(&rx_b), ev(7));
}

#[test]
fn init_5_concurrent_producers_every_watched_signal_is_delivered_exactly_once() {
    const PRODUCERS: u64 = 4;
    const SIGNALS_EACH: u64 = 20_000;
    const WATCHED: usize = 32;
    // Always watched, never watched, and watched on and off by the main thread.
    let watched: Vec<_> = (0..WATCHED as u64).map(ev).collect();
    let unwatched: Vec<_> = (100..132).map(ev).collect();
    let toggled: Vec<_> = (200..216).map(ev).collect();
    let all: Arc<Vec<EventHandle>> = Arc::new(
        watched
            .iter()
            .chain(&unwatched)
            .chain(&toggled)
            .copied()
            .collect(),
    );

    let signals = Signals::new();
    let (waiter, rx) = Waiter::new(signals.clone());
    for &e in &watched {
        assert!(waiter.watch(e));
    }

    let start = Arc::new(Barrier::new(PRODUCERS as usize + 1));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let signals = signals.clone();
            let all = Arc::clone(&all);
            let start = Arc::clone(&start);
            thread::spawn(move || {
                // Counts the signals that set their event (the others coalesced).
                let mut set: HashMap<EventHandle, u64> = HashMap::new();
                let mut x = 0x9E37_79B9_7F4A_7C15_u64 ^ p;
                start.wait();
                for i in 0..SIGNALS_EACH {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let at = (x % all.len() as u64) as usize;
                    let e = all[at];
                    if signals.signal(e) {
                        *set.entry(e).or_default() += 1;
                    }
                    // Pace: now and then let the waiter catch up on a watched event, so that
                    // events are set, delivered and set again many times (not only coalesced).
                    if i % 4 == 0 && at < WATCHED {
                        let until = Instant::now() + Duration::from_millis(2);
                        while signals.is_set(e) && Instant::now() < until {
                            thread::yield_now();
                        }
                    }
                }
                set
            })
        })
        .collect();

    // The main thread receives while it watches and unwatches the toggled events.
    let mut delivered: HashMap<EventHandle, u64> = HashMap::new();
    start.wait();
    let mut round = 0;
    while producers.iter().any(|p| !p.is_finished()) {
        for &e in &toggled {
            if round % 2 == 0 {
                waiter.watch(e);
            } else {
                waiter.unwatch(e);
            }
        }
        round += 1;
        for e in rx.try_iter() {
            *delivered.entry(e).or_default() += 1;
        }
        thread::yield_now();
    }
    let mut set: HashMap<EventHandle, u64> = HashMap::new();
    for p in producers {
        for (e, n) in p.join().unwrap() {
            *set.entry(e).or_default() += n;
        }
    }
    for &e in &toggled {
        waiter.unwatch(e);
    }

    // Every signal of a watched event arrives, exactly once.
    let expected: u64 = watched
        .iter()
        .map(|e| set.get(e).copied().unwrap_or(0))
        .sum();
    assert!(
        expected > WATCHED as u64,
        "the watched events were set, delivered and set again ({expected} signals)"
    );
    let deadline = Instant::now() + CAP;
    let count = |d: &HashMap<EventHandle, u64>| -> u64 {
        watched.iter().map(|e| d.get(e).copied().unwrap_or(0)).sum()
    };
    while count(&delivered) < expected {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = rx
            .recv_timeout(left)
            .expect("every watched signal is delivered within the cap");
        *delivered.entry(e).or_default() += 1;
    }
    // One never-watched event, watched at last, arrives (once: counted below). Toggled events
    // delivered before their last unwatch may still be in the channel ahead of it.
    let unwatched_first = unwatched[0];
    assert!(signals.is_set(unwatched_first) || !set.contains_key(&unwatched_first));
    signals.signal(unwatched_first);
    assert!(waiter.watch(unwatched_first));
    loop {
        let e = recv(&rx);
        *delivered.entry(e).or_default() += 1;
        if e == unwatched_first {
            break;
        }
    }
    // Stopping the waiter joins its thread, so what is in the channel now is all there is.
    waiter.shutdown();
    for e in rx.try_iter() {
        *delivered.entry(e).or_default() += 1;
    }

    for &e in &watched {
        assert_eq!(
            delivered.get(&e).copied().unwrap_or(0),
            set.get(&e).copied().unwrap_or(0),
            "{e:?}: one delivery per signal that set it"
        );
        assert!(!signals.is_set(e));
    }
    assert_eq!(delivered.get(&unwatched_first), Some(&1));
    assert!(!signals.is_set(unwatched_first));
    for &e in &unwatched[1..] {
        assert_eq!(delivered.get(&e), None, "{e:?} was never watched");
        assert_eq!(signals.is_set(e), set.contains_key(&e), "{e:?} stays set");
    }
    for &e in &toggled {
        let d = delivered.get(&e).copied().unwrap_or(0);
        let s = set.get(&e).copied().unwrap_or(0);
        assert!(d <= s, "{e:?}: {d} deliveries for {s} signals");
    }
}

#[test]
fn init_5_shutdown_joins_promptly_while_the_thread_is_blocked() {
    let signals = Signals::new();
    let (waiter, rx) = Waiter::new(signals.clone());
    waiter.watch(ev(9));
    // Let the thread go to sleep on its condition variable.
    thread::sleep(Duration::from_millis(20));
    assert_quiet(&rx);

    let t = Instant::now();
    waiter.shutdown();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(
        rx.recv_timeout(CAP),
        Err(RecvTimeoutError::Disconnected),
        "the thread is gone, and its sender with it"
    );
    assert!(!signals.is_watched(ev(9)), "its watches are released");
    signals.signal(ev(9));
    assert!(signals.is_set(ev(9)), "nobody delivers it any more");
}

#[test]
fn init_5_dropping_the_waiter_stops_its_thread() {
    let signals = Signals::new();
    let (waiter, rx) = Waiter::new(signals.clone());
    waiter.watch(ev(10));
    signals.signal(ev(10));
    assert_eq!(recv(&rx), ev(10));

    // A receiver blocked on another thread is released by the drop.
    let blocked = thread::spawn(move || rx.recv_timeout(CAP));
    thread::sleep(Duration::from_millis(10));
    let t = Instant::now();
    drop(waiter);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(blocked.join().unwrap(), Err(RecvTimeoutError::Disconnected));
    assert!(!signals.is_watched(ev(10)));
}

#[test]
fn init_5_a_waiter_whose_receiver_is_gone_keeps_resetting_and_still_stops() {
    let signals = Signals::new();
    let (waiter, rx) = Waiter::new(signals.clone());
    drop(rx);
    waiter.watch(ev(11));
    signals.signal(ev(11));
    eventually("the signal is consumed", || !signals.is_set(ev(11)));
    let t = Instant::now();
    waiter.shutdown();
    assert!(t.elapsed() < Duration::from_secs(1));
}

/// The whole loop with the real switch: a pending SAN connect asks for its event to be watched,
/// a provider thread signals it, the waiter delivers it, the switch finishes the connect.
#[test]
fn init_5_a_pending_san_connect_finishes_through_the_waiter() {
    let mut c = MockConfig::generic("san").with_addresses(vec!["10.1.0.1".parse().unwrap()]);
    c.connect_pending = true;
    let mut catalog = MockCatalog::with_tcpip();
    catalog.install_mock(&c);
    let mut loader = MockLoader::new();
    loader.add(c);
    // One host and no peer: the connect path alone, without a session to negotiate.
    let mut switch = Switch::new(SwitchConfig {
        session: SessionConfig::disabled(),
        ..SwitchConfig::default()
    });
    switch.initialize(&catalog, &mut loader, vec!["10.1.0.0/16".parse().unwrap()]);
    let mut tcp = MockTcp::new();

    let signals = Signals::new();
    let (waiter, rx) = Waiter::new(signals.clone());

    let s = switch
        .socket(&mut tcp, AddressFamily::INET, SocketKind::Stream)
        .unwrap();
    let dest: SocketAddr = "10.1.0.9:80".parse().unwrap();
    assert_eq!(
        switch.connect(&mut tcp, s, dest).unwrap(),
        ConnectStatus::Pending
    );
    let mut watched = Vec::new();
    while let Some(e) = switch.poll() {
        assert!(waiter.apply(&e), "only a watch so far: {e:?}");
        if let SwitchEvent::Watch(h) = e {
            watched.push(h);
        }
    }
    let [handle] = watched[..] else {
        panic!("the switch asks to watch one event: {watched:?}");
    };
    assert!(waiter.is_watching(handle));

    // The provider completes the connect on its own thread and sets the event.
    let provider = {
        let signals = signals.clone();
        thread::spawn(move || signals.signal(handle))
    };
    let got = recv(&rx);
    assert_eq!(got, handle);
    assert!(provider.join().unwrap());

    switch.handle_event(&mut tcp, got);
    let mut outcome = None;
    while let Some(e) = switch.poll() {
        if !waiter.apply(&e) {
            outcome = Some(e);
        }
    }
    let Some(SwitchEvent::Connected { socket, result }) = outcome else {
        panic!("expected the connect's outcome, got {outcome:?}");
    };
    assert_eq!(socket, s);
    assert_eq!(result.result, Ok(Via::San(ProviderId(0))));
    assert!(!waiter.is_watching(handle), "the switch released the event");
    assert_eq!(waiter.watched(), 0);
    waiter.shutdown();
}
