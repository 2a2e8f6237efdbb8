//! One interrupt (Ctrl-C) that several steps of a flow wait on in turn.

use std::convert::Infallible;
use std::future::Future;

use tokio::sync::watch;

/// A cloneable view of one interrupt.
#[derive(Debug, Clone)]
pub struct Interrupt(watch::Receiver<bool>);

impl Interrupt {
    /// Shares `interrupt`: the first future (to be polled beside the steps
    /// for as long as they run; it never completes) fires every
    /// [`Interrupt::fired`] when `interrupt` completes.
    pub fn share(interrupt: impl Future<Output = ()>) -> (impl Future<Output = Infallible>, Self) {
        let (fire, fired) = watch::channel(false);
        let driver = async move {
            interrupt.await;
            let _ = fire.send(true);
            std::future::pending::<Infallible>().await
        };
        (driver, Self(fired))
    }

    /// Completes once the interrupt came.
    pub fn fired(&self) -> impl Future<Output = ()> + 'static {
        let mut fired = self.0.clone();
        async move {
            if fired.wait_for(|fired| *fired).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
