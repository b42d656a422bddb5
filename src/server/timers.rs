//! Timers (and other waits) that cost nothing until they are needed.
//!
//! `tokio::select!` polls every branch whenever the task wakes. A tunnel
//! wakes a few times for every message it carries, and its idle timer,
//! polled each time, cost more than a tenth of the work of a small
//! WebSocket message (each poll re-registers the timer's waker). Wrapped
//! in [`Gated`], the timer is polled when it fired (or was re-armed), and
//! a wakeup for another branch costs a flag check. A tunnel's client
//! stream is gated the same way: woken by the backend, the tunnel does
//! not walk the client's read path to learn it has nothing.
//!
//! Setting up a timeout costs about as much (a clock read, the runtime's
//! handle cloned and dropped); [`timeout_unless_ready`] sets none up for
//! a future that is ready at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// What the inner future's waker does: note the wakeup, wake the task.
/// The task's waker stays registered after a wakeup (an `AtomicWaker`
/// would give it away with the first one, and a gated future that fires
/// twice would wake nobody the second time).
#[derive(Default)]
struct Flag {
    fired: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        // (a poisoned lock: a panic elsewhere; the task is woken anyway)
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = task.as_ref() {
            w.wake_by_ref();
        }
    }
}

/// `inner`, polled (with a waker of its own) only on its first poll, after
/// [`Gated::rearm`], and after its waker was woken.
pub struct Gated<F> {
    inner: F,
    flag: Arc<Flag>,
    /// The waker handed to `inner`.
    waker: Waker,
    /// The task's waker last registered with the flag.
    task: Option<Waker>,
    poll_next: bool,
}

impl<F> Gated<F> {
    pub fn new(inner: F) -> Self {
        let flag = Arc::new(Flag::default());
        Gated {
            inner,
            waker: Waker::from(flag.clone()),
            flag,
            task: None,
            poll_next: true,
        }
    }

    /// The inner future, to change it (a timer's deadline): it is polled
    /// again at the next poll.
    pub fn rearm(&mut self) -> &mut F {
        self.poll_next = true;
        &mut self.inner
    }

    /// The inner future or stream, to use it otherwise (to write to a
    /// stream that is also a sink): polls are gated as before.
    pub fn inner_mut(&mut self) -> &mut F {
        &mut self.inner
    }

    pub fn into_inner(self) -> F {
        self.inner
    }

    /// Runs `poll` on the inner value with the gate's own waker, when it
    /// is due: on the first poll, after a result, after [`Gated::rearm`]
    /// and after that waker was woken.
    fn gate<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut F, &mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        // (a task keeps its waker: handed to the flag once; the copy here
        // spares a lock per poll for the comparison)
        if !self.task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            let mut task = self.flag.task.lock().unwrap_or_else(|e| e.into_inner());
            *task = Some(cx.waker().clone());
            self.task = Some(cx.waker().clone());
        }
        let fired = self.flag.fired.swap(false, Ordering::AcqRel);
        if !(fired || self.poll_next) {
            return Poll::Pending;
        }
        self.poll_next = false;
        let r = poll(&mut self.inner, &mut Context::from_waker(&self.waker));
        if r.is_ready() {
            // (polled again if polled again)
            self.poll_next = true;
        }
        r
    }
}

impl<F: Future + Unpin> Future for Gated<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.get_mut()
            .gate(cx, |inner, cx| Pin::new(inner).poll(cx))
    }
}

/// A gated stream: a task that waits on several things at once (a
/// tunnel: its client, its backend, its timers) polls it only when it
/// has, or may have, an item. An item ready, the next poll reaches the
/// stream again (it may hold more already read).
impl<S: futures_util::Stream + Unpin> futures_util::Stream for Gated<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.get_mut()
            .gate(cx, |inner, cx| Pin::new(inner).poll_next(cx))
    }
}

