//! Timers that cost nothing until they are needed.
//!
//! `tokio::select!` polls every branch whenever the task wakes. A tunnel
//! wakes a few times for every message it carries, and its idle timer,
//! polled each time, cost more than a tenth of the work of a small
//! WebSocket message (each poll re-registers the timer's waker). Wrapped
//! in [`Gated`], the timer is polled when it fired (or was re-armed), and
//! a wakeup for another branch costs a flag check.
//!
//! Setting up a timeout costs about as much (a clock read, the runtime's
//! handle cloned and dropped); [`timeout_unless_ready`] sets none up for
//! a future that is ready at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures_util::task::AtomicWaker;

/// What the inner future's waker does: note the wakeup, wake the task.
#[derive(Default)]
struct Flag {
    fired: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        self.task.wake();
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

impl<F: Future + Unpin> Gated<F> {
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
}

impl<F: Future + Unpin> Future for Gated<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // (a task keeps its waker: registered once)
        if !this.task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            this.flag.task.register(cx.waker());
            this.task = Some(cx.waker().clone());
        }
        let fired = this.flag.fired.swap(false, Ordering::AcqRel);
        if !(fired || this.poll_next) {
            return Poll::Pending;
        }
        this.poll_next = false;
        let r = Pin::new(&mut this.inner).poll(&mut Context::from_waker(&this.waker));
        if r.is_ready() {
            // (polled again if polled again)
            this.poll_next = true;
        }
        r
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
        let task_woken = Arc::new(Flag::default());
        let task_waker = Waker::from(task_woken.clone());
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
        let w = inner_waker
            .lock()
            .expect("lock")
            .take()
            .expect("inner registered");
        w.wake();
        assert!(task_woken.fired.load(Ordering::SeqCst), "task woken");
        assert!(Pin::new(&mut g).poll(&mut cx).is_ready());
        assert_eq!(polls.load(Ordering::SeqCst), 2);
        // re-armed: polled at once
        ready.store(false, Ordering::SeqCst);
        g.rearm();
        assert!(Pin::new(&mut g).poll(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 3);
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
