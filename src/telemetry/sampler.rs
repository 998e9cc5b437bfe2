//! Background sampling: a thread that calls a reading function at a fixed interval and keeps every result with
//! its timestamp on the caller's clock. Sensors use it for power traces; the measured thread never waits on it.

use super::{Sample, SensorError};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A value read at `t_ns` nanoseconds after the origin (the middle of the reading).
#[derive(Debug, Clone, PartialEq)]
pub struct Timed<T> {
    pub t_ns: u64,
    pub value: T,
}

/// Reads `f` on a background thread every `interval` (first reading one interval after `start`) until `stop`.
/// Readings are scheduled on a fixed grid, so a slow reading does not shift the later ones.
pub struct Sampler<T> {
    stop_tx: Option<mpsc::Sender<()>>,
    handle: Option<JoinHandle<Vec<Timed<T>>>>,
}

impl<T: Send + 'static> Sampler<T> {
    pub fn start<F>(origin: Instant, interval: Duration, mut f: F) -> Self
    where
        F: FnMut() -> T + Send + 'static,
    {
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let interval = interval.max(Duration::from_millis(1));
        let handle = std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut next = Instant::now() + interval;
            loop {
                match stop_rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
                    Err(RecvTimeoutError::Timeout) => out.push(timed(origin, &mut f)),
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return out,
                }
                next += interval;
            }
        });
        Sampler {
            stop_tx: Some(stop_tx),
            handle: Some(handle),
        }
    }

    /// Stops the thread (without waiting out the current interval) and returns the readings in time order.
    pub fn stop(mut self) -> Vec<Timed<T>> {
        drop(self.stop_tx.take());
        let handle = self.handle.take();
        handle.and_then(|h| h.join().ok()).unwrap_or_default()
    }
}

impl<T> Drop for Sampler<T> {
    fn drop(&mut self) {
        drop(self.stop_tx.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Calls `f` and stamps the result with the middle of the call.
pub(crate) fn timed<T>(origin: Instant, f: &mut impl FnMut() -> T) -> Timed<T> {
    let a = origin.elapsed().as_nanos() as u64;
    let value = f();
    let b = origin.elapsed().as_nanos() as u64;
    Timed {
        t_ns: a + (b - a) / 2,
        value,
    }
}

/// Reads one device into a `Sample` (its `t_ns` is set by the caller).
pub(crate) trait Reader: Send + 'static {
    fn read(&mut self) -> Sample;
}

/// The window machinery shared by the real sensors: a reading at start, background readings, a reading at stop.
pub(crate) struct Sampled<R> {
    pub device: String,
    reader: Arc<Mutex<R>>,
    interval: Duration,
    running: Option<(Instant, Sample, Sampler<Sample>)>,
}

impl<R: Reader> Sampled<R> {
    pub fn new(device: String, reader: R, interval: Duration) -> Self {
        Sampled {
            device,
            reader: Arc::new(Mutex::new(reader)),
            interval,
            running: None,
        }
    }

    pub fn interval_ns(&self) -> u64 {
        self.interval.as_nanos() as u64
    }

    /// Runs `f` on the reader, under the lock its readings take.
    pub fn with_reader<T>(&self, f: impl FnOnce(&mut R) -> T) -> T {
        f(&mut self.reader.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// One reading now, on the calling thread.
    pub fn read_now(&self, origin: Instant) -> Sample {
        let reader = &self.reader;
        let t = timed(origin, &mut || {
            reader.lock().unwrap_or_else(|e| e.into_inner()).read()
        });
        Sample {
            t_ns: t.t_ns,
            ..t.value
        }
    }

    pub fn start(&mut self, origin: Instant) -> Result<(), SensorError> {
        if self.running.is_some() {
            return Err(SensorError::AlreadyStarted {
                device: self.device.clone(),
            });
        }
        let first = self.read_now(origin);
        let reader = Arc::clone(&self.reader);
        let sampler = Sampler::start(origin, self.interval, move || {
            reader.lock().unwrap_or_else(|e| e.into_inner()).read()
        });
        self.running = Some((origin, first, sampler));
        Ok(())
    }

    /// Every reading of the window, in time order, from the start reading to the stop reading.
    pub fn stop(&mut self) -> Result<Vec<Sample>, SensorError> {
        let (origin, first, sampler) =
            self.running.take().ok_or_else(|| SensorError::NotStarted {
                device: self.device.clone(),
            })?;
        let middle = sampler.stop();
        let mut samples = Vec::with_capacity(middle.len() + 2);
        samples.push(first);
        samples.extend(middle.into_iter().map(|t| Sample {
            t_ns: t.t_ns,
            ..t.value
        }));
        samples.push(self.read_now(origin));
        Ok(samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_in_order_on_the_callers_clock() {
        let origin = Instant::now();
        let mut n = 0u32;
        let sampler = Sampler::start(origin, Duration::from_millis(2), move || {
            n += 1;
            n
        });
        std::thread::sleep(Duration::from_millis(30));
        let before_stop_ns = origin.elapsed().as_nanos() as u64;
        let readings = sampler.stop();
        assert!(readings.len() >= 2, "{readings:?}");
        let values: Vec<u32> = readings.iter().map(|r| r.value).collect();
        assert_eq!(values, (1..=readings.len() as u32).collect::<Vec<_>>());
        assert!(readings.windows(2).all(|w| w[0].t_ns < w[1].t_ns));
        assert!(
            readings[0].t_ns >= 2_000_000 && readings[readings.len() - 2].t_ns <= before_stop_ns
        );
    }

    #[test]
    fn stop_does_not_wait_out_the_interval() {
        let sampler = Sampler::start(Instant::now(), Duration::from_secs(3600), || 1u8);
        assert!(sampler.stop().is_empty());
    }
}
