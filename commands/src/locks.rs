//! Striped per-aggregate locks: commands on one aggregate in this process take turns.

use std::hash::{Hash, Hasher};

use tokio::sync::{Mutex, MutexGuard};
use uuid::Uuid;

pub struct StripedLocks {
    stripes: Vec<Mutex<()>>,
}

impl StripedLocks {
    pub fn new(n: usize) -> Self {
        Self {
            stripes: (0..n.max(1)).map(|_| Mutex::new(())).collect(),
        }
    }

    pub async fn lock(&self, key: Uuid) -> MutexGuard<'_, ()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        let i = (h.finish() % self.stripes.len() as u64) as usize;
        self.stripes[i].lock().await
    }
}