/// `tokio::time::timeout` for a future that is usually ready at once (a
/// write to a socket with room, a flush with nothing held, a read in a
/// busy tunnel): it is polled once before the timer is set up, so that
/// the common case reads no clock and touches no timer. The limit counts
/// from the second poll.
pub async fn timeout_unless_ready<F: Future>(
    limit: Duration,
    fut: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    let mut fut = std::pin::pin!(fut);
    if let Poll::Ready(v) = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await {
        return Ok(v);
    }
    tokio::time::timeout(limit, fut).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A future that counts its polls and is ready once told so.
    struct Probe {
        polls: Arc<AtomicUsize>,
        ready: Arc<AtomicBool>,
        waker: Arc<std::sync::Mutex<Option<Waker>>>,
    }

    impl Future for Probe {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            if self.ready.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            *self.waker.lock().expect("lock") = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    /// A task's waker that notes its wakeups.
    fn task() -> (Arc<Flag>, Waker) {
        let woken = Arc::new(Flag::default());
        let waker = Waker::from(woken.clone());
        (woken, waker)
    }

    /// Wakes the waker the inner future or stream last left.
    fn wake_inner(slot: &std::sync::Mutex<Option<Waker>>) {
        slot.lock()
            .expect("lock")
            .take()
            .expect("inner registered")
            .wake();
    }

    /// Polls of the task for other reasons do not reach the inner future;
    /// its own wakeup does, and wakes the task.
    #[test]
    fn polled_only_after_its_own_wakeup() {
        let polls = Arc::new(AtomicUsize::new(0));
        let ready = Arc::new(AtomicBool::new(false));
        let inner_waker = Arc::new(std::sync::Mutex::new(None::<Waker>));
        let mut g = Gated::new(Probe {
            polls: polls.clone(),
            ready: ready.clone(),
            waker: inner_waker.clone(),
        });
        let (task_woken, task_waker) = task();
        let mut cx = Context::from_waker(&task_waker);
        assert!(Pin::new(&mut g).poll(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 1);
        // woken for something else: the inner future is left alone
        for _ in 0..5 {
            assert!(Pin::new(&mut g).poll(&mut cx).is_pending());
        }
        assert_eq!(polls.load(Ordering::SeqCst), 1);
        // its own wakeup: the task is woken and the next poll reaches it
        ready.store(true, Ordering::SeqCst);
        wake_inner(&inner_waker);
        assert!(task_woken.fired.load(Ordering::SeqCst), "task woken");
        assert!(Pin::new(&mut g).poll(&mut cx).is_ready());
        assert_eq!(polls.load(Ordering::SeqCst), 2);
        // re-armed: polled at once
        ready.store(false, Ordering::SeqCst);
        g.rearm();
        assert!(Pin::new(&mut g).poll(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 3);
        // and its next wakeup wakes the task again (a timer that fires a
        // second time must end a tunnel that went quiet)
        task_woken.fired.store(false, Ordering::SeqCst);
        wake_inner(&inner_waker);
        assert!(task_woken.fired.load(Ordering::SeqCst), "task woken again");
    }

    /// A stream that counts its polls and yields the items it is given.
    struct Items {
        polls: Arc<AtomicUsize>,
        items: Arc<std::sync::Mutex<Vec<u32>>>,
        waker: Arc<std::sync::Mutex<Option<Waker>>>,
    }

    impl futures_util::Stream for Items {
        type Item = u32;
        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u32>> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            match self.items.lock().expect("lock").pop() {
                Some(i) => Poll::Ready(Some(i)),
                None => {
                    *self.waker.lock().expect("lock") = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }
    }

    /// A gated stream gives every item it holds, one per poll, and is
    /// left alone while it waits, until its own wakeup.
    #[test]
    fn gated_stream_is_polled_while_it_has_items_and_after_its_wakeup() {
        use futures_util::Stream;
        let polls = Arc::new(AtomicUsize::new(0));
        let items = Arc::new(std::sync::Mutex::new(vec![2, 1]));
        let inner_waker = Arc::new(std::sync::Mutex::new(None::<Waker>));
        let mut g = Gated::new(Items {
            polls: polls.clone(),
            items: items.clone(),
            waker: inner_waker.clone(),
        });
        let (task_woken, task_waker) = task();
        let mut cx = Context::from_waker(&task_waker);
        // what it holds comes out without any wakeup
        assert_eq!(Pin::new(&mut g).poll_next(&mut cx), Poll::Ready(Some(1)));
        assert_eq!(Pin::new(&mut g).poll_next(&mut cx), Poll::Ready(Some(2)));
        assert!(Pin::new(&mut g).poll_next(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 3);
        // woken for something else (and written to): left alone
        for _ in 0..5 {
            let _ = g.inner_mut();
            assert!(Pin::new(&mut g).poll_next(&mut cx).is_pending());
        }
        assert_eq!(polls.load(Ordering::SeqCst), 3);
        // its own wakeup: polled again
        items.lock().expect("lock").push(3);
        wake_inner(&inner_waker);
        assert!(task_woken.fired.load(Ordering::SeqCst), "task woken");
        assert_eq!(Pin::new(&mut g).poll_next(&mut cx), Poll::Ready(Some(3)));
        assert_eq!(polls.load(Ordering::SeqCst), 4);
        assert_eq!(g.into_inner().polls.load(Ordering::SeqCst), 4);
    }

    /// A gated timer still fires, and after a reset fires at the new time.
    #[tokio::test(start_paused = true)]
    async fn gated_timer_fires_and_rearms() {
        let start = tokio::time::Instant::now();
        let sleep = tokio::time::sleep(Duration::from_secs(5));
        tokio::pin!(sleep);
        let mut g = Gated::new(sleep.as_mut());
        (&mut g).await;
        assert_eq!(start.elapsed().as_secs(), 5);
        g.rearm().as_mut().reset(start + Duration::from_secs(8));
        (&mut g).await;
        assert_eq!(start.elapsed().as_secs(), 8);
    }

    /// A future ready at once is taken as it is; one that is not gets the
    /// limit, counted from when it was first found waiting.
    #[tokio::test(start_paused = true)]
    async fn timeout_unless_ready_limits_only_waiting_futures() {
        let start = tokio::time::Instant::now();
        assert_eq!(
            timeout_unless_ready(Duration::from_secs(3), async { 7 }).await,
            Ok(7)
        );
        assert_eq!(start.elapsed(), Duration::ZERO);
        let late = timeout_unless_ready(
            Duration::from_secs(3),
            tokio::time::sleep(Duration::from_secs(2)),
        )
        .await;
        assert!(late.is_ok());
        assert_eq!(start.elapsed().as_secs(), 2);
        let never =
            timeout_unless_ready(Duration::from_secs(3), std::future::pending::<()>()).await;
        assert!(never.is_err());
        assert_eq!(start.elapsed().as_secs(), 5);
    }
}
